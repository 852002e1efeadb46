"""Revoked tokens, kept in DATA_DIR so that a running daemon sees a new revocation.

``revoked-tokens.json`` is the original tool's file: a JSON list of the sha512
hex digests of revoked token strings. deployd keeps it in that form, and lists
revoked token ids (``jti``) in its own ``revoked-ids.json`` beside it. A reader
looks at both files' metadata at most every half second and reloads them when
they changed, so a revocation written by ``deployd-cli`` takes effect in a
running daemon within a second, without a restart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from deployd.errors import ConfigError
from deployd.tokens.jsonfiles import read_json, write_json

log = structlog.get_logger(__name__)

DIGESTS_FILE = "revoked-tokens.json"
IDS_FILE = "revoked-ids.json"

# How stale the in-memory lists may get before the files are looked at again.
RECHECK_SECONDS = 0.5

_Stamp = tuple[int, int, int, int] | None


class Revocations:
    """The revoked token digests and ids, reloaded when their files change."""

    def __init__(
        self, data_dir: Path, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Load both lists; raises ConfigError if a file is unreadable or malformed."""
        self._paths = (data_dir / DIGESTS_FILE, data_dir / IDS_FILE)
        self._clock = clock
        self._stamps = self._stat()
        self._digests = _load_list(self._paths[0], "token digests")
        self._ids = _load_list(self._paths[1], "token ids")
        self._checked_at = clock()

    def is_revoked(self, digest: str | None, token_id: str | None) -> bool:
        """Return whether a token with this digest, or this id, has been revoked."""
        self._refresh()

        return digest in self._digests or token_id in self._ids

    def revoke(self, digest: str | None, token_id: str | None) -> bool:
        """Add the digest and the id that are given; return whether either was new.

        Raises ConfigError when a file cannot be read or written.
        """
        added = False
        for path, value, kind in (
            (self._paths[0], digest, "token digests"),
            (self._paths[1], token_id, "token ids"),
        ):
            if value is not None:
                added |= _append(path, value, kind)
        self._reload()

        return added

    def refresh(self) -> None:
        """Reload the lists now if their files changed, whatever the last check.

        A file that cannot be read leaves the lists as they were (and is
        logged); the next check tries again.
        """
        self._checked_at = self._clock()
        if self._stat() != self._stamps:
            try:
                self._reload()
            except ConfigError as exc:
                # Another writer may be half-way through a non-atomic write: keep
                # the lists we have, and look again at the next check.
                log.warning("revocations_unreadable", reason=exc.message)

    def _refresh(self) -> None:
        if self._clock() - self._checked_at >= RECHECK_SECONDS:
            self.refresh()

    def _reload(self) -> None:
        stamps = self._stat()
        self._digests = _load_list(self._paths[0], "token digests")
        self._ids = _load_list(self._paths[1], "token ids")
        self._stamps = stamps

    def _stat(self) -> tuple[_Stamp, _Stamp]:
        return (_stamp(self._paths[0]), _stamp(self._paths[1]))


def _stamp(path: Path) -> _Stamp:
    try:
        info = os.stat(path)
    except OSError:
        return None

    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _read_list(path: Path, kind: str) -> list[str]:
    value = read_json(path)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{path} is not a JSON list of {kind}; fix or remove it, then try again"
        )

    return value


def _load_list(path: Path, kind: str) -> frozenset[str]:
    return frozenset(_read_list(path, kind))


def _append(path: Path, value: str, kind: str) -> bool:
    present = _read_list(path, kind)
    if value in present:
        return False
    write_json(path, [*present, value])

    return True
