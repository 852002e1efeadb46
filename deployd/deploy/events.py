"""What a deploy reports while it runs, and what it comes to in the end.

The deploy engine emits ``DeployEvent``s to a callback; the web layer renders
them as text lines, NDJSON or server-sent events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeployEvent:
    """One step of a deploy: a snake_case event name and a sentence for people."""

    event: str
    message: str
    container: str | None = None
    level: str = "info"
    time: datetime = field(default_factory=utcnow)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeployResult:
    """How a deploy ended, container by container."""

    ok: bool
    message: str
    deployed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()


Emit = Callable[[DeployEvent], None]
