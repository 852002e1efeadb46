"""Running ``deployd-cli`` in-process for the CLI tests, and undoing what it sets up.

``main`` configures logging for the whole process, as a program's entry point
should; the tests put the previous configuration back so that later tests
capture logs as before.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import structlog

from deployd.cli.main import main


@dataclass(frozen=True)
class Result:
    """What one run of the CLI returned and printed."""

    status: int
    out: str
    err: str


def run_cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> Result:
    """Run ``deployd-cli ARGV`` with ``stdin`` and return its status and output."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    # Drop what the test's own setup printed (structlog's default is stdout).
    capsys.readouterr()
    with preserved_logging():
        status = main(list(argv))
    captured = capsys.readouterr()

    return Result(status, captured.out, captured.err)


@contextmanager
def preserved_logging() -> Iterator[None]:
    """Restore structlog's and the root logger's configuration on the way out."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers = handlers
        root.setLevel(level)
