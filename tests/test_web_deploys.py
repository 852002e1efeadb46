"""The deploy registry: records, readers that follow a log, and the bounds on both."""

from __future__ import annotations

import asyncio
from typing import cast

from deployd.deploy import Deployer, DeployEvent, DeployPlan, DeployResult, Emit
from deployd.tokens import Action
from deployd.web.deploys import Deploy, Deploys, Status

PLAN = DeployPlan(("web",), Action.RECREATE, False)


class ScriptedDeployer:
    """Stands in for the engine-backed Deployer: emits steps when the test says."""

    def __init__(self, ok: bool = True, steps: int = 3) -> None:
        self.ok = ok
        self.steps = steps
        self.go = asyncio.Event()

    async def run(self, plan: DeployPlan, emit: Emit) -> DeployResult:
        emit(DeployEvent("deploy_started", "Deploy started"))
        await self.go.wait()
        for step in range(self.steps):
            emit(DeployEvent("step_done", f"step {step}", container="web"))
        verdict = "Deploy succeeded: web" if self.ok else "Deploy failed: web broke"
        return DeployResult(ok=self.ok, message=verdict)


class BrokenDeployer:
    async def run(self, plan: DeployPlan, emit: Emit) -> DeployResult:
        raise RuntimeError("a bug")


def registry(deployer: object, keep: int = 1000) -> Deploys:
    return Deploys(cast(Deployer, deployer), keep=keep)


async def read_all(deploy: Deploy, buffer: int = 1000) -> list[str]:
    return [event.message async for event in deploy.follow(buffer)]


async def test_a_deploy_runs_as_a_task_and_ends_with_its_result() -> None:
    deployer = ScriptedDeployer()
    deploy = registry(deployer).start(PLAN, client="10.0.0.1", token="abc")
    assert deploy.started_at is None, "a new deploy waits for its task"

    deployer.go.set()
    async with asyncio.timeout(5):
        await deploy.wait()

    assert deploy.status is Status.SUCCEEDED, "a good result marks it succeeded"
    assert deploy.message == "Deploy succeeded: web", "the result's message is kept"
    assert deploy.started_at and deploy.finished_at, "both times are recorded"
    assert [e.event for e in deploy.events].count("step_done") == 3, "events kept"


async def test_a_reader_gets_the_log_so_far_then_follows_until_the_end() -> None:
    deployer = ScriptedDeployer()
    deploy = registry(deployer).start(PLAN, client="c", token="t")
    await asyncio.sleep(0.01)
    reader = asyncio.create_task(read_all(deploy))
    await asyncio.sleep(0.01)
    deployer.go.set()

    async with asyncio.timeout(5):
        messages = await reader

    assert messages == ["Deploy started", "step 0", "step 1", "step 2"], (
        "a reader sees the backlog and every later event once, in order"
    )


async def test_a_reader_of_a_finished_deploy_gets_the_whole_log() -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    deploy = registry(deployer).start(PLAN, client="c", token="t")
    await deploy.wait()

    async with asyncio.timeout(5):
        assert len(await read_all(deploy)) == 4, "the log is there after the end"


async def test_a_reader_that_falls_behind_is_cut_off_and_never_slows_the_deploy() -> (
    None
):
    deployer = ScriptedDeployer(steps=50)
    deploy = registry(deployer).start(PLAN, client="c", token="t")
    await asyncio.sleep(0.01)
    slow = deploy.follow(buffer=5)
    deployer.go.set()

    async with asyncio.timeout(5):
        await deploy.wait()
        read = [event async for event in slow]

    assert deploy.status is Status.SUCCEEDED, "the deploy finished regardless"
    assert slow.lagged, "the reader is told it fell behind"
    assert len(read) == 6, "it got the backlog and what fit its buffer, no more"


async def test_a_failed_deploy_is_marked_failed() -> None:
    deployer = ScriptedDeployer(ok=False)
    deployer.go.set()
    deploy = registry(deployer).start(PLAN, client="c", token="t")
    await deploy.wait()

    assert deploy.status is Status.FAILED, "a bad result marks it failed"
    assert deploy.message.startswith("Deploy failed"), "the reason is kept"


async def test_a_crashing_deployer_fails_the_deploy_without_a_traceback() -> None:
    deploy = registry(BrokenDeployer()).start(PLAN, client="c", token="t")
    async with asyncio.timeout(5):
        await deploy.wait()

    assert deploy.status is Status.FAILED, "a bug in the engine fails the deploy"
    assert "a bug" not in deploy.message, "the exception text stays in the log"


async def test_only_the_most_recent_finished_deploys_are_remembered() -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    deploys = registry(deployer, keep=3)
    started = [deploys.start(PLAN, client="c", token="t") for _ in range(5)]
    for deploy in started:
        await deploy.wait()
    deploys.start(PLAN, client="c", token="t")

    assert deploys.get(started[0].id) is None, "the oldest is forgotten"
    assert deploys.get(started[-1].id) is started[-1], "recent ones are kept"
    assert len(deploys.recent()) == 3, "the registry holds at most its bound"
    assert deploys.recent()[0].id != started[-1].id, "newest first"


async def test_drain_waits_for_running_deploys_and_cancels_the_late_ones() -> None:
    deployer = ScriptedDeployer()
    deploys = registry(deployer)
    deploy = deploys.start(PLAN, client="c", token="t")
    await asyncio.sleep(0.01)

    assert not await deploys.drain(0.05), "a deploy that outlives the grace is late"
    assert deploy.status is Status.FAILED, "a cancelled deploy is marked failed"
    assert "shut down" in deploy.message, "the message says why"
    assert deploys.running() == [], "nothing runs after the drain"


async def test_a_reader_waiting_in_silence_gets_none_and_keeps_its_place() -> None:
    deployer = ScriptedDeployer()
    deploy = registry(deployer).start(PLAN, client="c", token="t")
    await asyncio.sleep(0.01)
    follower = deploy.follow()

    first = await follower.next(5)
    quiet = await follower.next(0.05)
    deployer.go.set()
    after = await follower.next(5)

    assert first is not None and first.event == "deploy_started", "the backlog first"
    assert quiet is None, "a silent spell gives None, so the stream can keep alive"
    assert after is not None and after.message == "step 0", "nothing was skipped"
