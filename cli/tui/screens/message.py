"""A screen that says one thing (a result or an error) and waits for a key."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import AnyContainer, FormattedTextControl, HSplit, Window
from prompt_toolkit.layout.layout import FocusableElement

from ..app import Screen, Tui
from ..widgets import ChoiceList, Hint, Option, error_text, paragraph, prose

Action = tuple[str, str, Callable[[], None]]


class MessageScreen(Screen):
    """Lines of text under a title; enter or esc leaves, extra keys do more.

    ``home`` makes leaving go to the main menu rather than one screen back,
    for results after which going back would repeat the step.
    """

    def __init__(
        self,
        tui: Tui,
        title: str,
        lines: Sequence[str],
        *,
        error: bool = False,
        home: bool = False,
        actions: Sequence[Action] = (),
    ) -> None:
        super().__init__(tui)
        self.title = title
        self.lines = list(lines)
        self.error = error
        self.home = home
        self.actions = list(actions)
        self.control = FormattedTextControl(self._fragments, focusable=True)
        self.bindings = self._bindings()

    def build(self) -> AnyContainer:
        return Window(self.control, always_hide_cursor=True)

    def focus(self) -> FocusableElement:
        return self.control

    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        kb.add("enter")(lambda _: self.escape())
        for key, _, run in self.actions:
            kb.add(key)(self._runner(run))

        return kb

    def hints(self) -> list[Hint]:
        leave = "main menu" if self.home else "back"
        actions = [(key, label) for key, label, _ in self.actions]

        return [*actions, ("enter", leave)]

    def escape(self) -> None:
        if self.home:
            self.tui.home()
        else:
            self.tui.back()

    @staticmethod
    def _runner(run: Callable[[], None]) -> Callable[[KeyPressEvent], None]:
        return lambda _: run()

    def _fragments(self) -> StyleAndTextTuples:
        return error_text(self.lines) if self.error else prose(self.lines)


class ConfirmScreen(Screen):
    """A yes/no question whose safe answer, No, is the default."""

    def __init__(
        self,
        tui: Tui,
        title: str,
        lines: Sequence[str],
        *,
        yes: str,
        on_yes: Callable[[], None],
    ) -> None:
        super().__init__(tui)
        self.title = title
        self.lines = list(lines)
        self.on_yes = on_yes
        self.choices = ChoiceList(
            [Option(False, "No", "Leave things as they are."), Option(True, yes)],
            self._pick,
        )
        self.bindings = KeyBindings()
        self.bindings.add("y")(lambda _: self._pick(True))
        self.bindings.add("n")(lambda _: self._pick(False))

    def build(self) -> AnyContainer:
        return HSplit([paragraph(*self.lines, ""), self.choices.window])

    def focus(self) -> FocusableElement:
        return self.choices.window

    def hints(self) -> list[Hint]:
        return [("y/n", "answer"), ("enter", "choose"), ("esc", "back")]

    def _pick(self, yes: bool) -> None:
        self.tui.back()
        if yes:
            self.on_yes()
