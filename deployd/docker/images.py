"""Image calls of the Engine API: pull, inspect, list, remove."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..errors import EngineError, EngineUnreachable, PullFailed
from . import references
from .models import Image, PullProgress

if TYPE_CHECKING:
    from .client import Docker


class Images:
    """The ``/images`` resource of one engine."""

    def __init__(self, docker: Docker) -> None:
        self._docker = docker

    async def pull(self, reference: str) -> AsyncIterator[PullProgress]:
        """Pull ``reference`` and yield its progress events as they arrive.

        Credentials come from the client's ``Credentials``. Raises PullFailed
        when the engine refuses the pull or reports an error inside the
        stream (which it does with HTTP 200), EngineUnreachable without an
        engine.
        """
        if references.is_image_id(reference):
            raise PullFailed(
                f"image {reference} is an image id, not a name a registry knows; "
                "create the container from a named image to pull updates"
            )
        ref = references.parse(reference)
        headers = {}
        auth = await self._docker.credentials.header_for(ref.registry)
        if auth is not None:
            headers["X-Registry-Auth"] = auth
        params = {"fromImage": ref.name, "tag": ref.version}
        try:
            async for event in self._docker.stream(
                "POST", "/images/create", params=params, headers=headers
            ):
                if "error" in event or "errorDetail" in event:
                    detail = event.get("errorDetail") or {}
                    raise _pull_failed(
                        reference, str(event.get("error") or detail.get("message"))
                    )
                yield PullProgress.from_engine(event)
        except (PullFailed, EngineUnreachable):
            raise
        except EngineError as exc:
            raise _pull_failed(reference, exc.message, exc.status) from exc

    async def inspect(self, name_or_id: str) -> Image:
        """Return the inspected image. Raises NotFound when it is not present."""
        body = await self._docker.request("GET", f"/images/{name_or_id}/json")

        return Image.from_engine(body)

    async def list(self) -> list[str]:
        """Return the ids of the images present on the engine."""
        rows = await self._docker.request("GET", "/images/json")

        return [str(row["Id"]) for row in rows]

    async def remove(self, name_or_id: str, *, force: bool = False) -> None:
        """Remove an image. Raises Conflict while a container still uses it."""
        await self._docker.request(
            "DELETE", f"/images/{name_or_id}", params={"force": force}
        )


def _pull_failed(reference: str, reason: str, status: int = 500) -> PullFailed:
    return PullFailed(
        f"pull of {reference} failed: {reason}", status=status, reason=reason
    )
