"""Pulls of one image reference that overlap share a single engine pull.

When thirty pipelines deploy containers of one image at once, the engine
pulls it once; every deploy that asked sees the same progress from the moment
it joined, and the same outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from ..docker import Docker, PullProgress

log = structlog.get_logger(__name__)

Listener = Callable[[PullProgress], None]


class SharedPull:
    """One engine pull, with any number of listeners for its progress."""

    def __init__(self, docker: Docker, reference: str) -> None:
        self.reference = reference
        self.listeners: list[Listener] = []
        self.task = asyncio.create_task(self._run(docker))

    async def _run(self, docker: Docker) -> None:
        async for progress in docker.images.pull(self.reference):
            for listener in list(self.listeners):
                listener(progress)


class Pulls:
    """The pulls in flight on one engine, by image reference."""

    def __init__(self, docker: Docker) -> None:
        self.docker = docker
        self._running: dict[str, SharedPull] = {}
        self.started = 0

    async def pull(self, reference: str, listener: Listener) -> bool:
        """Pull ``reference``, joining a pull of it already in flight.

        Returns whether this call joined another's pull. Raises PullFailed or
        EngineUnreachable as the engine pull does.
        """
        shared = self._running.get(reference)
        joined = shared is not None
        if shared is None:
            shared = SharedPull(self.docker, reference)
            self._running[reference] = shared
            self.started += 1
            shared.task.add_done_callback(lambda _: self._forget(shared))
        shared.listeners.append(listener)
        try:
            # A deploy cancelled while it waits must not cancel the others' pull.
            await asyncio.shield(shared.task)
        finally:
            shared.listeners.remove(listener)
        log.debug("image_pull_shared", reference=reference, joined=joined)

        return joined

    def _forget(self, shared: SharedPull) -> None:
        if self._running.get(shared.reference) is shared:
            del self._running[shared.reference]
