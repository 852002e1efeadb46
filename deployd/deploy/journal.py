"""A small on-disk record of swaps in progress, so a restart can finish or undo them.

One JSON file per container under ``DATA_DIR/journal/``, written before the old
container is touched and removed once the swap has ended either way. The
engine cannot relabel a container, so the journal, the aside name and the
``deployd.replaces`` label on the new container together tell what happened.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

ASIDE_MARK = ".deployd-old-"


def aside_name(name: str, old_id: str) -> str:
    """Return the name the old container carries while its successor starts."""
    return f"{name}{ASIDE_MARK}{old_id[:12]}"


@dataclass(frozen=True)
class Entry:
    """A swap of ``name`` from container ``old_id`` that has not finished yet."""

    name: str
    old_id: str
    was_running: bool

    @property
    def aside(self) -> str:
        return aside_name(self.name, self.old_id)


class Journal:
    """The swaps in progress, one file each, written atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "journal"

    def open(self, entry: Entry) -> None:
        """Record that the swap of ``entry.name`` is about to touch the old one."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        path = self._path(entry.name)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(entry)), encoding="utf-8")
        os.replace(temporary, path)

    def close(self, name: str) -> None:
        """Forget the swap of ``name``: it has ended, done or undone."""
        self._path(name).unlink(missing_ok=True)

    def entries(self) -> list[Entry]:
        """Return the swaps a previous run left unfinished."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(Entry(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("journal_unreadable", path=str(path), reason=str(exc))
        return found

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"
