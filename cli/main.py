"""``deployd-cli``: the operator's command line, and the entry point of the TUI.

Without arguments it opens the full-screen TUI; with a subcommand it does one
job and exits 0 when done, 1 when it failed (one line on stderr, never a
traceback) and 2 when the command line itself was wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from deployd.errors import DeploydError
from deployd.logs import configure as configure_logging
from deployd.tokens import Action

from . import commands
from .commands import CommandFailed, Output

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_ENVIRONMENT = """\
environment:
  DATA_DIR     where key.pem and the token and login files live (default ./data)
  DOCKER_HOST  the engine that checks containers and registry logins
               (default unix:///var/run/docker.sock)

Run without arguments to open the interactive TUI.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``deployd-cli`` with ``argv`` (default: the process's); return its status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    out = Output()
    if not arguments:
        return _open_tui(out)
    try:
        parsed = build_parser().parse_args(arguments)
    except SystemExit as exc:
        # argparse has printed the help (status 0) or the usage error (status 2).
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    # Warnings and errors go to stderr, so that stdout carries results only.
    configure_logging(level="warning", stream=out.stderr)

    return _run(parsed, out)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every subcommand, each with its own ``--help``."""
    parser = argparse.ArgumentParser(
        prog="deployd-cli",
        description="Create and revoke deploy tokens and store registry logins.",
        epilog=_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_token_commands(groups)
    _add_registry_commands(groups)

    return parser


def _add_token_commands(groups: Any) -> None:
    token = groups.add_parser(
        "token", help="create, list, revoke and inspect deploy tokens"
    )
    verbs = token.add_subparsers(title="token commands", required=True, metavar="VERB")

    create = verbs.add_parser(
        "create",
        help="create a deploy token and print it",
        description="Create a deploy token and print only the token on stdout.",
    )
    create.add_argument(
        "--container",
        action="append",
        required=True,
        metavar="NAME",
        help="a container the token may deploy (repeat for more)",
    )
    create.add_argument(
        "--action",
        required=True,
        choices=[action.slug for action in Action],
        help="what a deploy does: pull the image and recreate, recreate, or restart",
    )
    create.add_argument(
        "--no-cleanup",
        action="store_true",
        help="keep the old image after pull-recreate (removed by default)",
    )
    create.add_argument(
        "--expires",
        type=commands.expiry,
        default=None,
        metavar="DURATION",
        help="lifetime such as 30m, 24h, 7d, 4w or 1y, or 'never' (the default)",
    )
    create.add_argument(
        "--no-verify",
        action="store_true",
        help="do not check on the engine that the containers exist",
    )
    create.set_defaults(handler=commands.token_create)

    listing = verbs.add_parser("list", help="list the tokens created here")
    listing.set_defaults(handler=commands.token_list)

    revoke = verbs.add_parser("revoke", help="revoke a token, given in full or by id")
    revoke.add_argument("token", metavar="TOKEN|ID")
    revoke.set_defaults(handler=commands.token_revoke)

    inspect = verbs.add_parser(
        "inspect", help="show what a token allows and whether it is still valid"
    )
    inspect.add_argument("token", metavar="TOKEN")
    inspect.set_defaults(handler=commands.token_inspect)


def _add_registry_commands(groups: Any) -> None:
    registry = groups.add_parser(
        "registry", help="store the logins deployd uses to pull images"
    )
    verbs = registry.add_subparsers(
        title="registry commands", required=True, metavar="VERB"
    )

    add = verbs.add_parser(
        "add",
        help="store or replace the login for a registry",
        description="Check a registry login with the engine (DOCKER_HOST), then "
        "store it; the password is read on stdin.",
    )
    add.add_argument(
        "host",
        type=commands.registry_host,
        metavar="HOST",
        help="such as ghcr.io, or docker.io for Docker Hub",
    )
    add.add_argument("--username", required=True, metavar="USER")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from stdin (required, so it stays out of history)",
    )
    add.add_argument(
        "--no-verify",
        action="store_true",
        help="save the login without having the engine try it on the registry",
    )
    add.set_defaults(handler=commands.registry_add)

    listing = verbs.add_parser("list", help="list stored logins, without passwords")
    listing.set_defaults(handler=commands.registry_list)

    remove = verbs.add_parser("remove", help="forget the login for a registry")
    remove.add_argument("host", metavar="HOST")
    remove.set_defaults(handler=commands.registry_remove)


def _run(parsed: argparse.Namespace, out: Output) -> int:
    handler: commands.Handler = parsed.handler
    try:
        return handler(parsed, out)
    except (DeploydError, CommandFailed) as exc:
        out.error(str(exc))
    except KeyboardInterrupt:
        out.error("interrupted")
    except Exception as exc:
        # The promise is one line and no traceback, even for a failure nobody foresaw.
        out.error(f"unexpected {type(exc).__name__}: {exc}")

    return EXIT_FAILED


def _open_tui(out: Output) -> int:
    try:
        from .tui import run_tui
    except ImportError as exc:
        out.error(f"the TUI is not available ({exc}); use a subcommand, see --help")
        return EXIT_FAILED

    return run_tui(commands.data_dir())


if __name__ == "__main__":
    sys.exit(main())
