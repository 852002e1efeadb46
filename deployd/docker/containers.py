"""Container calls of the Engine API: list, inspect, create, start, stop, ..."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .models import Container, ContainerSummary
from .specs import ContainerSpec

if TYPE_CHECKING:
    from .client import Docker

# Stops and restarts wait for the container's own stop timeout, which the
# user may have set to minutes.
SLOW = 900.0


class Containers:
    """The ``/containers`` resource of one engine."""

    def __init__(self, docker: Docker) -> None:
        self._docker = docker

    async def list(
        self, *, all: bool = False, filters: dict[str, list[str]] | None = None
    ) -> list[ContainerSummary]:
        """Return the containers, running ones only unless ``all``."""
        params: dict[str, str | int | bool] = {"all": all}
        if filters:
            params["filters"] = json.dumps(filters)
        rows = await self._docker.request("GET", "/containers/json", params=params)

        return [ContainerSummary.from_engine(row) for row in rows]

    async def inspect(self, name_or_id: str) -> Container:
        """Return the inspected container. Raises NotFound when there is none."""
        body = await self._docker.request("GET", f"/containers/{name_or_id}/json")

        return Container.from_engine(body)

    async def create(self, name: str, spec: ContainerSpec) -> str:
        """Create a container named ``name`` from ``spec`` and return its id.

        Networks the engine cannot take at create time (API before 1.44) are
        connected before returning; the container is not started.
        """
        body = await self._docker.request(
            "POST", "/containers/create", params={"name": name}, body=spec.body
        )
        container_id = str(body["Id"])
        for network, endpoint in spec.later_networks.items():
            await self._docker.networks.connect(network, container_id, endpoint)

        return container_id

    async def start(self, name_or_id: str) -> None:
        await self._docker.request("POST", f"/containers/{name_or_id}/start")

    async def stop(self, name_or_id: str, *, timeout: int | None = None) -> None:
        """Stop a container; without ``timeout`` the engine uses the container's own."""
        params = {"t": timeout} if timeout is not None else None
        await self._docker.request(
            "POST", f"/containers/{name_or_id}/stop", params=params, timeout=SLOW
        )

    async def restart(self, name_or_id: str, *, timeout: int | None = None) -> None:
        params = {"t": timeout} if timeout is not None else None
        await self._docker.request(
            "POST", f"/containers/{name_or_id}/restart", params=params, timeout=SLOW
        )

    async def rename(self, name_or_id: str, new_name: str) -> None:
        await self._docker.request(
            "POST", f"/containers/{name_or_id}/rename", params={"name": new_name}
        )

    async def remove(
        self, name_or_id: str, *, force: bool = False, volumes: bool = False
    ) -> None:
        """Remove a container; anonymous volumes stay unless ``volumes``."""
        await self._docker.request(
            "DELETE",
            f"/containers/{name_or_id}",
            params={"force": force, "v": volumes},
        )
