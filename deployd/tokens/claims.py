"""What a deploy token says, and its payload in the form the original Node tool wrote.

The payload is a JSON object: ``containerNames`` (list of names), ``action``
(0, 1 or 2), ``cleanup`` (bool), ``iat`` and ``exp`` as RFC 3339 timestamps, and
``jti``, a random id that tokens signed by the original tool do not carry.
Unknown keys are ignored so that newer payloads still read.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from deployd.errors import ClaimsInvalid

# Docker's own rule for container names; the engine reports them with a leading "/".
CONTAINER_NAME = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]*")

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


class Action(enum.IntEnum):
    """What a deploy does to each container; the values are the payload's numbers."""

    PULL_AND_RECREATE = 0
    RECREATE = 1
    RESTART = 2

    @property
    def label(self) -> str:
        """Return the name operators read, such as ``Pull and recreate``."""
        return _LABELS[self]

    @property
    def slug(self) -> str:
        """Return the name operators type, such as ``pull-recreate``."""
        return _SLUGS[self]

    @classmethod
    def from_slug(cls, slug: str) -> Action:
        """Return the action named ``slug``; raises ValueError naming the choices."""
        for action, name in _SLUGS.items():
            if name == slug.strip().lower():
                return action
        choices = ", ".join(_SLUGS.values())
        raise ValueError(f"{slug!r} is not an action; choose one of {choices}")


_LABELS = {
    Action.PULL_AND_RECREATE: "Pull and recreate",
    Action.RECREATE: "Recreate",
    Action.RESTART: "Restart",
}
_SLUGS = {
    Action.PULL_AND_RECREATE: "pull-recreate",
    Action.RECREATE: "recreate",
    Action.RESTART: "restart",
}


@dataclass(frozen=True)
class Claims:
    """The deploy a genuine token asks for, with its times and ids."""

    containers: tuple[str, ...]
    action: Action
    cleanup: bool
    issued_at: datetime | None
    expires_at: datetime | None
    token_id: str | None
    fingerprint: str

    def expired(self, now: datetime) -> bool:
        """Return whether the token's expiry time is at or before ``now``."""
        return self.expires_at is not None and self.expires_at <= now


def fingerprint(token: str, token_id: str | None) -> str:
    """Return a short name for a token that is safe to log: its id, else a digest."""
    if token_id:
        return token_id

    return digest(token)[:12]


def digest(token: str) -> str:
    """Return the sha512 hex digest of a token, as revoked-tokens.json lists them."""
    return hashlib.sha512(token.encode("utf-8")).hexdigest()


def format_time(moment: datetime) -> str:
    """Return ``moment`` as JavaScript's toISOString writes it: UTC, millis, ``Z``."""
    utc = moment.astimezone(UTC)

    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Return the aware datetime an RFC 3339 timestamp names.

    Raises ValueError when ``text`` is not an RFC 3339 date-time with an offset.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_hours, off_minutes = match.groups()[6:]
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta()
    if not zulu:
        offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
        offset = -offset if sign == "-" else offset
    # A leap second (":60") is read as the last instant of the minute before it.
    second = min(second, 59)

    return datetime(
        year, month, day, hour, minute, second, micros, tzinfo=timezone(offset)
    )


def to_millis(moment: datetime) -> datetime:
    """Return ``moment`` in UTC, cut to the milliseconds a payload can carry."""
    utc = moment.astimezone(UTC)

    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def build_payload(
    containers: Sequence[str],
    action: Action,
    cleanup: bool,
    issued_at: datetime,
    expires_at: datetime | None,
    token_id: str,
) -> dict[str, Any]:
    """Return the payload object for a new token, in the original tool's keys."""
    payload: dict[str, Any] = {
        "containerNames": list(containers),
        "action": int(action),
        "cleanup": cleanup,
        "iat": format_time(issued_at),
        "jti": token_id,
    }
    if expires_at is not None:
        payload["exp"] = format_time(expires_at)

    return payload


def check_containers(names: object) -> tuple[str, ...]:
    """Return the container names without Docker's leading ``/``, duplicates dropped.

    Raises ClaimsInvalid when ``names`` is not a list, is empty, or holds a
    name Docker would not accept.
    """
    if names is not None and not isinstance(names, list | tuple):
        raise ClaimsInvalid("containerNames must be a list of container names")
    if not names:
        raise ClaimsInvalid("no container names are given; name at least one")
    for name in names:
        if not isinstance(name, str) or not CONTAINER_NAME.fullmatch(name):
            raise ClaimsInvalid(
                f"{name!r} is not a Docker container name: use letters, digits, "
                "'_', '.' and '-', starting with a letter or digit"
            )

    return tuple(dict.fromkeys(name.removeprefix("/") for name in names))


def parse_claims(payload: dict[str, Any], token: str) -> Claims:
    """Return the claims of a verified payload object.

    Raises ClaimsInvalid naming the claim that does not describe a deploy.
    """
    containers = check_containers(payload.get("containerNames"))
    action = _check_action(payload.get("action"))
    cleanup = payload.get("cleanup", False)
    if not isinstance(cleanup, bool):
        raise ClaimsInvalid("the token's cleanup claim is not true or false")
    token_id = payload.get("jti")
    if token_id is not None and not isinstance(token_id, str):
        raise ClaimsInvalid("the token's jti claim is not a string")

    return Claims(
        containers=containers,
        action=action,
        cleanup=cleanup,
        issued_at=_check_time(payload, "iat"),
        expires_at=_check_time(payload, "exp"),
        token_id=token_id or None,
        fingerprint=fingerprint(token, token_id),
    )


def _check_action(value: object) -> Action:
    if isinstance(value, int) and not isinstance(value, bool) and value in _LABELS:
        return Action(value)
    raise ClaimsInvalid(f"the token's action {value!r} is not 0, 1 or 2")


def _check_time(payload: dict[str, Any], key: str) -> datetime | None:
    value = payload.get(key)
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_time(value)
    except (ValueError, OverflowError) as exc:
        raise ClaimsInvalid(
            f"the token's {key} claim is not an RFC 3339 timestamp"
        ) from exc
