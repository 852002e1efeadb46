"""The record of tokens deployd has minted, in DATA_DIR/issued-tokens.json.

Each entry keeps what a token allows and when it ends, and the sha512 digest
of the token string (which revoked-tokens.json uses), never the token itself.
The original tool kept no such record, so tokens it signed are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from deployd.errors import ConfigError
from deployd.tokens.claims import Action, format_time, parse_time
from deployd.tokens.jsonfiles import read_json, write_json

ISSUED_FILE = "issued-tokens.json"


@dataclass(frozen=True)
class IssuedToken:
    """A token deployd minted, as the record keeps it, and whether it is revoked."""

    token_id: str
    containers: tuple[str, ...]
    action: Action
    cleanup: bool
    created_at: datetime
    expires_at: datetime | None
    revoked: bool = False

    def marked(self, revoked: bool) -> IssuedToken:
        """Return this record with ``revoked`` set as given."""
        return replace(self, revoked=revoked)


@dataclass(frozen=True)
class Entry:
    """One line of the record: the token's description and its digest."""

    token: IssuedToken
    digest: str | None


class IssuedLog:
    """The issued-tokens.json file, read afresh on every call."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / ISSUED_FILE

    def entries(self) -> list[Entry]:
        """Return every recorded token, oldest first.

        Raises ConfigError when the file is unreadable or malformed.
        """
        value = read_json(self._path)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._malformed()
        try:
            return [_entry(item) for item in value]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed() from exc

    def find(self, token_id: str) -> Entry | None:
        """Return the entry with this id, or None; raises ConfigError like entries."""
        return next((e for e in self.entries() if e.token.token_id == token_id), None)

    def add(self, entry: Entry) -> None:
        """Append ``entry`` to the record; raises ConfigError if it cannot be saved."""
        records = [_record(e) for e in self.entries()]
        write_json(self._path, [*records, _record(entry)])

    def _malformed(self) -> ConfigError:
        return ConfigError(
            f"{self._path} is not a list of issued tokens; "
            "fix or remove it (tokens keep working without it)"
        )


def _record(entry: Entry) -> dict[str, Any]:
    token = entry.token
    expires = token.expires_at

    return {
        "id": token.token_id,
        "containers": list(token.containers),
        "action": int(token.action),
        "cleanup": token.cleanup,
        "created": format_time(token.created_at),
        "expires": format_time(expires) if expires is not None else None,
        "digest": entry.digest,
    }


def _entry(item: dict[str, Any]) -> Entry:
    expires = item.get("expires")
    digest = item.get("digest")
    token = IssuedToken(
        token_id=str(item["id"]),
        containers=tuple(str(name) for name in item["containers"]),
        action=Action(item["action"]),
        cleanup=bool(item["cleanup"]),
        created_at=parse_time(item["created"]),
        expires_at=parse_time(expires) if expires is not None else None,
    )

    return Entry(token=token, digest=str(digest) if digest is not None else None)
