"""The deploy history: JSON lines in ``DATA_DIR/deploys.jsonl``, the last per deploy.

``History`` loads the file once at start, so that ``GET /v1/deploys/{id}``
can still answer for a deploy an earlier run made, and appends a line each
time a deploy is accepted, begins and ends. A line holds what a deploy did
and how it ended, who asked (address and token fingerprint, never the
token) and when; the log of events is not kept. A deploy whose last line
says it was queued or running was cut off by the end of an earlier run:
``interrupted`` lists those, for the daemon to settle once it has repaired
their containers. The file stays bounded: past ``2 * keep`` lines it is
rewritten with the newest ``keep`` records, in a worker thread, and replaced
atomically. A line a crash cut short is skipped (and logged once) at load.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from ..tokens.claims import Action

log = structlog.get_logger(__name__)

FILE_NAME = "deploys.jsonl"
KEEP_RECORDS = 1000
OUTCOMES = ("succeeded", "failed")
STATUSES = ("queued", "running", *OUTCOMES)


@dataclass(frozen=True)
class Record:
    """What the history keeps of one deploy, as it was when the line was written."""

    id: str
    containers: tuple[str, ...]
    action: Action
    cleanup: bool
    status: str
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    client: str
    token_fingerprint: str
    deployed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        """Return whether the deploy had ended when this record was written."""
        return self.status in OUTCOMES

    def to_line(self) -> str:
        """Return the record as one JSON line, newline included."""
        body = {
            "id": self.id,
            "containers": list(self.containers),
            "action": self.action.slug,
            "action_code": int(self.action),
            "cleanup": self.cleanup,
            "status": self.status,
            "message": self.message,
            "deployed": list(self.deployed),
            "failed": list(self.failed),
            "untouched": list(self.untouched),
            "created_at": self.created_at.isoformat(),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "client": self.client,
            "token_fingerprint": self.token_fingerprint,
        }

        return json.dumps(body, ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, line: str) -> Record:
        """Return the record a line holds; raises ValueError for anything else."""
        body = json.loads(line)
        if not isinstance(body, dict):
            raise ValueError("a history line must be a JSON object")
        try:
            return cls._from_body(body)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a history line lacks a usable field: {exc}") from exc

    @classmethod
    def _from_body(cls, body: dict[str, Any]) -> Record:
        status = str(body["status"])
        if status not in STATUSES:
            raise ValueError(f"{status!r} is not the status of a deploy")

        return cls(
            id=str(body["id"]),
            containers=_names(body["containers"]),
            action=Action(int(body["action_code"])),
            cleanup=bool(body["cleanup"]),
            status=status,
            message=str(body["message"]),
            created_at=datetime.fromisoformat(body["created_at"]),
            started_at=_time_or_none(body.get("started_at")),
            finished_at=_time_or_none(body.get("finished_at")),
            client=str(body.get("client", "")),
            token_fingerprint=str(body.get("token_fingerprint", "")),
            deployed=_names(body.get("deployed", [])),
            failed=_names(body.get("failed", [])),
            untouched=_names(body.get("untouched", [])),
        )


class History:
    """The deploys of this and earlier runs, newest ``keep`` by id."""

    def __init__(self, data_dir: Path, *, keep: int = KEEP_RECORDS) -> None:
        self.path = data_dir / FILE_NAME
        self.keep = keep
        self._records: OrderedDict[str, Record] = OrderedDict()
        self._lines = 0
        self._trim: asyncio.Task[None] | None = None
        self._held: list[str] = []
        self._load()
        # Deploys an earlier run never finished: it was killed or crashed.
        self.interrupted = [r for r in self._records.values() if not r.finished]

    def get(self, deploy_id: str) -> Record | None:
        """Return the record of the deploy with this id, or None."""
        return self._records.get(deploy_id)

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: Record) -> None:
        """Remember ``record`` and append it to the file; never raises.

        A write that fails is logged: the deploy it describes has happened
        regardless. Past ``2 * keep`` lines a trim starts in the background.
        """
        self._remember(record)
        line = record.to_line()
        if self._trim is not None:
            # The trim is about to replace the file; these go in after it.
            self._held.append(line)
            return
        self._write([line])
        self._trim_if_long()

    async def flush(self) -> None:
        """Return once trims in progress, and the lines held for them, are written."""
        while self._trim is not None:
            await asyncio.shield(self._trim)

    def _trim_if_long(self) -> None:
        if self._lines > 2 * self.keep:
            # What the file keeps is fixed now; later records are held for after.
            kept = [record.to_line() for record in self._records.values()]
            self._trim = asyncio.get_running_loop().create_task(self._trim_file(kept))

    def _remember(self, record: Record) -> None:
        self._records[record.id] = record
        self._records.move_to_end(record.id)
        while len(self._records) > self.keep:
            self._records.popitem(last=False)

    def _write(self, lines: list[str]) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as file:
                file.write("".join(lines))
        except OSError as exc:
            log.warning("history_write_failed", path=str(self.path), reason=str(exc))
            return
        self._lines += len(lines)

    async def _trim_file(self, kept: list[str]) -> None:
        try:
            await asyncio.to_thread(_replace, self.path, kept)
            self._lines = len(kept)
            log.info("history_trimmed", path=str(self.path), kept=len(kept))
        except OSError as exc:
            log.warning("history_trim_failed", path=str(self.path), reason=str(exc))
        finally:
            self._trim = None
            held, self._held = self._held, []
            if held:
                self._write(held)
                # Lines that came in meanwhile may make the file long again.
                self._trim_if_long()

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("history_unreadable", path=str(self.path), reason=str(exc))
            return
        if data and not data.endswith(b"\n"):
            data = self._cut_torn_tail(data)
        lines = data.decode("utf-8", errors="replace").splitlines()
        skipped = 0
        for line in lines:
            try:
                self._remember(Record.from_line(line))
            except ValueError:
                skipped += 1
        self._lines = len(lines)
        if skipped:
            log.warning("history_lines_skipped", path=str(self.path), lines=skipped)

    def _cut_torn_tail(self, data: bytes) -> bytes:
        """Drop a last line that a crash left without its end; return the rest.

        The next append would otherwise continue that line and spoil its own.
        """
        whole = data[: data.rfind(b"\n") + 1]
        tail = data[len(whole) :]
        try:
            Record.from_line(tail.decode("utf-8"))
        except ValueError:
            pass
        else:
            # Only the newline is missing; give it back rather than lose the line.
            self._write(["\n"])
            return data + b"\n"
        try:
            os.truncate(self.path, len(whole))
        except OSError as exc:
            log.warning("history_unrepaired", path=str(self.path), reason=str(exc))
            return data + b"\n"
        log.warning(
            "history_torn_line_dropped",
            path=str(self.path),
            bytes=len(data) - len(whole),
        )

        return whole


def _replace(path: Path, lines: list[str]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write("".join(lines))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _time_or_none(text: object) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text else None


def _names(items: object) -> tuple[str, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError("container lists must be lists of names")

    return tuple(items)
