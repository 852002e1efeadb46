"""The registry of deploys: each runs as its own task, and any number may read its log.

``Deploys.start`` turns an accepted plan into a ``Deploy`` record and a task
that runs it, so a caller that goes away never stops a deploy. A request for
a plan that another deploy is still queued for (waiting for a container that
an earlier deploy holds) joins that deploy instead: it would pull the same
newest image, so one deploy waits behind a running one at most. The record
keeps every event in memory; ``Deploy.follow`` hands a reader the events so
far and then the new ones as they come, through a bounded buffer: a reader
that falls that far behind is cut off (``Follower.lagged``) instead of ever
holding up the deploy. The registry keeps the most recent deploys only, and
writes each one to the ``History`` when it is accepted, begins and ends, so
that its outcome outlives a restart (its log does not), and a deploy cut off
by a kill is recorded as failed by the next start (``Deploys.settle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

import structlog

from ..deploy import Deployer, DeployEvent, DeployPlan, DeployResult
from ..deploy.events import utcnow
from .history import History, Record

log = structlog.get_logger(__name__)

KEEP_DEPLOYS = 1000
FOLLOWER_BUFFER = 1000
# Beyond this many events a deploy keeps no more pull progress in its log.
KEEP_EVENTS = 5000


class Status(enum.StrEnum):
    """Where a deploy is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(eq=False)
class Deploy:
    """One accepted deploy: what it does, who asked, and what it said so far."""

    id: str
    plan: DeployPlan
    client: str
    token: str
    status: Status = Status.QUEUED
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    result: DeployResult | None = None
    events: list[DeployEvent] = field(default_factory=list)
    # False for a deploy of an earlier run, known from the history alone.
    log_kept: bool = True
    # How many later requests joined this deploy while it was queued.
    joined: int = 0
    _followers: set[Follower] = field(default_factory=set, repr=False)
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @classmethod
    def restored(cls, record: Record) -> Deploy:
        """Return the deploy of an earlier run ``record`` describes, without its log.

        A deploy that run never finished is told as failed, which it is.
        """
        if not record.finished:
            record = settled(record, None)
        ok = record.status == Status.SUCCEEDED
        deploy = cls(
            id=record.id,
            plan=DeployPlan(record.containers, record.action, record.cleanup),
            client=record.client,
            token=record.token_fingerprint,
            status=Status(record.status),
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            message=record.message,
            result=DeployResult(
                ok=ok,
                message=record.message,
                deployed=record.deployed,
                failed=record.failed,
                untouched=record.untouched,
            ),
            log_kept=False,
        )
        deploy._done.set()

        return deploy

    def record(self) -> Record:
        """Return what the history keeps of this deploy."""
        result = self.result

        return Record(
            id=self.id,
            containers=self.plan.containers,
            action=self.plan.action,
            cleanup=self.plan.cleanup,
            status=self.status.value,
            message=self.message,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            client=self.client,
            token_fingerprint=self.token,
            deployed=result.deployed if result else (),
            failed=result.failed if result else (),
            untouched=result.untouched if result else (),
        )

    @property
    def finished(self) -> bool:
        """Return whether the deploy has succeeded or failed."""
        return self._done.is_set()

    async def wait(self) -> None:
        """Return once the deploy has finished."""
        await self._done.wait()

    def follow(self, buffer: int = FOLLOWER_BUFFER) -> Follower:
        """Return a reader of the whole log: the events so far, then each new one.

        The reader ends when the deploy finishes, or early, with ``lagged``
        set, when it let more than ``buffer`` new events pile up.
        """
        follower = Follower(self.events, buffer)
        if self.finished:
            follower.close()
        else:
            self._followers.add(follower)

        return follower

    def emit(self, event: DeployEvent) -> None:
        """Record one event and pass it to every reader; never blocks."""
        if len(self.events) < KEEP_EVENTS or event.event != "pull_progress":
            self.events.append(event)
        for follower in list(self._followers):
            if not follower.offer(event):
                self._followers.discard(follower)
                log.warning("deploy_reader_dropped", deploy_id=self.id)
        _log_event(event)

    def unfollow(self, follower: Follower) -> None:
        """Stop passing events to ``follower``."""
        self._followers.discard(follower)

    def _begin(self) -> None:
        self.status = Status.RUNNING
        self.started_at = utcnow()

    def _finish(self, result: DeployResult) -> None:
        self.result = result
        self.message = result.message
        self.status = Status.SUCCEEDED if result.ok else Status.FAILED
        self.finished_at = utcnow()
        self._done.set()
        for follower in self._followers:
            follower.close()
        self._followers.clear()


class Follower:
    """One reader's view of a deploy's events; iterate with ``async for``."""

    def __init__(self, backlog: Iterable[DeployEvent], buffer: int) -> None:
        self._pending: deque[DeployEvent] = deque(backlog)
        self._room = buffer
        self._wake = asyncio.Event()
        self._closed = False
        self.lagged = False

    def offer(self, event: DeployEvent) -> bool:
        """Queue ``event``; return False, and cut the reader off, when it is full."""
        if self._room <= 0:
            self.lagged = True
            self._wake.set()
            return False
        self._room -= 1
        self._pending.append(event)
        self._wake.set()

        return True

    def close(self) -> None:
        """End the reader once it has read what is queued."""
        self._closed = True
        self._wake.set()

    def __aiter__(self) -> AsyncIterator[DeployEvent]:
        return self

    async def __anext__(self) -> DeployEvent:
        while True:
            item = await self.next(None)
            if item is not None:
                return item

    async def next(self, timeout: float | None) -> DeployEvent | None:
        """Return the next event, or None when ``timeout`` seconds pass without one.

        Raises StopAsyncIteration once the reader has ended and read everything.
        """
        if not self._pending and not self._ended:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
        if self._pending:
            self._room += 1
            return self._pending.popleft()
        if self._ended:
            raise StopAsyncIteration

        return None

    @property
    def _ended(self) -> bool:
        return self._closed or self.lagged


class Started(NamedTuple):
    """The deploy a request got, and whether it joined one already queued."""

    deploy: Deploy
    joined: bool


class Deploys:
    """Starts deploys as tasks and remembers the most recent ones by id."""

    def __init__(
        self,
        deployer: Deployer,
        *,
        keep: int = KEEP_DEPLOYS,
        history: History | None = None,
    ) -> None:
        self.deployer = deployer
        self.history = history
        self._keep = keep
        self._deploys: OrderedDict[str, Deploy] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        # Per plan, the deploy that waits and has not touched a container yet.
        self._queued: dict[DeployPlan, Deploy] = {}

    def start(self, plan: DeployPlan, *, client: str, token: str) -> Started:
        """Return the deploy that will carry out ``plan`` for this request.

        That is the deploy of the same plan still queued, when there is one,
        else a new deploy, which starts running now. ``client`` is the
        caller's address and ``token`` the fingerprint of the token that
        allowed it; a new deploy keeps both for the log and the record.
        """
        queued = self._queued.get(plan)
        if queued is not None:
            queued.joined += 1
            return Started(queued, joined=True)
        deploy = Deploy(id=secrets.token_hex(8), plan=plan, client=client, token=token)
        self._remember(deploy)
        self._write(deploy)
        self._queued[plan] = deploy
        task = asyncio.create_task(self._run(deploy), name=f"deploy-{deploy.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        return Started(deploy, joined=False)

    def get(self, deploy_id: str) -> Deploy | None:
        """Return the deploy with this id, or None when it is unknown or forgotten.

        A deploy of an earlier run comes from the history, without its log.
        """
        deploy = self._deploys.get(deploy_id)
        if deploy is not None or self.history is None:
            return deploy
        record = self.history.get(deploy_id)

        return Deploy.restored(record) if record is not None else None

    def recent(self) -> list[Deploy]:
        """Return the remembered deploys, newest first."""
        return list(reversed(self._deploys.values()))

    def running(self) -> list[Deploy]:
        """Return the deploys that have not finished yet."""
        return [deploy for deploy in self._deploys.values() if not deploy.finished]

    async def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for running deploys; return if all ended.

        Deploys still running after that are cancelled, which rolls back the
        container each one was swapping.
        """
        tasks = set(self._tasks)
        pending: set[asyncio.Task[None]] = set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.history is not None:
            await self.history.flush()

        return not pending

    def _remember(self, deploy: Deploy) -> None:
        self._deploys[deploy.id] = deploy
        while len(self._deploys) > self._keep:
            oldest_id, oldest = next(iter(self._deploys.items()))
            if not oldest.finished:
                break
            del self._deploys[oldest_id]

    async def _run(self, deploy: Deploy) -> None:
        started = time.monotonic()
        structlog.contextvars.bind_contextvars(deploy_id=deploy.id)

        def begin() -> None:
            self._unqueue(deploy)
            deploy._begin()
            self._write(deploy)

        try:
            result = await self.deployer.run(deploy.plan, deploy.emit, on_start=begin)
        except asyncio.CancelledError:
            reason = "deployd shut down while it " + (
                "waited" if deploy.started_at is None else "ran"
            )
            self._finish(deploy, _interrupted(reason), started)
            raise
        except Exception as exc:
            log.exception("deploy_crashed", error=type(exc).__name__)
            result = _interrupted("an internal error stopped it")
        self._finish(deploy, result, started)

    def _unqueue(self, deploy: Deploy) -> None:
        if self._queued.get(deploy.plan) is deploy:
            del self._queued[deploy.plan]

    def _finish(self, deploy: Deploy, result: DeployResult, started: float) -> None:
        self._unqueue(deploy)
        deploy._finish(result)
        log.log(
            logging.INFO if result.ok else logging.ERROR,
            "deploy_finished",
            containers=list(deploy.plan.containers),
            action=deploy.plan.action.slug,
            outcome=deploy.status.value,
            duration_ms=round((time.monotonic() - started) * 1000),
            joined=deploy.joined,
            message=result.message,
        )
        self._write(deploy)

    def _write(self, deploy: Deploy) -> None:
        if self.history is not None:
            self.history.append(deploy.record())

    def settle(self, repaired: Iterable[str]) -> None:
        """Record as failed the deploys an earlier run left unfinished.

        ``repaired`` names the containers the recovery put back, which the
        message of each deploy mentions when they were its own.
        """
        if self.history is None:
            return
        names = set(repaired)
        for record in self.history.interrupted:
            ended = settled(record, names)
            self.history.append(ended)
            log.warning(
                "deploy_interrupted", deploy_id=record.id, message=ended.message
            )
        self.history.interrupted = []


def settled(record: Record, repaired: set[str] | None) -> Record:
    """Return ``record`` of a deploy deployd stopped during, marked failed.

    ``repaired`` holds the containers the next start put back, or is None
    while that start has not yet reached the engine.
    """
    failed: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()
    if record.status == Status.QUEUED:
        why = "deployd stopped before this deploy began; none of its containers "
        why += "was touched"
        untouched = record.containers
    elif repaired is None:
        why = (
            "deployd stopped during this deploy; it puts back any container of "
            "it left half-swapped once the Docker engine answers"
        )
    else:
        failed = tuple(name for name in record.containers if name in repaired)
        why = "deployd stopped during this deploy; " + _aftermath(record, failed)

    return replace(
        record,
        status=Status.FAILED.value,
        message=f"Deploy failed: {why}",
        failed=failed,
        untouched=untouched,
    )


def _aftermath(record: Record, restored: tuple[str, ...]) -> str:
    if restored and len(restored) == len(record.containers):
        whole = "its container was" if len(restored) == 1 else "its containers were"
        return f"{whole} restored on the next start"
    if restored:
        verb = "was" if len(restored) == 1 else "were"
        return (
            f"{', '.join(restored)} {verb} restored on the next start, and no "
            "other container of it was left half-swapped"
        )

    return (
        "on the next start none of its containers was half-swapped, so each runs "
        "its old or its new version"
    )


_LEVELS = {"debug": logging.DEBUG, "warning": logging.WARNING, "error": logging.ERROR}


def _interrupted(reason: str) -> DeployResult:
    return DeployResult(
        ok=False,
        message=f"Deploy failed: {reason}; the daemon log has the details",
    )


def _log_event(event: DeployEvent) -> None:
    level = _LEVELS.get(event.level, logging.INFO)
    if event.event == "pull_progress":
        level = logging.DEBUG
    extra = {"data": dict(event.data)} if event.data else {}
    log.log(
        level, event.event, container=event.container, message=event.message, **extra
    )
