"""The deploy token wizard: containers, lifetime, action, cleanup, summary, token.

Each step is a screen on the stack, so esc steps back with the answers kept.
The steps share one ``TokenRequest``; only the last one writes anything (the
token's record, through ``Tokens.mint``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import (
    AnyContainer,
    DynamicContainer,
    FormattedTextControl,
    HSplit,
    Window,
)
from prompt_toolkit.layout.layout import FocusableElement

from deployd.docker import ContainerSummary, Docker, is_image_id, own_container_id
from deployd.errors import DeploydError, EngineError, EngineUnreachable, NotFound
from deployd.tokens import (
    Action,
    IssuedToken,
    Tokens,
    format_duration,
    parse_duration,
)

from ..app import Screen, Tui, indented
from ..clipboard import copy_to_clipboard
from ..diagnosis import engine_failure
from ..widgets import (
    Checklist,
    ChoiceList,
    Field,
    Hint,
    Option,
    Row,
    error_text,
    paragraph,
    prose,
    text_width,
)

ACTION_DETAILS = {
    Action.PULL_AND_RECREATE: "Pull the image again, then replace the container with "
    "a new one from it.",
    Action.RECREATE: "Replace the container with a new one from the image already "
    "on this host.",
    Action.RESTART: "Restart the container as it is.",
}


@dataclass
class TokenRequest:
    """The answers given so far in the wizard."""

    containers: list[str] = field(default_factory=list)
    expires_in: timedelta | None = None
    action: Action = Action.PULL_AND_RECREATE
    # On by default, as in `deployd-cli token create`; only pulls use it.
    cleanup: bool = True


def start_generate(tui: Tui) -> None:
    """Open the wizard, or say why DATA_DIR cannot hold a token's record."""
    try:
        tokens = tui.session.tokens()
    except DeploydError as exc:
        tui.show_error("Cannot generate a deploy token", data_dir_trouble(tui, exc))
        return
    tui.push(ContainersScreen(tui, tokens, TokenRequest()))


def data_dir_trouble(tui: Tui, exc: DeploydError) -> list[str]:
    """Return the lines that explain a DATA_DIR deployd cannot use."""
    return [
        exc.message,
        "",
        f"DATA_DIR is {tui.session.data_dir}. It must be a directory this user may",
        "read and write; set DATA_DIR to use another one.",
    ]


def describe_expiry(expires_in: timedelta | None, now: datetime | None = None) -> str:
    """Return how long a token lives, in words and as a local time."""
    if expires_in is None:
        return "never (valid until revoked)"
    moment = (now or datetime.now().astimezone()) + expires_in

    return f"after {format_duration(expires_in)}, at {describe_moment(moment)}"


def describe_moment(moment: datetime) -> str:
    """Return ``moment`` in the local time zone, to the minute."""
    return f"{moment.astimezone():%Y-%m-%d %H:%M %Z}"


# The cursor and tick box before the columns, and the gaps between them.
CHECKLIST_CHROME = 6 + 2 * 2
STATE_WIDTH = 10
IMAGE_WIDTH_MIN = 16


def column_widths(rows: Sequence[Row]) -> tuple[int, int, int]:
    """Return the name, image and state widths: names whole where they fit."""
    room = text_width() - CHECKLIST_CHROME - STATE_WIDTH
    longest = max((len(row.columns[0]) for row in rows), default=4)
    name = min(max(longest, 4), room - IMAGE_WIDTH_MIN)

    return name, room - name, STATE_WIDTH


async def with_image_names(
    docker: Docker, summaries: list[ContainerSummary]
) -> list[ContainerSummary]:
    """Return ``summaries`` with the image each container was created from.

    The container list gives an image id instead once the tag the container
    was made from has moved on; only those containers are inspected, at once.
    A container removed in the meantime keeps the id. Raises EngineError when
    the engine fails otherwise.
    """
    moved = [s for s in summaries if is_image_id(s.image)]
    found = await asyncio.gather(*(_created_from(docker, s.id) for s in moved))
    names = {s.id: name for s, name in zip(moved, found, strict=True) if name}

    return [replace(s, image=names[s.id]) if s.id in names else s for s in summaries]


async def _created_from(docker: Docker, container_id: str) -> str | None:
    try:
        return (await docker.containers.inspect(container_id)).image_ref
    except NotFound:
        return None


class ContainersScreen(Screen):
    """Step 1: connect to the engine and pick the containers the token deploys."""

    title = "Generate a deploy token: containers"

    def __init__(self, tui: Tui, tokens: Tokens, request: TokenRequest) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.request = request
        self.status: list[str] = []
        self.failed = False
        self.loading = False
        self.error: str | None = None
        self.checklist = Checklist(("NAME", "IMAGE", "STATE"), column_widths, rows=[])
        self.status_control = FormattedTextControl(self._status, focusable=True)
        self.bindings = self._bindings()
        self.tui.start(self.load)

    def build(self) -> AnyContainer:
        return HSplit(
            [
                Window(self.status_control, dont_extend_height=True),
                DynamicContainer(self._list),
                Window(FormattedTextControl(self._error), dont_extend_height=True),
            ]
        )

    def focus(self) -> FocusableElement:
        return self.checklist.filter if self._has_rows() else self.status_control

    def hints(self) -> list[Hint]:
        if not self._has_rows():
            return [("ctrl-r", "reload"), ("esc", "back")]

        return [
            ("up/down", "move"),
            ("space", "tick"),
            ("type", "filter"),
            ("enter", "next"),
            ("esc", "back"),
        ]

    async def load(self) -> None:
        """List the engine's containers, leaving out the one deployd runs in."""
        self.loading, self.failed = True, False
        address = self.tui.session.engine_address
        self.status = [f"Connecting to the Docker engine at {address} ..."]
        self.tui.refresh()
        docker = self.tui.session.docker()
        try:
            async with docker:
                summaries = await docker.containers.list(all=True)
                summaries = await with_image_names(docker, summaries)
        except EngineError as exc:
            self._fail(address, docker.socket_path, exc)
            return
        finally:
            self.loading = False
        self.tui.session.engine_state = "connected"
        self._loaded(docker.socket_path or address, summaries)

    def _fail(self, address: str, socket_path: str | None, exc: EngineError) -> None:
        self.failed = True
        self.tui.session.engine_state = (
            "not reachable" if isinstance(exc, EngineUnreachable) else "error"
        )
        self.status = engine_failure(address, socket_path, exc)
        self.status += ["", "Press ctrl-r to try again once it is fixed."]
        self.checklist.set_rows([])
        self._refocus()

    def _loaded(self, where: str, summaries: list[ContainerSummary]) -> None:
        own = own_container_id()
        offered = [s for s in summaries if not (own and s.id.startswith(own))]
        rows = [
            Row(s.name, (s.name, s.image, s.state))
            for s in sorted(offered, key=lambda s: s.name)
        ]
        self.checklist.set_rows(rows)
        kind = "Docker socket" if where.startswith("/") else "Docker engine at"
        found = f"Found {_count(len(rows), 'container')}"
        if len(rows) < len(summaries):
            found += " (deployd's own container is not offered)"
        self.status = [f"Connected to {kind} {where}", found]
        if rows:
            self.status.append(
                "Select the containers this token may deploy: space ticks one, "
                "ctrl-a all shown, typing filters, enter continues."
            )
        else:
            self.status += [
                "",
                "There is no container to deploy yet. Start the container the "
                "token is for (docker run or compose), then press ctrl-r.",
            ]
        self._refocus()

    def _refocus(self) -> None:
        if self.tui.stack and self.tui.screen is self:
            self.tui.application.layout.focus(self.focus())
        self.tui.refresh()

    def _has_rows(self) -> bool:
        return not self.loading and not self.failed and bool(self.checklist.rows)

    def _list(self) -> AnyContainer:
        if not self._has_rows():
            return Window(height=0)

        return HSplit([Window(height=1), self.checklist.container])

    def _status(self) -> StyleAndTextTuples:
        return error_text(self.status) if self.failed else prose(self.status)

    def _error(self) -> StyleAndTextTuples:
        return error_text([self.error]) if self.error else []

    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        ready = Condition(self._has_rows)

        @kb.add("up", filter=ready)
        def _up(_: KeyPressEvent) -> None:
            self.checklist.move(-1)

        @kb.add("down", filter=ready)
        def _down(_: KeyPressEvent) -> None:
            self.checklist.move(1)

        @kb.add("space", filter=ready)
        def _toggle(_: KeyPressEvent) -> None:
            self.checklist.toggle()
            self.error = None

        @kb.add("c-a", filter=ready)
        def _toggle_all(_: KeyPressEvent) -> None:
            self.checklist.toggle_all()
            self.error = None

        @kb.add("enter", filter=ready)
        def _continue(_: KeyPressEvent) -> None:
            self.proceed()

        @kb.add("c-r", filter=Condition(lambda: not self.loading))
        def _reload(_: KeyPressEvent) -> None:
            self.tui.start(self.load)

        return kb

    def proceed(self) -> None:
        """Go on to the lifetime step, once at least one container is ticked."""
        if not self.checklist.ticked:
            self.error = "Select at least one container (space ticks the one at >)."
            return
        self.error = None
        self.request.containers = list(self.checklist.ticked)
        self.tui.push(ExpiryScreen(self.tui, self.tokens, self.request))


class ExpiryScreen(Screen):
    """Step 2: does the token expire?"""

    title = "Generate a deploy token: expiry"

    def __init__(self, tui: Tui, tokens: Tokens, request: TokenRequest) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.request = request
        self.choices = ChoiceList(
            [
                Option(False, "No", "The token works until you revoke it."),
                Option(
                    True, "Yes", "The token stops working after a lifetime you set."
                ),
            ],
            self._pick,
            current=request.expires_in is not None,
        )

    def build(self) -> AnyContainer:
        question = paragraph("Should the deploy token expire?", "")

        return HSplit([question, self.choices.window])

    def focus(self) -> FocusableElement:
        return self.choices.window

    def hints(self) -> list[Hint]:
        return [("up/down", "move"), ("enter", "choose"), ("esc", "back")]

    def _pick(self, expires: bool) -> None:
        if expires:
            self.tui.push(LifetimeScreen(self.tui, self.tokens, self.request))
        else:
            self.request.expires_in = None
            self.tui.push(ActionScreen(self.tui, self.tokens, self.request))


class LifetimeScreen(Screen):
    """Step 2b: how long the token lives, checked as it is typed."""

    title = "Generate a deploy token: lifetime"

    def __init__(self, tui: Tui, tokens: Tokens, request: TokenRequest) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.request = request
        self.field = Field("Lifetime:", validate=_duration_error)
        self.bindings = KeyBindings()
        self.bindings.add("enter")(lambda _: self.proceed())

    def build(self) -> AnyContainer:
        return HSplit(
            [
                paragraph(
                    "How long should the token work? A number and a unit "
                    "(s, m, h, d, w or y), such as 30m, 24h, 4w or 1y; "
                    "1d12h combines them.",
                    "",
                ),
                self.field.container,
                Window(FormattedTextControl(self._preview), height=1),
            ]
        )

    def focus(self) -> FocusableElement:
        return self.field.area

    def hints(self) -> list[Hint]:
        return [("enter", "continue"), ("esc", "back")]

    def proceed(self) -> None:
        """Go on to the action step when the lifetime reads as a duration."""
        if not self.field.check():
            return
        self.request.expires_in = parse_duration(self.field.text)
        self.tui.push(ActionScreen(self.tui, self.tokens, self.request))

    def _preview(self) -> StyleAndTextTuples:
        if not self.field.text or self.field.error:
            return []

        lifetime = parse_duration(self.field.text)

        return [("class:detail", f"Expires {describe_expiry(lifetime)}")]


def _duration_error(text: str) -> str | None:
    if not text.strip():
        return "Type a lifetime such as 24h, or press esc to choose no expiry."
    try:
        parse_duration(text)
    except ValueError as exc:
        return str(exc)

    return None


class ActionScreen(Screen):
    """Step 3: what a deploy does to the containers."""

    title = "Generate a deploy token: action"

    def __init__(self, tui: Tui, tokens: Tokens, request: TokenRequest) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.request = request
        self.choices = ChoiceList(
            [Option(action, action.label, ACTION_DETAILS[action]) for action in Action],
            self._pick,
            current=request.action,
        )

    def build(self) -> AnyContainer:
        question = paragraph("What should a deploy do to the containers?", "")

        return HSplit([question, self.choices.window])

    def focus(self) -> FocusableElement:
        return self.choices.window

    def hints(self) -> list[Hint]:
        return [("up/down", "move"), ("enter", "choose"), ("esc", "back")]

    def _pick(self, action: Action) -> None:
        self.request.action = action
        if action is Action.PULL_AND_RECREATE:
            self.tui.push(CleanupScreen(self.tui, self.tokens, self.request))
        else:
            # The answer stays for a pull chosen after esc; mint drops it here.
            self.tui.push(SummaryScreen(self.tui, self.tokens, self.request))


class CleanupScreen(Screen):
    """Step 4, for pulls only: remove the image the containers ran before?"""

    title = "Generate a deploy token: cleanup"

    def __init__(self, tui: Tui, tokens: Tokens, request: TokenRequest) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.request = request
        self.choices = ChoiceList(
            [
                Option(
                    True,
                    "Yes (default)",
                    "Remove the old image after a successful deploy, when no "
                    "other container uses it.",
                ),
                Option(False, "No", "Keep the old image on this host."),
            ],
            self._pick,
            current=request.cleanup,
        )

    def build(self) -> AnyContainer:
        question = paragraph(
            "Remove the old image after pulling the new one? The default is yes, "
            "as with deployd-cli token create.",
            "",
        )

        return HSplit([question, self.choices.window])

    def focus(self) -> FocusableElement:
        return self.choices.window

    def hints(self) -> list[Hint]:
        return [("up/down", "move"), ("enter", "choose"), ("esc", "back")]

    def _pick(self, cleanup: bool) -> None:
        self.request.cleanup = cleanup
        self.tui.push(SummaryScreen(self.tui, self.tokens, self.request))


class SummaryScreen(Screen):
    """Step 5: everything the token will say, before it is signed."""

    title = "Generate a deploy token: confirm"

    def __init__(self, tui: Tui, tokens: Tokens, request: TokenRequest) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.request = request
        self.control = FormattedTextControl(self._fragments, focusable=True)
        self.bindings = KeyBindings()
        self.bindings.add("enter")(lambda _: self.generate())
        self.bindings.add("y")(lambda _: self.generate())

    def build(self) -> AnyContainer:
        return Window(self.control, always_hide_cursor=True)

    def focus(self) -> FocusableElement:
        return self.control

    def hints(self) -> list[Hint]:
        return [("enter", "generate the token"), ("esc", "back to change")]

    def lines(self) -> list[str]:
        """Return the summary as the user reads it."""
        request = self.request
        cleanup = "yes" if request.cleanup else "no"
        if request.action is not Action.PULL_AND_RECREATE:
            cleanup = "no (only a pull replaces the image)"

        return [
            f"Containers:        {', '.join(request.containers)}",
            f"Action:            {request.action.label}",
            f"Remove old image:  {cleanup}",
            f"Expires:           {describe_expiry(request.expires_in)}",
        ]

    def generate(self) -> None:
        """Sign the token, save its record, and show it."""
        request = self.request
        try:
            token, issued = self.tokens.mint(
                request.containers,
                request.action,
                request.cleanup,
                request.expires_in,
            )
        except DeploydError as exc:
            self.tui.show_error(
                "The token could not be generated", data_dir_trouble(self.tui, exc)
            )
            return
        self.tui.push(TokenScreen(self.tui, token, issued))

    def _fragments(self) -> StyleAndTextTuples:
        return prose(
            [*self.lines(), "", "Press enter to generate the token, esc to change it."]
        )


class TokenScreen(Screen):
    """The result: the token, whole, with a key that copies it."""

    title = "Your deploy token"
    # Leave the mouse to the terminal here, so the token can be selected as usual.
    mouse = False

    def __init__(self, tui: Tui, token: str, issued: IssuedToken) -> None:
        super().__init__(tui)
        self.token = token
        self.issued = issued
        self.copied = False
        self.control = FormattedTextControl(self._notes, focusable=True)
        self.bindings = KeyBindings()
        self.bindings.add("c")(lambda _: self.copy())
        self.bindings.add("enter")(lambda _: self.tui.home())

    def arrange(self, heading: Window) -> AnyContainer:
        # The token alone starts at the terminal's first column and wraps at its
        # last, so that selecting its rows gives the token and nothing else.
        return HSplit(
            [
                indented(heading),
                Window(
                    FormattedTextControl([("class:token", self.token)]),
                    wrap_lines=True,
                    dont_extend_height=True,
                ),
                Window(height=1),
                indented(self.build()),
            ]
        )

    def build(self) -> AnyContainer:
        return Window(self.control, always_hide_cursor=True)

    def focus(self) -> FocusableElement:
        return self.control

    def hints(self) -> list[Hint]:
        return [("c", "copy to clipboard"), ("enter", "main menu")]

    def escape(self) -> None:
        # Going back would land on the summary, where enter signs another token.
        self.tui.home()

    def copy(self) -> None:
        """Put the token on the clipboard through the terminal (OSC 52)."""
        copy_to_clipboard(self.tui.application.output, self.token)
        self.copied = True

    def _notes(self) -> StyleAndTextTuples:
        issued = self.issued
        expires = (
            "never" if issued.expires_at is None else describe_moment(issued.expires_at)
        )
        lines = [
            f"Token id {issued.token_id}: {', '.join(issued.containers)}, "
            f"{issued.action.label.lower()}, expires {expires}.",
            "",
            "Store it as a secret in your CI. deployd keeps only this record in "
            f"{self.tui.session.data_dir}, not the token: it is not shown again.",
            "Press c to copy it to the clipboard (OSC 52, works over SSH in most "
            "terminals), or select it with the mouse.",
        ]
        if self.copied:
            lines += ["", "Copied to the clipboard."]

        return prose(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
