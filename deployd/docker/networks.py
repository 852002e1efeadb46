"""Network calls of the Engine API: inspect, connect, disconnect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Docker


class Networks:
    """The ``/networks`` resource of one engine."""

    def __init__(self, docker: Docker) -> None:
        self._docker = docker

    async def inspect(self, name_or_id: str) -> Mapping[str, Any]:
        """Return the engine's description of a network. Raises NotFound."""
        body: Mapping[str, Any] = await self._docker.request(
            "GET", f"/networks/{name_or_id}"
        )

        return body

    async def connect(
        self,
        network: str,
        container: str,
        endpoint: Mapping[str, Any] | None = None,
    ) -> None:
        """Attach a container to a network with the given EndpointSettings."""
        await self._docker.request(
            "POST",
            f"/networks/{network}/connect",
            body={"Container": container, "EndpointConfig": dict(endpoint or {})},
        )

    async def disconnect(
        self, network: str, container: str, *, force: bool = False
    ) -> None:
        await self._docker.request(
            "POST",
            f"/networks/{network}/disconnect",
            body={"Container": container, "Force": force},
        )
