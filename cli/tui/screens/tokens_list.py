"""The tokens issued here: what each may deploy, until when, and whether revoked."""

from __future__ import annotations

from prompt_toolkit.application import get_app
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout import AnyContainer, FormattedTextControl, HSplit, Window
from prompt_toolkit.layout.layout import FocusableElement

from deployd.tokens import IssuedToken, Tokens

from ..app import Screen, Tui
from ..widgets import ChoiceList, Hint, Option, ellipsize, paragraph
from .generate import describe_moment
from .message import MessageScreen
from .revoke import RevokeScreen, is_expired, load_issued

ID_WIDTH = 16
ACTION_WIDTH = 13
EXPIRES_WIDTH = 16
STATE_WIDTH = 7
# The left margin, the cursor mark, the gaps between columns and a trailing blank.
CHROME = 1 + 2 + 4 * 2 + 1


def start_list(tui: Tui) -> None:
    """Show the issued tokens, or say why DATA_DIR cannot be read."""
    loaded = load_issued(tui, "Cannot list tokens")
    if loaded is not None:
        tui.push(TokenListScreen(tui, *loaded))


def state(token: IssuedToken) -> str:
    """Return ``revoked``, ``expired`` or ``live``."""
    if token.revoked:
        return "revoked"

    return "expired" if is_expired(token) else "live"


def expiry(token: IssuedToken) -> str:
    """Return when the token expires, or ``never``."""
    return "never" if token.expires_at is None else describe_moment(token.expires_at)


class TokenListScreen(Screen):
    """A table of issued tokens, newest first; enter shows one in full."""

    title = "Tokens issued here"

    def __init__(self, tui: Tui, tokens: Tokens, issued: list[IssuedToken]) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.issued = list(reversed(issued))
        self.choices = ChoiceList(
            [Option(token, token.token_id) for token in self.issued],
            self.show,
            render=self._line,
        )

    def build(self) -> AnyContainer:
        if not self.issued:
            return paragraph(
                "No tokens have been issued here yet.",
                "",
                "Tokens made by the original Docker Deploy API are not recorded "
                "here; they still work, and can be revoked by pasting them.",
            )
        heading = Window(FormattedTextControl(self._heading), height=1)

        return HSplit([heading, self.choices.window])

    def focus(self) -> FocusableElement | None:
        return self.choices.window if self.issued else None

    def hints(self) -> list[Hint]:
        if not self.issued:
            return [("esc", "back")]

        return [("up/down", "move"), ("enter", "details"), ("esc", "back")]

    def show(self, token: IssuedToken) -> None:
        """Show one token's record, with a key to revoke it while it is live."""
        lines = [
            f"Containers:        {', '.join(token.containers)}",
            f"Action:            {token.action.label}",
            f"Remove old image:  {'yes' if token.cleanup else 'no'}",
            f"Created:           {describe_moment(token.created_at)}",
            f"Expires:           {expiry(token)}",
            f"State:             {state(token)}",
        ]
        actions = []
        if state(token) == "live":
            actions.append(("r", "revoke", lambda: self._revoke(token)))
        self.tui.push(
            MessageScreen(self.tui, f"Token {token.token_id}", lines, actions=actions)
        )

    def _revoke(self, token: IssuedToken) -> None:
        screen = RevokeScreen(self.tui, self.tokens, [token])
        self.tui.push(screen)
        screen.confirm(token)

    def _containers_width(self) -> int:
        fixed = ID_WIDTH + ACTION_WIDTH + EXPIRES_WIDTH + STATE_WIDTH + CHROME
        columns = get_app().output.get_size().columns

        return max(columns - fixed, 12)

    def _row(self, cells: tuple[str, ...]) -> str:
        widths = (
            ID_WIDTH,
            self._containers_width(),
            ACTION_WIDTH,
            EXPIRES_WIDTH,
            STATE_WIDTH,
        )
        padded = [
            ellipsize(cell, width).ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        ]

        return "  ".join(padded).rstrip()

    def _heading(self) -> StyleAndTextTuples:
        titles = ("ID", "CONTAINERS", "ACTION", "EXPIRES", "STATE")

        return [("class:heading", "  " + self._row(titles))]

    def _line(self, option: Option[IssuedToken]) -> str:
        token = option.value
        cells = (
            token.token_id,
            ", ".join(token.containers),
            token.action.slug,
            _short_expiry(token),
            state(token),
        )

        return self._row(cells)


def _short_expiry(token: IssuedToken) -> str:
    if token.expires_at is None:
        return "never"

    return f"{token.expires_at.astimezone():%Y-%m-%d %H:%M}"
