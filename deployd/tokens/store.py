"""The one object the daemon, the web layer and the CLI use for deploy tokens.

``Tokens`` owns the signing key, the revocation lists and the record of issued
tokens in DATA_DIR. It is the only place where pyseto is called, so its
errors become TokenError subclasses here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pyseto
import structlog

from deployd.errors import (
    ClaimsInvalid,
    ConfigError,
    TokenBadSignature,
    TokenError,
    TokenExpired,
    TokenMalformed,
    TokenRevoked,
)
from deployd.tokens.claims import (
    Action,
    Claims,
    build_payload,
    check_containers,
    digest,
    fingerprint,
    format_time,
    parse_claims,
    to_millis,
)
from deployd.tokens.durations import LONGEST
from deployd.tokens.issued import Entry, IssuedLog, IssuedToken
from deployd.tokens.keys import SigningKey, load_or_create
from deployd.tokens.revocations import Revocations

log = structlog.get_logger(__name__)

# v4.public.<payload>[.<footer>], each part unpadded base64url.
_SHAPE = re.compile(r"v4\.public\.([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))?", re.ASCII)
# Far above any real token; refusing longer input early keeps hashing cheap.
_LONGEST_TOKEN = 16 * 1024


@dataclass(frozen=True)
class Inspection:
    """A genuine token's claims, and whether it would still be accepted."""

    claims: Claims
    expired: bool
    revoked: bool


class RevokeOutcome(enum.Enum):
    """What ``Tokens.revoke`` did."""

    REVOKED = "revoked"
    ALREADY_REVOKED = "already revoked"


class Tokens:
    """Mints, verifies, inspects and revokes the deploy tokens of one DATA_DIR."""

    def __init__(self, data_dir: Path) -> None:
        """Load the signing key from ``data_dir``, creating one on first start.

        Raises ConfigError naming the path and the user id when DATA_DIR is
        missing or not writable, or when one of its files cannot be used.
        """
        _check_data_dir(data_dir)
        self._key: SigningKey = load_or_create(data_dir)
        self._revocations = Revocations(data_dir)
        self._issued = IssuedLog(data_dir)

    def mint(
        self,
        containers: Sequence[str],
        action: Action,
        cleanup: bool,
        expires_in: timedelta | None,
    ) -> tuple[str, IssuedToken]:
        """Return a new signed token and its record, which is saved in DATA_DIR.

        ``cleanup`` only applies to pull-and-recreate and is dropped for other
        actions; ``expires_in`` None makes a token that never expires. Raises
        ClaimsInvalid for bad container names or lifetime, and ConfigError when
        the record cannot be saved.
        """
        names = check_containers(list(containers))
        action = Action(action)
        issued_at = to_millis(datetime.now(UTC))
        issued = IssuedToken(
            token_id=secrets.token_hex(8),
            containers=names,
            action=action,
            cleanup=cleanup and action is Action.PULL_AND_RECREATE,
            created_at=issued_at,
            expires_at=_expiry(issued_at, expires_in),
        )
        token = self._sign(issued)
        self._issued.add(Entry(token=issued, digest=digest(token)))
        log.info(
            "token_minted",
            token_id=issued.token_id,
            containers=list(names),
            action=action.slug,
            cleanup=issued.cleanup,
            expires_at=_show(issued.expires_at),
        )

        return token, issued

    def verify(self, token: str) -> Claims:
        """Return the claims of a token that may deploy now.

        Raises TokenMalformed, TokenBadSignature, ClaimsInvalid, TokenRevoked or
        TokenExpired, each with a message that names the token's fingerprint at
        most, never the token.
        """
        token = token.strip()
        claims: Claims | None = None
        try:
            claims = parse_claims(self._open(token), token)
            self._refuse_if_revoked(token, claims)
            self._refuse_if_expired(claims)
        except TokenError as exc:
            shown = claims.fingerprint if claims else fingerprint(token, None)
            # The web layer logs rejections once per client and burst; this is detail.
            log.debug("token_rejected", token=shown, reason=type(exc).__name__)
            raise
        log.debug(
            "token_verified",
            token=claims.fingerprint,
            containers=list(claims.containers),
            action=claims.action.slug,
        )

        return claims

    def inspect(self, token: str) -> Inspection:
        """Return a genuine token's claims, with whether it is expired or revoked.

        Raises TokenMalformed or TokenBadSignature when the token is not one of
        this key's, and ClaimsInvalid when its claims do not describe a deploy.
        """
        token = token.strip()
        claims = parse_claims(self._open(token), token)
        self._revocations.refresh()

        return Inspection(
            claims=claims,
            expired=claims.expired(datetime.now(UTC)),
            revoked=self._revocations.is_revoked(digest(token), claims.token_id),
        )

    def revoke(self, token_or_id: str) -> RevokeOutcome:
        """Revoke a token, given in full or by its id; return what was done.

        A token is revoked by its digest (which the original tool honours too)
        and its id; an id is revoked together with the digest its record keeps.
        Raises TokenMalformed or TokenBadSignature for a token that is not this
        key's, TokenError for an id that was never issued here, and ConfigError
        when the revocation cannot be saved.
        """
        text = token_or_id.strip()
        token_digest, token_id = self._revocation_target(text)
        self._revocations.refresh()
        was_revoked = self._revocations.is_revoked(token_digest, token_id)
        self._revocations.revoke(token_digest, token_id)
        if was_revoked:
            return RevokeOutcome.ALREADY_REVOKED
        log.info("token_revoked", token=token_id or fingerprint(text, None))

        return RevokeOutcome.REVOKED

    def issued(self) -> list[IssuedToken]:
        """Return the tokens minted here, oldest first, each marked revoked or not.

        Raises ConfigError when the record cannot be read.
        """
        self._revocations.refresh()

        return [
            entry.token.marked(
                self._revocations.is_revoked(entry.digest, entry.token.token_id)
            )
            for entry in self._issued.entries()
        ]

    def public_key_fingerprint(self) -> str:
        """Return the PASERK id of the verifying key, which is safe to show."""
        return self._key.fingerprint

    def _revocation_target(self, text: str) -> tuple[str | None, str | None]:
        """Return the digest and id to revoke for a token or a token id."""
        if "." in text:
            return digest(text), _token_id(self._open(text))
        entry = self._issued.find(text)
        if entry is None:
            raise TokenError(
                f"no token with id {text!r} was issued here; "
                "`deployd-cli token list` shows the ids"
            )

        return entry.digest, text

    def _sign(self, issued: IssuedToken) -> str:
        payload = build_payload(
            issued.containers,
            issued.action,
            issued.cleanup,
            issued.created_at,
            issued.expires_at,
            issued.token_id,
        )
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")

        return bytes(pyseto.encode(self._key.secret, body)).decode("ascii")

    def _open(self, token: str) -> dict[str, Any]:
        """Return the payload object of a token signed by this key."""
        if len(token) > _LONGEST_TOKEN or not _well_formed(token):
            raise TokenMalformed(
                "the token is not a PASETO v4.public token; copy it again in full"
            )
        try:
            payload = pyseto.decode(self._key.public, token).payload
        except pyseto.VerifyError as exc:
            raise TokenBadSignature(
                f"token {fingerprint(token, None)} was not signed by this deployd's "
                "key; create a new token with deployd-cli"
            ) from exc
        except ValueError as exc:
            raise TokenMalformed(
                "the token is too short to carry a signature; copy it again in full"
            ) from exc

        return _payload_object(cast(bytes, payload))

    def _refuse_if_revoked(self, token: str, claims: Claims) -> None:
        if self._revocations.is_revoked(digest(token), claims.token_id):
            raise TokenRevoked(
                f"token {claims.fingerprint} has been revoked; create a new token"
            )

    def _refuse_if_expired(self, claims: Claims) -> None:
        if claims.expired(datetime.now(UTC)):
            raise TokenExpired(
                f"token {claims.fingerprint} expired at {_show(claims.expires_at)}; "
                "create a new token"
            )


def _check_data_dir(data_dir: Path) -> None:
    uid = os.getuid()
    if not data_dir.is_dir():
        raise ConfigError(
            f"DATA_DIR {data_dir} does not exist or is not a directory; "
            f"create it, writable for uid {uid}"
        )
    try:
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        raise ConfigError(
            f"DATA_DIR {data_dir} is not writable for uid {uid} "
            f"({(exc.strerror or str(exc)).lower()}); fix its owner or mode"
        ) from exc


def _well_formed(token: str) -> bool:
    """Return whether every part is canonical base64url.

    pyseto's decoder skips characters outside the alphabet, so without this
    check ``v4.public.ab!cd`` would verify as ``v4.public.abcd`` and escape a
    revocation listed by the digest of the token string.
    """
    match = _SHAPE.fullmatch(token)
    if match is None:
        return False

    return all(_canonical(part) for part in match.groups() if part is not None)


def _canonical(part: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except binascii.Error:
        return False

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == part


def _payload_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise TokenMalformed("the token's claims are not JSON") from exc
    if not isinstance(value, dict):
        raise TokenMalformed("the token's claims are not a JSON object")

    return value


def _token_id(payload: dict[str, Any]) -> str | None:
    token_id = payload.get("jti")

    return token_id if isinstance(token_id, str) and token_id else None


def _expiry(issued_at: datetime, expires_in: timedelta | None) -> datetime | None:
    if expires_in is None:
        return None
    if not timedelta() < expires_in <= LONGEST:
        raise ClaimsInvalid(
            "a token's lifetime must be longer than zero and at most 100 years"
        )

    return to_millis(issued_at + expires_in)


def _show(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None
