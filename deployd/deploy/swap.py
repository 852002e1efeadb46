"""Replacing one container, ordered so that every failure can be undone.

The old container is stopped and renamed aside before its successor is
created under its name; only when the successor runs (and is healthy, when it
has a healthcheck) is the old one removed. Any failure after the stop removes
the successor and gives the old container back its name and state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from ..docker import (
    REPLACES_LABEL,
    Container,
    ContainerSpec,
    Docker,
    Image,
    recreate_spec,
)
from ..errors import DeployFailed, EngineError, NotFound
from .events import DeployEvent, Emit
from .journal import Entry, Journal

log = structlog.get_logger(__name__)

POLL_INTERVAL = 0.1
T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """How long a new container must run, and may take to become healthy."""

    start_wait: float = 1.0
    health_timeout: float = 120.0


class StepFailed(Exception):
    """A swap step failed; carries the step's name and the reason."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


class Swap:
    """One recreate of one container; ``run`` returns the new container's id."""

    def __init__(
        self,
        docker: Docker,
        journal: Journal,
        old: Container,
        emit: Emit,
        timing: Timing,
        *,
        network_peer: str | None = None,
    ) -> None:
        self.docker = docker
        self.journal = journal
        self.old = old
        self.name = old.name
        self.emit = emit
        self.timing = timing
        self.entry = Entry(old.name, old.id, old.running)
        self.new_id: str | None = None
        # The container whose network the new one joins, when the old one's
        # peer has just been replaced under the same name.
        self.network_peer = network_peer

    async def run(self) -> str:
        """Replace the container. Raises DeployFailed, after rolling back."""
        spec = await self._spec()
        self.journal.open(self.entry)
        try:
            await self._replace(spec)
        except StepFailed as failure:
            await self._fail(failure)
        except asyncio.CancelledError:
            await asyncio.shield(self._roll_back())
            raise
        await self._remove_old()
        self.journal.close(self.name)
        assert self.new_id is not None

        return self.new_id

    async def _spec(self) -> ContainerSpec:
        """Return the new container's spec; raise DeployFailed before any change."""
        await self._require_image()
        old_image = await _image_or_none(self.docker, self.old.image_id)
        mode = await self._network_mode()
        shared = await self._shared_volumes()
        try:
            return recreate_spec(
                self.old,
                old_image,
                network_mode=mode,
                api_version=self.docker.api_tuple,
                shared_volumes=shared,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unchanged(
                f"its configuration could not be read ({exc})"
            ) from exc

    async def _require_image(self) -> None:
        if await _image_or_none(self.docker, self.old.image_ref) is None:
            raise self._unchanged(
                f"its image {self.old.image_ref} is not on this engine; push it and "
                "deploy with pull and recreate, or pull it on the host"
            )

    async def _network_mode(self) -> str:
        mode = self.old.network_mode
        if not mode.startswith("container:"):
            return mode
        if self.network_peer is not None:
            return f"container:{self.network_peer}"
        peer_id = mode.removeprefix("container:")
        peer = await self._peer(peer_id, "whose network it shares")

        return f"container:{peer.name}"

    async def _shared_volumes(self) -> frozenset[str]:
        names: set[str] = set()
        for source in self.old.volumes_from:
            owner = await self._peer(source, "it takes volumes from")
            names |= owner.volume_names
        return frozenset(names)

    async def _peer(self, name_or_id: str, relation: str) -> Container:
        try:
            return await self.docker.containers.inspect(name_or_id)
        except NotFound as exc:
            raise self._unchanged(
                f"the container {relation} ({name_or_id[:12]}) no longer exists; "
                f"recreate {self.name} by hand"
            ) from exc

    def _unchanged(self, reason: str) -> DeployFailed:
        return DeployFailed(
            f"container {self.name}: {reason}; nothing was changed",
            container=self.name,
            step="inspect",
            rolled_back=True,
        )

    async def _replace(self, spec: ContainerSpec) -> None:
        if self.old.running or self.old.restarting:
            await self._step("stop", self.docker.containers.stop(self.old.id))
            self._say("container_stopped", f"Stopped the old container {self.name}")
        await self._step(
            "rename", self.docker.containers.rename(self.old.id, self.entry.aside)
        )
        self.new_id = await self._step(
            "create", self.docker.containers.create(self.name, spec)
        )
        self._say("container_created", f"Created the new container {self.name}")
        await self._step("start", self.docker.containers.start(self.new_id))
        await self._confirm_running()

    async def _step(self, step: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except EngineError as exc:
            raise StepFailed(step, exc.message) from exc

    async def _confirm_running(self) -> None:
        assert self.new_id is not None
        started = time.monotonic()
        new = await self._inspect_new("start")
        deadline = started + self.timing.start_wait
        while time.monotonic() < deadline:
            self._check_alive(new)
            await asyncio.sleep(POLL_INTERVAL)
            new = await self._inspect_new("start")
        self._check_alive(new)
        if new.has_healthcheck:
            await self._wait_healthy(new, started)
        self._say("container_started", f"Started the new container {self.name}")

    async def _wait_healthy(self, new: Container, started: float) -> None:
        self._say("health_waiting", f"Waiting for {self.name} to become healthy")
        deadline = started + self.timing.health_timeout
        while new.health != "healthy":
            self._check_alive(new)
            if new.health == "unhealthy":
                said = f" (it said: {new.health_output})" if new.health_output else ""
                raise StepFailed(
                    "healthcheck", f"the new container became unhealthy{said}"
                )
            if time.monotonic() >= deadline:
                raise StepFailed(
                    "healthcheck",
                    f"the new container was not healthy after "
                    f"{self.timing.health_timeout:g} s",
                )
            await asyncio.sleep(POLL_INTERVAL * 5)
            new = await self._inspect_new("healthcheck")
        self._say("container_healthy", f"The new container {self.name} is healthy")

    def _check_alive(self, new: Container) -> None:
        if new.running and not new.restarting:
            return
        raise StepFailed(
            "start", f"the new container exited at once with code {new.exit_code}"
        )

    async def _inspect_new(self, step: str) -> Container:
        assert self.new_id is not None
        return await self._step(step, self.docker.containers.inspect(self.new_id))

    async def _remove_old(self) -> None:
        try:
            await self.docker.containers.remove(self.old.id, force=True)
        except EngineError as exc:
            self._say(
                "old_container_kept",
                f"Could not remove the old container {self.entry.aside}: "
                f"{exc.message}; remove it by hand",
                level="warning",
            )
            return
        self._say("old_container_removed", f"Removed the old container of {self.name}")

    async def _fail(self, failure: StepFailed) -> None:
        restored = await self._roll_back()
        outcome = "rolled back" if restored else "ROLLBACK FAILED"
        message = (
            f"container {self.name}: {failure.step} failed: {failure.reason}; "
            + (
                "the old container was restored"
                if restored
                else "the old container could not be restored, "
                f"look for {self.entry.aside}"
            )
        )
        log.error(
            "deploy_step_failed",
            container=self.name,
            step=failure.step,
            outcome=outcome,
        )
        raise DeployFailed(
            message, container=self.name, step=failure.step, rolled_back=restored
        )

    async def _roll_back(self) -> bool:
        self._say("rollback_started", f"Rolling back {self.name}", level="warning")
        ok = await restore(self.docker, self.entry, self.new_id)
        if ok:
            self.journal.close(self.name)
            self._say("rolled_back", f"Restored the old container {self.name}")
        return ok

    def _say(self, event: str, message: str, *, level: str = "info") -> None:
        self.emit(DeployEvent(event, message, container=self.name, level=level))


async def restore(docker: Docker, entry: Entry, new_id: str | None) -> bool:
    """Put the old container of ``entry`` back under its name, in its old state.

    Removes the successor: ``new_id``, or the container that bears the name
    and says by its label that it replaces the old one. Returns whether the old
    container is back.
    """
    try:
        old = await _container_or_none(docker, entry.old_id)
        current = await _container_or_none(docker, entry.name)
        if old is None:
            # Only a finished swap removes the old container.
            return current is not None
        if current is not None and current.id != old.id:
            if current.labels.get(REPLACES_LABEL) != old.id:
                log.error("rollback_blocked", container=entry.name, other=current.id)
                return False
            await docker.containers.remove(current.id, force=True)
        elif new_id is not None and current is None:
            await _remove_quietly(docker, new_id)
        if old.name != entry.name:
            await docker.containers.rename(old.id, entry.name)
        if entry.was_running and not old.running:
            await docker.containers.start(old.id)
    except EngineError as exc:
        log.error("rollback_failed", container=entry.name, reason=exc.message)
        return False

    return True


async def _remove_quietly(docker: Docker, container_id: str) -> None:
    with contextlib.suppress(NotFound):
        await docker.containers.remove(container_id, force=True)


async def _container_or_none(docker: Docker, name: str) -> Container | None:
    try:
        return await docker.containers.inspect(name)
    except NotFound:
        return None


async def _image_or_none(docker: Docker, image_id: str) -> Image | None:
    try:
        return await docker.images.inspect(image_id)
    except NotFound:
        return None
