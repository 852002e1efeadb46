"""Running a deploy plan: each container in turn, one deploy per container at a time.

``Deployer`` is what the web layer talks to. It checks a plan before the
caller is answered, runs it step by step while reporting events, and on start
repairs the swaps a killed daemon left half-done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from ..docker import Container, Docker, PullProgress, own_container_id
from ..docker import parse as parse_reference
from ..errors import DeployFailed, DeployRefused, EngineError, NotFound, PullFailed
from ..tokens.claims import Action
from .events import DeployEvent, DeployResult, Emit
from .journal import ASIDE_MARK, Journal
from .pulls import Pulls
from .swap import Swap, Timing, restore

log = structlog.get_logger(__name__)

PROGRESS_INTERVAL = 1.0
SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"


@dataclass(frozen=True)
class DeployPlan:
    """What one deploy does: the containers, in the token's order, and how."""

    containers: tuple[str, ...]
    action: Action
    cleanup: bool


class Deployer:
    """Runs deploy plans against one engine."""

    def __init__(
        self,
        docker: Docker,
        data_dir: Path,
        *,
        timing: Timing | None = None,
        own_id: str | None = None,
        max_parallel: int = 8,
    ) -> None:
        self.docker = docker
        self.journal = Journal(data_dir)
        self.timing = timing or Timing()
        self.own_id = own_id if own_id is not None else own_container_id()
        self.pulls = Pulls(docker)
        # Each container's lock, with how many deploys hold or await it.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._slots = asyncio.Semaphore(max_parallel)

    async def check(self, plan: DeployPlan) -> None:
        """Return when every container of ``plan`` exists and may be touched.

        Raises NotFound naming the first missing container, DeployRefused for
        the container deployd runs in, EngineUnreachable without an engine.
        """
        for name in plan.containers:
            try:
                container = await self.docker.containers.inspect(name)
            except NotFound as exc:
                raise NotFound(
                    f"container {name} does not exist on this engine; check the "
                    "name in the token"
                ) from exc
            self._refuse_untouchable(container)

    async def run(
        self,
        plan: DeployPlan,
        emit: Emit,
        *,
        on_start: Callable[[], None] | None = None,
    ) -> DeployResult:
        """Deploy each container in order, stopping at the first failure.

        ``on_start`` is called once, when the first container's lock and an
        engine slot are held and nothing has been touched yet: until then the
        deploy only waits. Never raises for a failed deploy: the result says
        which containers were deployed, which failed and which were left
        untouched.
        """
        deployed: list[str] = []
        emit(DeployEvent("deploy_started", _describe(plan)))
        for index, name in enumerate(plan.containers):
            if self._busy(name):
                emit(
                    DeployEvent(
                        "deploy_waiting",
                        f"Waiting for the deploy of {name} that is running now",
                        name,
                    )
                )
            try:
                async with self.lock(name), self._slots:
                    if index == 0 and on_start is not None:
                        on_start()
                    dependents = await self._deploy_one(name, plan, emit)
                deployed.append(name)
                # Outside the peer's lock: the dependents take their own.
                for dependent in dependents:
                    async with self.lock(dependent), self._slots:
                        await self._follow_peer(dependent, name, plan, emit)
            except (DeployFailed, DeployRefused, EngineError) as exc:
                return _failed(plan, deployed, index, exc)
        message = f"Deploy succeeded: {', '.join(deployed)}"

        return DeployResult(ok=True, message=message, deployed=tuple(deployed))

    def _busy(self, name: str) -> bool:
        held = self._locks.get(name)
        return held is not None and held[0].locked()

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Hold the one lock of container ``name`` while the body runs."""
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

    async def _deploy_one(
        self, name: str, plan: DeployPlan, emit: Emit
    ) -> tuple[str, ...]:
        """Deploy one container; return those that share its network namespace."""
        started = time.monotonic()
        old = await self._inspect(name)
        dependents = await self._network_dependents(old)
        if plan.action is Action.RESTART:
            await self._restart(old, emit)
        else:
            previous_image = old.image_id
            if plan.action is Action.PULL_AND_RECREATE:
                await self._pull(old, emit)
            await Swap(self.docker, self.journal, old, emit, self.timing).run()
            if plan.action is Action.PULL_AND_RECREATE and plan.cleanup:
                await self._clean_up(name, previous_image, emit)
        emit(
            DeployEvent(
                "container_deployed",
                f"Deployed {name} in {time.monotonic() - started:.1f} s",
                container=name,
            )
        )

        return dependents

    async def _network_dependents(self, peer: Container) -> tuple[str, ...]:
        """Return the containers created with ``--network container:<peer>``."""
        mode = f"container:{peer.id}"
        rows = await self.docker.containers.list(all=True)

        return tuple(row.name for row in rows if row.network_mode == mode)

    async def _follow_peer(
        self, name: str, peer: str, plan: DeployPlan, emit: Emit
    ) -> None:
        """Restart or recreate ``name``, which lives in ``peer``'s network.

        A container that shares another's network namespace loses it when
        that container stops; it must be restarted, or, when the peer was
        replaced, recreated to join the new one.
        """
        dependent = await self._inspect(name)
        verb = "Restarting" if plan.action is Action.RESTART else "Recreating"
        emit(
            DeployEvent(
                "dependent_following",
                f"{verb} {name}, which shares the network of {peer}",
                name,
            )
        )
        if plan.action is Action.RESTART:
            await self._restart(dependent, emit)
            return
        await Swap(
            self.docker, self.journal, dependent, emit, self.timing, network_peer=peer
        ).run()

    async def _inspect(self, name: str) -> Container:
        try:
            container = await self.docker.containers.inspect(name)
        except NotFound as exc:
            raise DeployFailed(
                f"container {name} does not exist; nothing was changed",
                container=name,
                step="inspect",
                rolled_back=True,
            ) from exc
        self._refuse_untouchable(container)

        return container

    def _refuse_untouchable(self, container: Container) -> None:
        if self.own_id is not None and container.id == self.own_id:
            raise DeployRefused(
                f"container {container.name} is the one deployd runs in; deployd "
                "will not replace or restart itself, update it by hand"
            )
        service = container.labels.get(SWARM_SERVICE_LABEL)
        if service:
            # Swarm would fight a replaced task: it owns the container's life.
            raise DeployRefused(
                f"container {container.name} is a task of swarm service {service}; "
                "deploy it with docker service update instead"
            )

    async def _restart(self, old: Container, emit: Emit) -> None:
        try:
            await self.docker.containers.restart(old.id)
            new = await self.docker.containers.inspect(old.id)
        except EngineError as exc:
            raise DeployFailed(
                f"container {old.name}: restart failed: {exc.message}",
                container=old.name,
                step="restart",
                rolled_back=False,
            ) from exc
        if not new.running:
            raise DeployFailed(
                f"container {old.name}: restart failed: it exited with code "
                f"{new.exit_code}",
                container=old.name,
                step="restart",
                rolled_back=False,
            )
        emit(DeployEvent("container_restarted", f"Restarted {old.name}", old.name))

    async def _pull(self, old: Container, emit: Emit) -> None:
        reference = old.image_ref
        emit(DeployEvent("image_pulling", f"Pulling {reference}", old.name))
        throttle = ProgressThrottle(emit, old.name)
        try:
            joined = await self.pulls.pull(reference, throttle.offer)
        except EngineError as exc:
            reason = exc.reason if isinstance(exc, PullFailed) else exc.message
            raise DeployFailed(
                f"container {old.name}: pull failed for {reference}: {reason}"
                f"{_login_hint(reference, reason)}; nothing was changed",
                container=old.name,
                step="pull",
                rolled_back=True,
            ) from exc
        image = await self.docker.images.inspect(reference)
        changed = image.id != old.image_id
        verdict = "a new image" if changed else "the image is unchanged"
        if joined:
            verdict += ", shared with a pull already in flight"
        emit(
            DeployEvent(
                "image_pulled",
                f"Pulled {reference}: {verdict} ({image.id[7:19]})",
                old.name,
                data={"changed": changed, "image": image.id, "shared": joined},
            )
        )

    async def _clean_up(self, name: str, previous: str, emit: Emit) -> None:
        current = await self.docker.containers.inspect(name)
        if current.image_id == previous:
            return
        short = previous.removeprefix("sha256:")[:12]
        reason = await self._reason_to_keep(previous)
        if reason is None:
            try:
                await self.docker.images.remove(previous)
            except EngineError as exc:
                reason = f"it could not be removed: {exc.message}"
        if reason is None:
            emit(DeployEvent("image_removed", f"Removed the old image {short}", name))
            return
        emit(
            DeployEvent(
                "image_kept", f"Kept the old image {short}: {reason}", name, "warning"
            )
        )

    async def _reason_to_keep(self, image_id: str) -> str | None:
        """Return why the old image must stay, or None when it may go."""
        users = await self.docker.containers.list(
            all=True, filters={"ancestor": [image_id]}
        )
        if users:
            return f"{len(users)} other container(s) still use it"
        try:
            image = await self.docker.images.inspect(image_id)
        except NotFound:
            return "it is already gone"
        if image.tags:
            # Someone named it on purpose; removing it would delete those tags.
            return f"it is still tagged {', '.join(image.tags)}"

        return None

    async def recover(self) -> list[str]:
        """Repair the swaps a killed daemon left half-done; return their names.

        Each journalled swap is rolled back: the old container gets its name
        and state back and a half-made successor is removed.
        """
        repaired = []
        for entry in self.journal.entries():
            async with self.lock(entry.name):
                ok = await restore(self.docker, entry, None)
            if ok:
                self.journal.close(entry.name)
                repaired.append(entry.name)
            log.info("swap_recovered", container=entry.name, restored=ok)
        leftovers = await self.docker.containers.list(
            all=True, filters={"name": [ASIDE_MARK]}
        )
        for leftover in leftovers:
            log.warning("aside_container_found", container=leftover.name)

        return repaired


class ProgressThrottle:
    """Passes on each change of a layer's status, and its progress once a second."""

    def __init__(self, emit: Emit, container: str) -> None:
        self.emit = emit
        self.container = container
        self._seen: dict[str, tuple[str, float]] = {}

    def offer(self, progress: PullProgress) -> None:
        now = time.monotonic()
        key = progress.layer or ""
        last_status, last_time = self._seen.get(key, ("", 0.0))
        if progress.status == last_status and now - last_time < PROGRESS_INTERVAL:
            return
        self._seen[key] = (progress.status, now)
        self.emit(
            DeployEvent(
                "pull_progress",
                _progress_text(progress),
                self.container,
                data={
                    "layer": progress.layer,
                    "status": progress.status,
                    "current": progress.current,
                    "total": progress.total,
                },
            )
        )


def _progress_text(progress: PullProgress) -> str:
    text = f"{progress.layer}: {progress.status}" if progress.layer else progress.status
    if progress.current is not None and progress.total:
        text += f" {progress.current * 100 // progress.total}%"
    return text


def _login_hint(reference: str, reason: str) -> str:
    """Return advice for a pull the registry refused for want of a login."""
    refused = ("unauthorized", "no basic auth credentials", "denied", "authentication")
    if not any(word in reason.lower() for word in refused):
        return ""
    registry = parse_reference(reference).registry

    return (
        f"; if {registry} needs a login, store one with "
        f"deployd-cli registry add {registry} --username USER --password-stdin"
    )


def _describe(plan: DeployPlan) -> str:
    names = ", ".join(plan.containers)
    return f"Deploy started: {plan.action.label} of {names}"


def _failed(
    plan: DeployPlan,
    deployed: list[str],
    index: int,
    exc: DeployFailed | DeployRefused | EngineError,
) -> DeployResult:
    # A container that follows its network peer can fail too.
    failed = exc.container if isinstance(exc, DeployFailed) else plan.containers[index]
    untouched = plan.containers[index + 1 :]
    message = f"Deploy failed: {exc.message}"
    if deployed:
        message += f"; already deployed: {', '.join(deployed)}"
    if untouched:
        message += f"; not touched: {', '.join(untouched)}"
    log.error("deploy_failed", container=failed, reason=exc.message)

    return DeployResult(
        ok=False,
        message=message,
        deployed=tuple(deployed),
        failed=(failed,),
        untouched=tuple(untouched),
    )
