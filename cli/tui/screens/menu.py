"""The main menu: the tasks an operator comes to deployd-cli for."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.layout import AnyContainer, HSplit, Window
from prompt_toolkit.layout.layout import FocusableElement

from ..app import Screen, Tui
from ..widgets import ChoiceList, Hint, Option

Task = Callable[[Tui], None]


def _generate(tui: Tui) -> None:
    from .generate import start_generate

    start_generate(tui)


def _registry(tui: Tui) -> None:
    from .registry import RegistryScreen

    tui.push(RegistryScreen(tui))


def _revoke(tui: Tui) -> None:
    from .revoke import start_revoke

    start_revoke(tui)


def _list(tui: Tui) -> None:
    from .tokens_list import start_list

    start_list(tui)


def _exit(tui: Tui) -> None:
    tui.quit()


MENU: list[Option[Task]] = [
    Option(
        _generate,
        "Generate a deploy token",
        "Choose containers and an action; CI sends the token to deploy them.",
    ),
    Option(
        _registry,
        "Add registry login",
        "Let deployd pull images from a private registry.",
    ),
    Option(_revoke, "Revoke a deploy token", "Stop a token from working, at once."),
    Option(_list, "List tokens", "The tokens issued here and what they allow."),
    Option(_exit, "Exit", ""),
]


class MenuScreen(Screen):
    """The first screen; every other screen leads back here."""

    title = "What do you want to do?"

    def __init__(self, tui: Tui) -> None:
        super().__init__(tui)
        self.choices = ChoiceList(MENU, self._run, numbered=True)

    def build(self) -> AnyContainer:
        return HSplit([self.choices.window, Window()])

    def focus(self) -> FocusableElement:
        return self.choices.window

    def hints(self) -> list[Hint]:
        return [("up/down", "move"), ("enter", "choose"), ("1-5", "choose")]

    def _run(self, task: Task) -> None:
        task(self.tui)
