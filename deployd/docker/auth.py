"""Registry credentials for pulls, in the order a user expects them to apply.

First deployd's own ``DATA_DIR/registry-auth.json`` (the original tool's file),
then the ``auths`` of ``~/.docker/config.json``, then its ``credHelpers`` or
``credsStore`` through ``docker-credential-NAME get``. The result goes to the
engine as the ``X-Registry-Auth`` header and is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from .references import normalise_registry

log = structlog.get_logger(__name__)

HELPER_TIMEOUT = 10.0


class Credentials:
    """Finds the login for a registry host; holds no secrets between calls."""

    def __init__(
        self, data_dir: Path | None = None, docker_config: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.docker_config = docker_config or default_docker_config()

    async def header_for(self, registry: str) -> str | None:
        """Return the X-Registry-Auth value for ``registry``; None without a login."""
        auth = self._from_data_dir(registry) or self._from_docker_config(registry)
        if auth is None:
            auth = await self._from_helper(registry)
        if auth is None:
            return None
        log.debug("registry_auth_found", registry=registry)
        auth["serveraddress"] = registry
        encoded = base64.urlsafe_b64encode(json.dumps(auth).encode())

        return encoded.decode()

    def _from_data_dir(self, registry: str) -> dict[str, str] | None:
        if self.data_dir is None:
            return None
        from ..registries import RegistryLogins

        login = RegistryLogins(self.data_dir).get(registry)
        if login is None:
            return None
        username, password = login

        return {"username": username, "password": password}

    def _config(self) -> Mapping[str, Any]:
        try:
            with open(self.docker_config, encoding="utf-8") as file:
                config = json.load(file)
        except (OSError, ValueError):
            return {}
        return config if isinstance(config, dict) else {}

    def _from_docker_config(self, registry: str) -> dict[str, str] | None:
        for host, entry in (self._config().get("auths") or {}).items():
            if normalise_registry(host) != registry or not isinstance(entry, dict):
                continue
            if entry.get("identitytoken"):
                return {"identitytoken": str(entry["identitytoken"])}
            if entry.get("auth"):
                return _decode_basic(str(entry["auth"]))
            if entry.get("username"):
                return {
                    "username": str(entry["username"]),
                    "password": str(entry.get("password", "")),
                }
        return None

    async def _from_helper(self, registry: str) -> dict[str, str] | None:
        config = self._config()
        helpers = config.get("credHelpers") or {}
        helper = next(
            (
                name
                for host, name in helpers.items()
                if normalise_registry(host) == registry
            ),
            config.get("credsStore"),
        )
        if not helper:
            return None
        server = "https://index.docker.io/v1/" if registry == "docker.io" else registry

        return await _ask_helper(str(helper), server)


async def _ask_helper(helper: str, server: str) -> dict[str, str] | None:
    try:
        process = await asyncio.create_subprocess_exec(
            f"docker-credential-{helper}",
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(
            process.communicate(server.encode()), HELPER_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        log.warning("credential_helper_failed", helper=helper, reason=str(exc))
        return None
    if process.returncode != 0:
        return None
    try:
        answer = json.loads(out)
    except ValueError:
        return None
    username, secret = answer.get("Username", ""), answer.get("Secret", "")
    if username == "<token>":
        return {"identitytoken": secret}

    return {"username": username, "password": secret}


def _decode_basic(value: str) -> dict[str, str] | None:
    try:
        decoded = base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")

    return {"username": username, "password": password} if sep else None


def default_docker_config() -> Path:
    """Return where the docker CLI keeps its config.json for this user."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")

    return Path(base) / "config.json"
