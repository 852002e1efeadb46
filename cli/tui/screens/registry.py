"""Adding a registry login: a form, a check against the engine, then the save.

The login is saved only after the engine (through the registry) accepted it,
and an existing login for the same host is replaced only after the user says
so. The password is masked on screen and never shown or logged.
"""

from __future__ import annotations

from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import (
    AnyContainer,
    ConditionalContainer,
    FormattedTextControl,
    HSplit,
    Window,
)
from prompt_toolkit.layout.layout import FocusableElement

from deployd.errors import DeploydError, EngineError, EngineUnreachable
from deployd.registries import DOCKER_HUB, check_and_add, normalise_host

from ..app import Screen, Tui
from ..diagnosis import engine_failure
from ..widgets import ChoiceList, Field, Hint, Option, error_text, paragraph, prose
from .message import ConfirmScreen, MessageScreen

LABEL_WIDTH = 11


class RegistryScreen(Screen):
    """The registry login form."""

    title = "Add registry login"

    def __init__(self, tui: Tui) -> None:
        super().__init__(tui)
        self.registry = ChoiceList(
            [
                Option(False, "Docker Hub", "docker.io"),
                Option(True, "Another registry", "such as ghcr.io or registry:5000"),
            ],
            self._picked_registry,
        )
        self.host = Field("Host:", validate=_host_error, label_width=LABEL_WIDTH)
        self.user = Field("User name:", validate=_user_error, label_width=LABEL_WIDTH)
        self.password = Field(
            "Password:",
            validate=_password_error,
            password=True,
            label_width=LABEL_WIDTH,
        )
        self.busy = False
        self.status: list[str] = []
        self.failed = False
        self.bindings = self._bindings()

    @property
    def other(self) -> bool:
        """Return whether the login is for a registry other than Docker Hub."""
        return self.registry.value

    def build(self) -> AnyContainer:
        return HSplit(
            [
                paragraph("Registry:"),
                self.registry.window,
                Window(height=1),
                ConditionalContainer(
                    self.host.container, filter=Condition(lambda: self.other)
                ),
                self.user.container,
                self.password.container,
                Window(height=1),
                Window(FormattedTextControl(self._status), dont_extend_height=True),
            ]
        )

    def focus(self) -> FocusableElement:
        return self.registry.window

    def hints(self) -> list[Hint]:
        return [
            ("tab", "next field"),
            ("enter", "next / check and save"),
            ("esc", "back"),
        ]

    def target_host(self) -> str:
        """Return the registry host the form names, normalised."""
        return normalise_host(self.host.text) if self.other else DOCKER_HUB

    def submit(self) -> None:
        """Check the form, ask before replacing a login, then have the engine try it."""
        fields = [self.user, self.password]
        if self.other:
            fields.insert(0, self.host)
        wrong = [field for field in fields if not field.check()]
        if wrong:
            self.tui.application.layout.focus(wrong[0].area)
            return
        host = self.target_host()
        try:
            existing = self.tui.session.registries().get(host)
        except DeploydError as exc:
            self._show_failure([exc.message])
            return
        if existing is None:
            self.tui.start(self.check_and_save)
            return
        self.tui.push(
            ConfirmScreen(
                self.tui,
                "Replace the registry login?",
                [f"There is a login for {host} already, as user {existing[0]}."],
                yes=f"Yes, replace it with user {self.user.text}",
                on_yes=lambda: self.tui.start(self.check_and_save),
            )
        )

    async def check_and_save(self) -> None:
        """Have the engine log in to the registry; save the login if it worked."""
        host, user = self.target_host(), self.user.text
        address = self.tui.session.engine_address
        self.busy, self.failed = True, False
        self.status = [f"Checking the login for {host} with the engine ..."]
        self.tui.refresh()
        docker = self.tui.session.docker()
        try:
            async with docker:
                replaced = await check_and_add(
                    self.tui.session.registries(),
                    docker,
                    host,
                    user,
                    self.password.area.text,
                )
        except EngineUnreachable as exc:
            self._show_failure(engine_failure(address, docker.socket_path, exc))
            return
        except EngineError as exc:
            self._show_failure(
                [f"The registry refused the login: {exc.message}", "Nothing was saved."]
            )
            return
        except DeploydError as exc:
            self._show_failure([exc.message])
            return
        finally:
            self.busy = False
        self._saved(host, user, replaced)

    def _saved(self, host: str, user: str, replaced: bool) -> None:
        verb = "Replaced" if replaced else "Saved"
        self.tui.replace(
            MessageScreen(
                self.tui,
                "Registry login saved",
                [
                    f"{verb} the login for {host} as user {user}.",
                    f"deployd uses it when a deploy pulls an image from {host}.",
                ],
                home=True,
            )
        )

    def _show_failure(self, lines: list[str]) -> None:
        self.failed = True
        self.status = lines
        self.tui.refresh()

    def _picked_registry(self, other: bool) -> None:
        target = self.host if other else self.user
        self.tui.application.layout.focus(target.area)

    def _status(self) -> StyleAndTextTuples:
        return error_text(self.status) if self.failed else prose(self.status)

    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        idle = Condition(lambda: not self.busy)

        @kb.add("enter", filter=idle)
        def _enter(event: KeyPressEvent) -> None:
            layout = self.tui.application.layout
            if layout.has_focus(self.registry.window):
                self.registry.pick()
            elif layout.has_focus(self.password.area):
                self.submit()
            else:
                layout.focus_next()

        return kb


def _host_error(text: str) -> str | None:
    host = text.strip()
    if not host:
        return "Type the registry's host, such as ghcr.io or 127.0.0.1:5000."
    if any(ch.isspace() for ch in host):
        return "A registry host has no spaces in it."

    return None


def _user_error(text: str) -> str | None:
    if not text.strip():
        return "Type the user name for the registry."
    if ":" in text:
        return "A user name cannot contain a colon."

    return None


def _password_error(text: str) -> str | None:
    return None if text else "Type the password (or an access token)."
