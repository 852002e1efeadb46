"""The plain ``deployd-cli`` subcommands: ``token ...`` and ``registry ...``.

Each command is a function of its parsed arguments and an ``Output``; it
returns the exit status, or raises CommandFailed or a DeploydError, which
``main`` turns into one line on stderr and status 1. The work itself is done
by the same ``Tokens`` and ``RegistryLogins`` objects the TUI uses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from deployd.docker import Docker
from deployd.docker.client import DEFAULT_HOST
from deployd.errors import EngineError, EngineUnreachable
from deployd.registries import RegistryLogins, check_and_add, normalise_host
from deployd.tokens import Action, IssuedToken, Tokens, parse_expiry
from deployd.tokens.durations import NEVER

Handler = Callable[[argparse.Namespace, "Output"], int]


class CommandFailed(Exception):
    """A command could not do its job; the message is the line to show."""


@dataclass
class Output:
    """Where commands write: results to ``stdout``, messages to ``stderr``."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)

    def line(self, text: str = "") -> None:
        """Write one line of result to stdout."""
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        """Write one line of explanation to stderr, prefixed with the program name."""
        self.stderr.write(f"deployd-cli: {text}\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Write ``rows`` under ``headers`` in left-aligned columns."""
        widths = [
            max(len(cell) for cell in column)
            for column in zip(headers, *rows, strict=True)
        ]
        for row in (headers, *rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.line("  ".join(cells).rstrip())


def data_dir() -> Path:
    """Return DATA_DIR from the environment, ``./data`` when it is not set."""
    return Path(os.environ.get("DATA_DIR") or "data")


def engine_address() -> str:
    """Return DOCKER_HOST from the environment, else the engine's default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def token_create(args: argparse.Namespace, out: Output) -> int:
    """Mint a token and print only the token, so that it can be piped."""
    action = Action.from_slug(args.action)
    containers: list[str] = args.container
    tokens = Tokens(data_dir())
    if not args.no_verify:
        _check_containers_exist(containers)
    token, _ = tokens.mint(
        containers,
        action,
        cleanup=action is Action.PULL_AND_RECREATE and not args.no_cleanup,
        expires_in=args.expires,
    )
    out.line(token)

    return 0


def token_list(args: argparse.Namespace, out: Output) -> int:
    """Print the tokens minted in DATA_DIR as a table."""
    issued = Tokens(data_dir()).issued()
    if not issued:
        out.line("No tokens issued yet; create one with `deployd-cli token create`.")
        return 0
    headers = ("ID", "CONTAINERS", "ACTION", "CLEANUP", "CREATED", "EXPIRES", "REVOKED")
    out.table(headers, [_issued_row(token) for token in issued])

    return 0


def token_revoke(args: argparse.Namespace, out: Output) -> int:
    """Revoke a token given in full or by id, and say what happened."""
    outcome = Tokens(data_dir()).revoke(args.token)
    out.line(f"Token {outcome.value}.")

    return 0


def token_inspect(args: argparse.Namespace, out: Output) -> int:
    """Print what a token allows and whether it would be accepted now."""
    inspection = Tokens(data_dir()).inspect(args.token)
    claims = inspection.claims
    fields = (
        ("id", claims.token_id or "none (signed by the original tool)"),
        ("fingerprint", claims.fingerprint),
        ("containers", ", ".join(claims.containers)),
        ("action", f"{claims.action.label} ({claims.action.slug})"),
        ("cleanup", _yes_no(claims.cleanup)),
        ("issued", _when(claims.issued_at, "unknown")),
        ("expires", _when(claims.expires_at, NEVER)),
        ("expired", _yes_no(inspection.expired)),
        ("revoked", _yes_no(inspection.revoked)),
    )
    for name, value in fields:
        out.line(f"{name + ':':<13}{value}")

    return 0


def registry_add(args: argparse.Namespace, out: Output) -> int:
    """Store a registry login, reading the password from stdin.

    The engine tries the login first (as the TUI does), unless ``--no-verify``.
    """
    password = out.stdin.read().removesuffix("\n").removesuffix("\r")
    host = normalise_host(args.host)
    logins = RegistryLogins(data_dir())
    try:
        replaced = asyncio.run(
            _check_and_add(logins, args.host, args.username, password, args.no_verify)
        )
    except EngineUnreachable as exc:
        raise CommandFailed(
            f"cannot check the login on {engine_address()} (DOCKER_HOST): "
            f"{exc.message}; nothing was saved; start the engine or set "
            "DOCKER_HOST, or pass --no-verify to save it unchecked"
        ) from exc
    except EngineError as exc:
        raise CommandFailed(
            f"the registry {host} refused the login for user {args.username}: "
            f"{exc.message}; nothing was saved"
        ) from exc
    verb = "Replaced" if replaced else "Saved"
    checked = "" if args.no_verify else ", which the registry accepted"
    out.line(f"{verb} the login for {host}{checked}.")

    return 0


def registry_list(args: argparse.Namespace, out: Output) -> int:
    """Print the stored registry logins, never their passwords."""
    logins = RegistryLogins(data_dir()).list()
    if not logins:
        out.line("No registry logins stored; add one with `deployd-cli registry add`.")
        return 0
    out.table(("HOST", "USERNAME"), [(login.host, login.username) for login in logins])

    return 0


def registry_remove(args: argparse.Namespace, out: Output) -> int:
    """Forget a registry login; fails when there was none for that host."""
    host = normalise_host(args.host)
    if not RegistryLogins(data_dir()).remove(args.host):
        raise CommandFailed(f"no login is stored for {host}; nothing was removed")
    out.line(f"Removed the login for {host}.")

    return 0


def registry_host(text: str) -> str:
    """Check ``HOST`` for argparse: Docker Hub too must be named (docker.io)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the host is empty; name the registry, such as ghcr.io, "
            "or docker.io for Docker Hub"
        )

    return text


def expiry(text: str) -> timedelta | None:
    """Parse ``--expires`` for argparse: a duration, or ``never`` for None."""
    try:
        return parse_expiry(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _check_containers_exist(names: Sequence[str]) -> None:
    try:
        present = asyncio.run(_container_names())
    except EngineError as exc:
        raise CommandFailed(
            f"cannot check the containers on {engine_address()} (DOCKER_HOST): "
            f"{exc.message}; or pass --no-verify to skip the check"
        ) from exc
    missing = [name for name in names if name.removeprefix("/") not in present]
    if missing:
        raise CommandFailed(
            f"no container named {', '.join(missing)} on the engine at "
            f"{engine_address()}; check the name with `docker ps -a`, "
            "or pass --no-verify"
        )


async def _check_and_add(
    logins: RegistryLogins, host: str, username: str, password: str, unchecked: bool
) -> bool:
    if unchecked:
        return await check_and_add(logins, None, host, username, password)
    async with Docker.from_env(engine_address()) as docker:
        return await check_and_add(logins, docker, host, username, password)


async def _container_names() -> set[str]:
    async with Docker.from_env(engine_address()) as docker:
        summaries = await docker.containers.list(all=True)

    return {summary.name for summary in summaries}


def _issued_row(token: IssuedToken) -> tuple[str, ...]:
    expires = _when(token.expires_at, NEVER)
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        expires += " (expired)"

    return (
        token.token_id,
        ",".join(token.containers),
        token.action.slug,
        _yes_no(token.cleanup) if token.action is Action.PULL_AND_RECREATE else "-",
        _when(token.created_at, "unknown"),
        expires,
        _yes_no(token.revoked),
    )


def _when(moment: datetime | None, missing: str) -> str:
    if moment is None:
        return missing

    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"
