"""Logging for the daemon: structlog events, JSON for machines, console for people.

``configure`` routes structlog and the standard library's loggers (aiohttp's
among them) through one handler, so every line has the same shape. Values
bound with ``structlog.contextvars`` (the request id, a deploy's id) join each
line. A last processor blanks anything shaped like a PASETO token and the
values of secret-sounding keys, so that a mistake elsewhere cannot put a
token or a password into the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.types import Processor

# A PASETO token in any version and purpose; its payload is all that matters.
_TOKEN = re.compile(r"\bv[1-4]\.(?:public|local)\.[A-Za-z0-9_\-.]+")
_SECRET_KEYS = frozenset(
    {"password", "passwd", "secret", "authorization", "x_deploy_token", "auth"}
)
REDACTED = "[redacted]"


def configure(
    level: str = "info", fmt: str | None = None, stream: TextIO | None = None
) -> None:
    """Set up logging for the whole process; later calls replace earlier ones.

    ``fmt`` is ``json`` or ``console``; None picks console when ``stream`` (stdout
    by default) is a terminal and JSON otherwise.
    """
    stream = stream if stream is not None else sys.stdout
    if fmt is None:
        fmt = "console" if stream.isatty() else "json"
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                _renderer(fmt),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    # aiohttp's access log repeats what the request middleware logs already.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def redact(
    logger: object, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Return the event with tokens and secret-keyed values blanked out."""
    for key, value in event_dict.items():
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(value)

    return event_dict


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKEN.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]

    return value


def _renderer(fmt: str) -> Processor:
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.plain_traceback
        )

    return structlog.processors.JSONRenderer(default=str)
