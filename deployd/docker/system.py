"""Engine-wide calls: ping, version, and checking a registry login."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Docker


class System:
    """Calls that concern the engine as a whole."""

    def __init__(self, docker: Docker) -> None:
        self._docker = docker

    async def ping(self) -> None:
        """Return when the engine answers. Raises EngineUnreachable or EngineError."""
        await self._docker.request("GET", "/_ping", timeout=5)

    async def version(self) -> Mapping[str, Any]:
        """Return the engine's version description."""
        body: Mapping[str, Any] = await self._docker.request("GET", "/version")

        return body

    async def auth(self, server: str, username: str, password: str) -> None:
        """Check a registry login through the engine.

        Raises EngineError (status 401 or 500 with the registry's message)
        when the registry refuses it, EngineUnreachable without an engine.
        """
        await self._docker.request(
            "POST",
            "/auth",
            body={
                "username": username,
                "password": password,
                "serveraddress": server,
            },
            timeout=30,
        )
