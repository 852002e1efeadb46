"""Starting the TUI from the command line, and leaving it without a traceback."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from .app import EXIT_FAILED, EXIT_INTERRUPTED, Tui
from .context import Session

EXIT_NO_TERMINAL = 2
DEFAULT_DATA_DIR = Path("/data")


def run_tui(data_dir: Path | None = None, docker_host: str | None = None) -> int:
    """Run the full-screen app until the user leaves; return the exit code.

    ``data_dir`` defaults to DATA_DIR, else /data; ``docker_host`` to
    DOCKER_HOST, else the default socket. Returns 0 when the user leaves, 130
    after ctrl-c, 2 without a terminal, 1 after an unexpected failure.
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write(
            "deployd-cli: the interactive mode needs a terminal; "
            "use a subcommand (deployd-cli --help) in scripts.\n"
        )
        return EXIT_NO_TERMINAL
    session = Session(data_dir or default_data_dir(), docker_host)
    try:
        with quiet_logs():
            return asyncio.run(Tui(session).run())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        sys.stderr.write(f"deployd-cli: the interactive mode failed: {exc!r}\n")
        return EXIT_FAILED


def default_data_dir() -> Path:
    """Return DATA_DIR from the environment, else /data as in the container image."""
    return Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Keep log lines off the terminal while the full-screen app draws on it.

    What the logs would say (a token minted, a login saved) is on the screen.
    """
    saved = structlog.get_config()
    disabled = logging.root.manager.disable
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        structlog.configure(**saved)
        logging.disable(disabled)
