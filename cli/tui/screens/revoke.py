"""Revoking a deploy token, pasted whole or picked from the tokens issued here.

The screen says which of four things happened: the text is not a token of
this deployd, the token has expired anyway, it was revoked now, or it had
been revoked before. The daemon reads the revocation list on every request,
so a revocation needs no restart.
"""

from __future__ import annotations

from datetime import UTC, datetime

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

from deployd.errors import DeploydError, TokenError
from deployd.tokens import IssuedToken, RevokeOutcome, Tokens

from ..app import Screen, Tui
from ..widgets import ChoiceList, Field, Hint, Option, paragraph
from .generate import data_dir_trouble, describe_moment
from .message import ConfirmScreen, MessageScreen


def load_issued(tui: Tui, failure: str) -> tuple[Tokens, list[IssuedToken]] | None:
    """Return the token store and its issued tokens, or show ``failure`` and why."""
    try:
        tokens = tui.session.tokens()
        return tokens, tokens.issued()
    except DeploydError as exc:
        tui.show_error(failure, data_dir_trouble(tui, exc))
        return None


def start_revoke(tui: Tui) -> None:
    """Open the revoke screen, or say why DATA_DIR cannot be used."""
    loaded = load_issued(tui, "Cannot revoke tokens")
    if loaded is not None:
        tui.push(RevokeScreen(tui, *loaded))


def describe(token: IssuedToken) -> str:
    """Return one line saying what a token allows."""
    return f"{', '.join(token.containers)}: {token.action.label.lower()}"


def is_expired(token: IssuedToken) -> bool:
    """Return whether the issued token's expiry time has passed."""
    return token.expires_at is not None and token.expires_at <= datetime.now(UTC)


class RevokeScreen(Screen):
    """A field to paste a token or id into, and the live tokens issued here."""

    title = "Revoke a deploy token"

    def __init__(self, tui: Tui, tokens: Tokens, issued: list[IssuedToken]) -> None:
        super().__init__(tui)
        self.tokens = tokens
        self.live = [t for t in issued if not t.revoked and not is_expired(t)]
        self.field = Field("Token or id:", label_width=13, wrapped=True)
        self.choices: ChoiceList[IssuedToken] | None = None
        if self.live:
            self.choices = ChoiceList(
                [Option(t, t.token_id, describe(t)) for t in reversed(self.live)],
                self.confirm,
            )
        self.bindings = KeyBindings()
        self.bindings.add("enter")(self._enter)

    def build(self) -> AnyContainer:
        return HSplit(
            [
                paragraph(
                    "Paste the token (or type its id) and press enter, or press "
                    "tab to pick one of the tokens issued here.",
                    "",
                ),
                self.field.container,
                Window(height=1),
                Window(FormattedTextControl(self._list_heading), height=1),
                DynamicContainer(self._list),
            ]
        )

    def focus(self) -> FocusableElement:
        return self.field.area

    def hints(self) -> list[Hint]:
        return [("enter", "revoke"), ("tab", "token list / field"), ("esc", "back")]

    def _list(self) -> AnyContainer:
        return self.choices.window if self.choices else Window(height=0)

    def _list_heading(self) -> StyleAndTextTuples:
        if not self.live:
            return [("class:detail", "(no tokens issued here are still live)")]

        return [("class:heading", "Live tokens issued here, newest first:")]

    def _enter(self, _: KeyPressEvent) -> None:
        self.submit(self.field.text)

    def submit(self, text: str) -> None:
        """Revoke what the field holds: a whole token, or a token id."""
        # A token copied from a wrapped display may carry line breaks.
        text = "".join(text.split())
        if not text:
            self.field.error = "Paste a token or type a token id first."
        elif "." in text:
            self._submit_token(text)
        else:
            self._submit_id(text)

    def _submit_token(self, token: str) -> None:
        try:
            inspection = self.tokens.inspect(token)
        except TokenError as exc:
            self.field.error = (
                f"This is not a valid token of this deployd: {exc.message}"
            )
            return
        claims = inspection.claims
        name = claims.token_id or claims.fingerprint
        what = f"{', '.join(claims.containers)}: {claims.action.label.lower()}"
        if inspection.revoked:
            # Revoke again all the same: a token revoked by id alone has its digest
            # listed now, so the original tool refuses it too.
            self.revoke(name, token, what)
        elif inspection.expired and claims.expires_at is not None:
            self._expired(name, what, claims.expires_at)
        else:
            self._ask(name, what, token)

    def _submit_id(self, token_id: str) -> None:
        try:
            issued = {t.token_id: t for t in self.tokens.issued()}
        except DeploydError as exc:
            self.field.error = exc.message
            return
        token = issued.get(token_id)
        if token is None:
            self.field.error = (
                f"No token with id {token_id!r} was issued here; "
                "paste the whole token instead."
            )
        elif token.revoked:
            self._done(
                "Already revoked",
                [f"Token {token_id} ({describe(token)}) was revoked before."],
            )
        elif token.expires_at is not None and is_expired(token):
            self._expired(token_id, describe(token), token.expires_at)
        else:
            self.confirm(token)

    def confirm(self, token: IssuedToken) -> None:
        """Ask before revoking an issued token."""
        self._ask(token.token_id, describe(token), token.token_id)

    def _ask(self, name: str, what: str, target: str) -> None:
        self.tui.push(
            ConfirmScreen(
                self.tui,
                "Revoke this token?",
                [
                    f"Token {name} deploys {what}.",
                    "Once revoked, CI pipelines that use it can no longer deploy.",
                ],
                yes="Yes, revoke it",
                on_yes=lambda: self.revoke(name, target),
            )
        )

    def revoke(self, name: str, target: str, what: str = "") -> None:
        """Revoke ``target`` (a token or an id) and say what happened."""
        try:
            outcome = self.tokens.revoke(target)
        except DeploydError as exc:
            self.tui.show_error("The token could not be revoked", [exc.message])
            return
        if outcome is RevokeOutcome.ALREADY_REVOKED:
            shown = f"{name} ({what})" if what else name
            self._done("Already revoked", [f"Token {shown} was revoked before."])
            return
        self._done(
            "Token revoked",
            [
                f"Token {name} is revoked.",
                "The running daemon refuses it from its next request on; "
                "no restart is needed.",
            ],
        )

    def _expired(self, name: str, what: str, expires_at: datetime) -> None:
        self._done(
            "Token expired",
            [
                f"Token {name} ({what}) expired at {describe_moment(expires_at)}.",
                "It cannot deploy any more, so there is nothing to revoke.",
            ],
        )

    def _done(self, title: str, lines: list[str]) -> None:
        self.tui.push(MessageScreen(self.tui, title, lines, home=True))
