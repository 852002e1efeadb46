"""The ``deployd`` command: read the settings, set up logging, run the daemon.

A setting or DATA_DIR that cannot be used ends the process with one line on
stderr and exit status 2, before anything is served.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

import structlog

from . import __version__, logs
from .config import Settings, ignored
from .errors import ConfigError
from .web.server import serve

USAGE = """\
usage: deployd [--version]

Serves the deploy API. Settings come from the environment: URL, PORT, IP,
BEHIND_PROXY, DISABLE_INDEX_PAGE, SCRIPT_TIMEOUT, WORKERS, DATA_DIR, DOCKER_HOST,
LOG_LEVEL, LOG_FORMAT, MAX_ENGINE_OPERATIONS, START_WAIT, HEALTH_TIMEOUT,
SHUTDOWN_GRACE (see the README).
"""


def main(argv: Sequence[str] | None = None) -> None:
    """Run the daemon until it is stopped; exits 2 on a configuration error."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        _answer_arguments(args)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        _refuse(exc)
    logs.configure(settings.log_level, settings.log_format)
    log = structlog.get_logger(__name__)
    for name, why in ignored(os.environ).items():
        log.warning("setting_ignored", setting=name, reason=why)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        log.error("deployd_refused", reason=exc.message)
        _refuse(exc)
    except OSError as exc:
        log.error("deployd_refused", reason=str(exc))
        sys.stderr.write(
            f"deployd: cannot listen on {settings.ip}:{settings.port}: "
            f"{exc.strerror or exc}\n"
        )
        sys.exit(1)


def _answer_arguments(args: list[str]) -> None:
    if args == ["--version"]:
        sys.stdout.write(f"deployd {__version__}\n")
        sys.exit(0)
    stream = sys.stdout if args in (["-h"], ["--help"]) else sys.stderr
    stream.write(USAGE)
    sys.exit(0 if stream is sys.stdout else 2)


def _refuse(exc: ConfigError) -> None:
    sys.stderr.write(f"deployd: {exc.message}\n")
    sys.exit(2)


if __name__ == "__main__":
    main()
