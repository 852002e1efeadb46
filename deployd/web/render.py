"""Deploy logs as bytes on the wire: text lines, NDJSON or server-sent events.

A stream is the deploy's events, each rendered on its own, then one closing
result. The text format writes ``<RFC 3339 UTC time> <message>`` per event and
a last line that starts with ``Deploy succeeded`` or ``Deploy failed``; the
NDJSON and SSE formats carry the same events as JSON objects.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

from ..deploy import DeployEvent
from .deploys import Deploy

_LEVEL_PREFIX = {"warning": "Warning: ", "error": "Error: "}
# An SSE comment: keeps an idle event stream (and the proxies on its way) open.
SSE_KEEPALIVE = b": keep-alive\n\n"


class Format(enum.Enum):
    """A stream format, named by the media type that asks for it."""

    TEXT = "text/plain"
    NDJSON = "application/x-ndjson"
    SSE = "text/event-stream"

    @property
    def content_type(self) -> str:
        """Return the Content-Type header value for a response in this format."""
        return f"{self.value}; charset=utf-8"


def negotiate(accept: str) -> Format:
    """Return the stream format an Accept header asks for; text when it names none.

    The first of NDJSON or SSE that the header lists wins; JSON counts as NDJSON.
    """
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media in ("application/x-ndjson", "application/json"):
            return Format.NDJSON
        if media == "text/event-stream":
            return Format.SSE

    return Format.TEXT


def stamp(moment: datetime) -> str:
    """Return ``moment`` as an RFC 3339 UTC time with milliseconds."""
    utc = moment.astimezone(UTC)

    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def event(fmt: Format, item: DeployEvent, seq: int) -> bytes:
    """Return one event of a deploy in ``fmt``; ``seq`` is its place in the log."""
    if fmt is Format.TEXT:
        return _line(item.time, _text_of(item))
    body: dict[str, Any] = {
        "time": stamp(item.time),
        "event": item.event,
        "level": item.level,
        "message": item.message,
    }
    if item.container is not None:
        body["container"] = item.container
    if item.data:
        body["data"] = dict(item.data)

    return _object(fmt, item.event, body, seq)


def result(fmt: Format, deploy: Deploy) -> bytes:
    """Return the closing result of a finished deploy in ``fmt``."""
    message = deploy.message
    ok = deploy.result is not None and deploy.result.ok
    finished = deploy.finished_at or datetime.now(UTC)
    if fmt is Format.TEXT:
        verdict = "Deploy succeeded" if ok else "Deploy failed"
        line = message if message.startswith(verdict) else f"{verdict}: {message}"
        return f"{_one_line(line)}\n".encode()
    body: dict[str, Any] = {
        "time": stamp(finished),
        "event": "result",
        "ok": ok,
        "status": deploy.status.value,
        "message": message,
        "deploy_id": deploy.id,
    }
    if deploy.result is not None:
        body["deployed"] = list(deploy.result.deployed)
        body["failed"] = list(deploy.result.failed)
        body["untouched"] = list(deploy.result.untouched)

    return _object(fmt, "result", body, len(deploy.events))


def lagged(fmt: Format, deploy: Deploy, log_url: str) -> bytes:
    """Return the notice that a reader fell behind and where the whole log is."""
    message = (
        f"this stream fell behind deploy {deploy.id} and skips to its result; "
        f"the whole log is at {log_url}"
    )
    now = datetime.now(UTC)
    if fmt is Format.TEXT:
        return _line(now, f"Warning: {message}")
    body = {
        "time": stamp(now),
        "event": "lagged",
        "level": "warning",
        "message": message,
        "log_url": log_url,
    }

    return _object(fmt, "lagged", body, -1)


def _text_of(item: DeployEvent) -> str:
    text = item.message
    if item.event == "pull_progress" and item.container:
        text = f"{item.container}: {text}"

    return _LEVEL_PREFIX.get(item.level, "") + text


def _line(moment: datetime, text: str) -> bytes:
    return f"{stamp(moment)} {_one_line(text)}\n".encode()


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _object(fmt: Format, name: str, body: dict[str, Any], seq: int) -> bytes:
    data = json.dumps(body, default=str, ensure_ascii=False)
    if fmt is Format.SSE:
        head = f"id: {seq}\n" if seq >= 0 else ""
        return f"{head}event: {name}\ndata: {data}\n\n".encode()

    return f"{data}\n".encode()
