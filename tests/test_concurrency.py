"""Many deploy requests at once, through the HTTP API, against the sandbox engine.

Ordering (one deploy per container at a time), coalescing of identical
requests, shared pulls, readers that stall, shutdown mid-deploy, and the
deploy history across a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from deployd.config import Settings
from deployd.deploy.events import utcnow
from deployd.tokens import Action
from deployd.web.history import FILE_NAME
from deployd.web.server import build_services
from deployd.web.state import Services
from tests.factories import BuiltImage, ContainerFactory, ImageFactory
from tests.sandbox import Sandbox
from tests.test_web_api import client_for

START_WAIT = 0.3
BURST_TIMEOUT = 120.0
PULL = Action.PULL_AND_RECREATE


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    state: Services

    def mint(self, *names: str, action: Action = PULL, cleanup: bool = False) -> str:
        token, _ = self.state.tokens.mint(names, action, cleanup, None)
        return token

    async def deploy(self, token: str) -> Answer:
        """POST a deploy and read its whole stream."""
        response = await self.client.post(
            "/v1/deploy", headers={"X-Deploy-Token": token}
        )
        lines = (await response.text()).splitlines()

        return Answer(response.status, response.headers.get("X-Deploy-Id", ""), lines)

    async def status(self, token: str, deploy_id: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/deploys/{deploy_id}", headers={"X-Deploy-Token": token}
        )
        assert response.status == 200, f"deploy {deploy_id} is known"
        body: dict[str, Any] = await response.json()

        return body


@dataclass(frozen=True)
class Answer:
    status: int
    deploy_id: str
    lines: list[str]

    @property
    def succeeded(self) -> bool:
        return self.status == 200 and self.lines[-1].startswith("Deploy succeeded")


def settings_for(sandbox: Sandbox, data_dir: Path) -> Settings:
    return Settings(
        url="http://127.0.0.1",
        url_set=True,
        data_dir=data_dir,
        docker_host=sandbox.docker_host,
        start_wait=START_WAIT,
        health_timeout=20,
        max_engine_operations=8,
    )


async def serve(settings: Settings, stack: AsyncExitStack) -> Api:
    """Start the app with real services on a port; ``stack`` stops it."""
    state = build_services(settings)
    state.recovered.set()
    client = client_for(state)
    await client.start_server()

    async def close() -> None:
        await client.close()
        await state.deploys.drain(30)
        await state.close()

    stack.push_async_callback(close)

    return Api(client, state)


@pytest.fixture
async def api(sandbox: Sandbox, data_dir: Path) -> AsyncIterator[Api]:
    async with AsyncExitStack() as stack:
        yield await serve(settings_for(sandbox, data_dir), stack)


def publish(sandbox: Sandbox, image_factory: ImageFactory, old: BuiltImage) -> str:
    """Push a new version of ``old`` under its tag; return the new image id."""
    new = image_factory(repository=old.repository, tag=old.tag, version="v2")
    sandbox.cli("rmi", new.ref)

    return new.id


def image_of(sandbox: Sandbox, name: str) -> str:
    return sandbox.cli("inspect", "-f", "{{.Image}}", name).stdout.strip()


def names_like(sandbox: Sandbox, name: str) -> list[str]:
    listed = sandbox.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return sorted(n for n in listed if n.startswith(name))


def engine_pulls(sandbox: Sandbox, reference: str, since: float) -> int:
    """Return how many times the engine pulled ``reference`` since then."""
    listed = sandbox.cli(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{time.time():.3f}",
        "--filter",
        "type=image",
        "--filter",
        "event=pull",
        "--format",
        "{{json .}}",
    ).stdout.splitlines()

    return sum(1 for line in listed if json.loads(line).get("id") == reference)


def spans(statuses: list[dict[str, Any]]) -> list[tuple[datetime, datetime]]:
    return sorted(
        (
            datetime.fromisoformat(status["started_at"]),
            datetime.fromisoformat(status["finished_at"]),
        )
        for status in statuses
    )


async def test_a_burst_of_requests_is_answered_in_full_and_coalesced(
    api: Api,
    sandbox: Sandbox,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory()
    containers = [container_factory(v1).name for _ in range(3)]
    v2 = publish(sandbox, image_factory, v1)
    tokens = {name: api.mint(name) for name in containers}
    requests = [tokens[name] for name in containers for _ in range(4)]

    async with asyncio.timeout(BURST_TIMEOUT):
        answers = await asyncio.gather(*(api.deploy(token) for token in requests))

    assert all(answer.succeeded for answer in answers), (
        "every caller of the burst is told its deploy succeeded: "
        f"{[a.lines[-1:] for a in answers]}"
    )
    for name in containers:
        mine = [
            a.deploy_id
            for t, a in zip(requests, answers, strict=True)
            if t == tokens[name]
        ]
        assert len(set(mine)) < len(mine), f"{name}: identical requests shared deploys"
        statuses = [await api.status(tokens[name], i) for i in sorted(set(mine))]
        for (_, end), (begin, _) in itertools.pairwise(spans(statuses)):
            assert end <= begin, f"{name}: one deploy ends before the next starts"
        assert image_of(sandbox, name) == v2, f"{name}: runs the newest image"
        assert names_like(sandbox, name) == [name], f"{name}: exactly one container"


async def test_overlapping_pulls_of_one_image_make_one_engine_pull(
    api: Api,
    sandbox: Sandbox,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory()
    containers = [container_factory(v1).name for _ in range(3)]
    publish(sandbox, image_factory, v1)
    since = time.time() - 1
    started_before = api.state.deployer.pulls.started

    async with AsyncExitStack() as held:
        # Holding the containers lets the three deploys start together.
        for name in containers:
            await held.enter_async_context(api.state.deployer.lock(name))
        calls = [asyncio.create_task(api.deploy(api.mint(name))) for name in containers]
        async with asyncio.timeout(10):
            while len(api.state.deploys.running()) < len(containers):
                await asyncio.sleep(0.01)
    async with asyncio.timeout(BURST_TIMEOUT):
        answers = await asyncio.gather(*calls)

    assert all(answer.succeeded for answer in answers), "all three deploys succeeded"
    assert api.state.deployer.pulls.started - started_before == 1, (
        "the deployer started one pull for three deploys"
    )
    assert engine_pulls(sandbox, v1.ref, since) == 1, "the engine pulled once"


async def test_a_stalled_reader_does_not_delay_another_readers_result(
    api: Api,
    sandbox: Sandbox,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory()
    name = container_factory(v1).name
    publish(sandbox, image_factory, v1)
    token = api.mint(name)
    assert api.client.port is not None
    stalled = socket.create_connection(("127.0.0.1", api.client.port))
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        stalled.sendall(
            f"POST /v1/deploy HTTP/1.1\r\nHost: x\r\nX-Deploy-Token: {token}\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        async with asyncio.timeout(10):
            while not api.state.deploys.running():
                await asyncio.sleep(0.01)
        deploy = api.state.deploys.running()[0]
        response = await api.client.get(
            f"/v1/deploys/{deploy.id}/log", headers={"X-Deploy-Token": token}
        )
        async with asyncio.timeout(BURST_TIMEOUT):
            last = (await response.text()).splitlines()[-1]
        read_at = utcnow()
    finally:
        stalled.close()

    assert last.startswith("Deploy succeeded"), "the reading client got the result"
    assert deploy.finished_at is not None, "the deploy had ended"
    late = (read_at - deploy.finished_at).total_seconds()
    assert late < 1.0, f"the result reached the reader {late:.2f} s after the end"


async def test_a_deploy_cut_off_by_shutdown_leaves_the_old_container_running(
    sandbox: Sandbox,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    name = container_factory(image_factory()).name
    old_id = sandbox.cli("inspect", "-f", "{{.Id}}", name).stdout.strip()
    settings = replace(settings_for(sandbox, data_dir), start_wait=30.0)
    async with AsyncExitStack() as stack:
        api = await serve(settings, stack)
        token = api.mint(name, action=Action.RECREATE)
        call = asyncio.create_task(api.deploy(token))
        async with asyncio.timeout(20):
            while not any(
                e.event == "container_created"
                for d in api.state.deploys.running()
                for e in d.events
            ):
                await asyncio.sleep(0.05)
        drained = await api.state.deploys.drain(0.2)
        answer = await call

    state = json.loads(sandbox.cli("inspect", name).stdout)[0]
    assert not drained, "the deploy outlived the grace period"
    assert answer.lines[-1].startswith("Deploy failed"), "its caller was told"
    assert state["Id"] == old_id and state["State"]["Running"], (
        "the old container is back under its name and runs"
    )
    assert names_like(sandbox, name) == [name], "nothing is left aside"


async def test_the_history_answers_after_a_restart_despite_a_torn_line(
    sandbox: Sandbox,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    name = container_factory(image_factory()).name
    settings = settings_for(sandbox, data_dir)
    async with AsyncExitStack() as stack:
        first = await serve(settings, stack)
        token = first.mint(name, action=Action.RESTART)
        answer = await first.deploy(token)
    with (data_dir / FILE_NAME).open("a") as history:
        history.write('{"id": "00000000000000ff", "containers": ["we')

    async with AsyncExitStack() as stack:
        second = await serve(settings, stack)
        status = await second.status(token, answer.deploy_id)
        log = await second.client.get(
            f"/v1/deploys/{answer.deploy_id}/log", headers={"X-Deploy-Token": token}
        )
        log_lines = (await log.text()).splitlines()

    assert answer.succeeded, "the deploy before the restart succeeded"
    assert status["status"] == "succeeded", "the new run knows how it ended"
    assert status["containers"] == [name] and status["action"] == "restart"
    assert status["log"] == "not kept across restarts", "and says the log is gone"
    assert log_lines == [answer.lines[-1]], "the log endpoint gives the verdict only"
