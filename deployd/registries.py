"""Registry logins for pulls, kept in DATA_DIR/registry-auth.json.

The file is the original tool's: a JSON object from registry host to
``{"auth": base64("user:password")}``. Entries written as
``{"username": ..., "password": ...}`` are read too. deployd writes the
``auth`` form so the original tool can still read the file, and changes only
the entry it adds or removes. Passwords never leave this module except through
``RegistryLogins.get``, which the engine client uses to build its auth header,
and ``check_and_add``, which has the engine try a login before it is stored
(the CLI and the TUI both add logins through it).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from deployd.docker.references import normalise_registry
from deployd.errors import ConfigError
from deployd.tokens.jsonfiles import read_json, write_json

if TYPE_CHECKING:
    from deployd.docker import Docker

log = structlog.get_logger(__name__)

AUTH_FILE = "registry-auth.json"
DOCKER_HUB = "docker.io"
# The address the engine's /auth expects for Docker Hub, as `docker login` sends it.
DOCKER_HUB_AUTH = "https://index.docker.io/v1/"

# A host name or address with an optional port, as image references carry them.
_HOST = re.compile(
    r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?|\[[0-9a-f:.]+\](:[0-9]{1,5})?"
)


def normalise_host(text: str) -> str:
    """Return the registry host that ``text`` names, as logins are filed under.

    Scheme, path and case are dropped, and every Docker Hub alias (including
    the empty string) becomes ``docker.io``.
    """
    return normalise_registry(text)


def auth_server(host: str) -> str:
    """Return the server address the engine checks a login for ``host`` against."""
    return DOCKER_HUB_AUTH if normalise_host(host) == DOCKER_HUB else host


async def check_and_add(
    logins: RegistryLogins,
    docker: Docker | None,
    host: str,
    username: str,
    password: str,
) -> bool:
    """Have the engine log in to ``host``, then store the login; return True when
    it replaced one.

    With ``docker`` None the login is stored unchecked. The login is checked for
    what the file can hold before the engine is asked. Raises ConfigError when
    it cannot be stored, EngineUnreachable when no engine answers, and
    EngineError with the registry's reason when the registry refuses the login;
    nothing is stored then.
    """
    wanted = _checked_host(host)
    _check_login(username, password)
    if docker is not None:
        await docker.system.auth(auth_server(wanted), username, password)
        log.info("registry_login_checked", host=wanted)

    return logins.add(wanted, username, password)


@dataclass(frozen=True)
class RegistryLogin:
    """A stored login, without its password."""

    host: str
    username: str


class RegistryLogins:
    """The registry-auth.json of one DATA_DIR, read afresh on every call."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / AUTH_FILE

    def list(self) -> list[RegistryLogin]:
        """Return the stored logins sorted by host, without passwords.

        Raises ConfigError when the file is unreadable or not a JSON object.
        """
        logins = [
            RegistryLogin(host=normalise_host(host), username=login[0])
            for host, entry in self._entries().items()
            if (login := _decode(entry, host)) is not None
        ]

        return sorted(logins, key=lambda login: login.host)

    def get(self, host: str) -> tuple[str, str] | None:
        """Return ``(username, password)`` for ``host``, or None without a login.

        Hosts match after normalise_host, so every Docker Hub alias finds the
        Docker Hub login. Raises ConfigError like ``list``.
        """
        wanted = normalise_host(host)
        for stored, entry in self._entries().items():
            if normalise_host(stored) == wanted:
                return _decode(entry, stored)

        return None

    def add(self, host: str, username: str, password: str) -> bool:
        """Store a login for ``host``; return True when it replaced one.

        Raises ConfigError when the host, username or password cannot be
        stored, or the file cannot be read or written.
        """
        wanted = _checked_host(host)
        _check_login(username, password)
        entries = self._entries()
        kept = {h: e for h, e in entries.items() if normalise_host(h) != wanted}
        secret = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        write_json(self._path, {**kept, wanted: {"auth": secret}})
        replaced = len(kept) != len(entries)
        log.info("registry_login_saved", host=wanted, replaced=replaced)

        return replaced

    def remove(self, host: str) -> bool:
        """Forget the login for ``host``; return whether there was one.

        Raises ConfigError when the file cannot be read or written.
        """
        wanted = normalise_host(host)
        entries = self._entries()
        kept = {h: e for h, e in entries.items() if normalise_host(h) != wanted}
        if len(kept) == len(entries):
            return False
        write_json(self._path, kept)
        log.info("registry_login_removed", host=wanted)

        return True

    def _entries(self) -> dict[str, Any]:
        value = read_json(self._path)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(
                f"{self._path} is not a JSON object of registry logins; "
                "fix or remove it, then try again"
            )

        return value


def _decode(entry: Any, host: str) -> tuple[str, str] | None:
    """Return the login in one entry, in either form; None when it is unreadable."""
    login = None
    if isinstance(entry, dict):
        login = _decode_auth(entry.get("auth")) or _decode_plain(entry)
    if login is None:
        log.warning("registry_login_unreadable", host=host, file=AUTH_FILE)

    return login


def _decode_auth(auth: Any) -> tuple[str, str] | None:
    if not isinstance(auth, str):
        return None
    try:
        decoded = base64.b64decode(auth, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")

    return (username, password) if colon else None


def _decode_plain(entry: dict[str, Any]) -> tuple[str, str] | None:
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str):
        return username, password

    return None


def _checked_host(text: str) -> str:
    if not text.strip():
        # normalise_host files "" under Docker Hub; a login must name its registry.
        raise ConfigError(
            "the registry host is empty; name it, such as ghcr.io, or docker.io "
            "for Docker Hub"
        )
    host = normalise_host(text)
    if not _HOST.fullmatch(host):
        raise ConfigError(
            f"{text!r} is not a registry host; write it as an image reference "
            "starts, such as ghcr.io or 127.0.0.1:5000"
        )

    return host


def _check_login(username: str, password: str) -> None:
    if not username or ":" in username:
        raise ConfigError(
            "the username must not be empty or contain a colon; "
            "registries cannot read such a login"
        )
    if not password:
        raise ConfigError("the password is empty; pass it on stdin")
