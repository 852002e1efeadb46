"""The deploy registry: records, readers, coalescing, and the history on disk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from deployd.deploy import Deployer, DeployEvent, DeployPlan, DeployResult, Emit
from deployd.deploy.events import utcnow
from deployd.tokens import Action
from deployd.web.deploys import Deploy, Deploys, Status
from deployd.web.history import FILE_NAME, History, Record

PLAN = DeployPlan(("web",), Action.RECREATE, False)


class ScriptedDeployer:
    """Stands in for the engine-backed Deployer: emits steps when the test says.

    A deploy starts (``on_start``) once ``admit`` is set, then waits for ``go``.
    """

    def __init__(self, ok: bool = True, steps: int = 3) -> None:
        self.ok = ok
        self.steps = steps
        self.admit = asyncio.Event()
        self.admit.set()
        self.go = asyncio.Event()
        self.runs = 0

    async def run(
        self,
        plan: DeployPlan,
        emit: Emit,
        *,
        on_start: Callable[[], None] | None = None,
    ) -> DeployResult:
        self.runs += 1
        emit(DeployEvent("deploy_started", "Deploy started"))
        await self.admit.wait()
        if on_start is not None:
            on_start()
        await self.go.wait()
        for step in range(self.steps):
            emit(DeployEvent("step_done", f"step {step}", container="web"))
        verdict = "Deploy succeeded: web" if self.ok else "Deploy failed: web broke"
        return DeployResult(ok=self.ok, message=verdict)


class BrokenDeployer:
    async def run(
        self,
        plan: DeployPlan,
        emit: Emit,
        *,
        on_start: Callable[[], None] | None = None,
    ) -> DeployResult:
        raise RuntimeError("a bug")


def registry(
    deployer: object, keep: int = 1000, history: History | None = None
) -> Deploys:
    return Deploys(cast(Deployer, deployer), keep=keep, history=history)


def start(deploys: Deploys, plan: DeployPlan = PLAN, client: str = "c") -> Deploy:
    return deploys.start(plan, client=client, token="t").deploy


async def read_all(deploy: Deploy, buffer: int = 1000) -> list[str]:
    return [event.message async for event in deploy.follow(buffer)]


async def test_a_deploy_runs_as_a_task_and_ends_with_its_result() -> None:
    deployer = ScriptedDeployer()
    deploy = registry(deployer).start(PLAN, client="10.0.0.1", token="abc").deploy
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
    deploy = start(registry(deployer))
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
    deploy = start(registry(deployer))
    await deploy.wait()

    async with asyncio.timeout(5):
        assert len(await read_all(deploy)) == 4, "the log is there after the end"


async def test_a_reader_that_falls_behind_is_cut_off_and_never_slows_the_deploy() -> (
    None
):
    deployer = ScriptedDeployer(steps=50)
    deploy = start(registry(deployer))
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
    deploy = start(registry(deployer))
    await deploy.wait()

    assert deploy.status is Status.FAILED, "a bad result marks it failed"
    assert deploy.message.startswith("Deploy failed"), "the reason is kept"


async def test_a_crashing_deployer_fails_the_deploy_without_a_traceback() -> None:
    deploy = start(registry(BrokenDeployer()))
    async with asyncio.timeout(5):
        await deploy.wait()

    assert deploy.status is Status.FAILED, "a bug in the engine fails the deploy"
    assert "a bug" not in deploy.message, "the exception text stays in the log"


async def test_only_the_most_recent_finished_deploys_are_remembered() -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    deploys = registry(deployer, keep=3)
    started = [
        start(deploys, DeployPlan((f"w{n}",), Action.RECREATE, False)) for n in range(5)
    ]
    for deploy in started:
        await deploy.wait()
    start(deploys)

    assert deploys.get(started[0].id) is None, "the oldest is forgotten"
    assert deploys.get(started[-1].id) is started[-1], "recent ones are kept"
    assert len(deploys.recent()) == 3, "the registry holds at most its bound"
    assert deploys.recent()[0].id != started[-1].id, "newest first"


async def test_drain_waits_for_running_deploys_and_cancels_the_late_ones() -> None:
    deployer = ScriptedDeployer()
    deploys = registry(deployer)
    deploy = start(deploys)
    await asyncio.sleep(0.01)

    assert not await deploys.drain(0.05), "a deploy that outlives the grace is late"
    assert deploy.status is Status.FAILED, "a cancelled deploy is marked failed"
    assert "shut down" in deploy.message, "the message says why"
    assert deploys.running() == [], "nothing runs after the drain"


async def test_a_reader_waiting_in_silence_gets_none_and_keeps_its_place() -> None:
    deployer = ScriptedDeployer()
    deploy = start(registry(deployer))
    await asyncio.sleep(0.01)
    follower = deploy.follow()

    first = await follower.next(5)
    quiet = await follower.next(0.05)
    deployer.go.set()
    after = await follower.next(5)

    assert first is not None and first.event == "deploy_started", "the backlog first"
    assert quiet is None, "a silent spell gives None, so the stream can keep alive"
    assert after is not None and after.message == "step 0", "nothing was skipped"


# Coalescing


async def test_an_identical_request_joins_the_queued_deploy() -> None:
    deployer = ScriptedDeployer()
    deployer.admit.clear()
    deploys = registry(deployer)
    first = deploys.start(PLAN, client="a", token="t")
    second = deploys.start(PLAN, client="b", token="u")
    await asyncio.sleep(0.01)

    assert not first.joined and second.joined, "the second request joined"
    assert second.deploy is first.deploy, "both requests share one deploy"
    assert first.deploy.status is Status.QUEUED, "it waits, not runs"
    assert first.deploy.joined == 1, "the deploy counts who joined"
    deployer.admit.set()
    deployer.go.set()
    async with asyncio.timeout(5):
        await first.deploy.wait()
    assert deployer.runs == 1, "the engine saw one deploy for two requests"


async def test_at_most_one_deploy_waits_behind_a_running_one() -> None:
    deployer = ScriptedDeployer()
    deploys = registry(deployer)
    running = start(deploys)
    await asyncio.sleep(0.01)
    assert running.status is Status.RUNNING, "the first deploy has started"
    deployer.admit.clear()

    waiting = [start(deploys, client=f"c{n}") for n in range(5)]
    await asyncio.sleep(0.01)

    assert running not in waiting, "a running deploy takes no one in"
    assert len({deploy.id for deploy in waiting}) == 1, "the rest share one deploy"
    deployer.admit.set()
    deployer.go.set()
    async with asyncio.timeout(5):
        await waiting[0].wait()
    assert deployer.runs == 2, "two deploys for six requests"


@pytest.mark.parametrize(
    "other",
    [
        DeployPlan(("web",), Action.RECREATE, True),
        DeployPlan(("web",), Action.RESTART, False),
        DeployPlan(("web", "db"), Action.RECREATE, False),
    ],
)
async def test_a_request_for_another_plan_never_joins(other: DeployPlan) -> None:
    deployer = ScriptedDeployer()
    deployer.admit.clear()
    deploys = registry(deployer)

    first = start(deploys)
    second = deploys.start(other, client="c", token="t")

    assert not second.joined and second.deploy is not first, "plans differ"
    deployer.admit.set()
    deployer.go.set()
    async with asyncio.timeout(5):
        await asyncio.gather(first.wait(), second.deploy.wait())


async def test_a_deploy_cancelled_while_queued_takes_no_one_in_after() -> None:
    deployer = ScriptedDeployer()
    deployer.admit.clear()
    deploys = registry(deployer)
    first = start(deploys)
    await asyncio.sleep(0.01)

    await deploys.drain(0.01)
    later = start(deploys)

    assert first.status is Status.FAILED and "waited" in first.message, (
        "a deploy cancelled before it started says it only waited"
    )
    assert later is not first, "a finished deploy is no longer joined"
    deployer.admit.set()
    deployer.go.set()
    async with asyncio.timeout(5):
        await later.wait()


# History


def record_lines(data_dir: Path) -> list[dict[str, object]]:
    text = (data_dir / FILE_NAME).read_text()
    return [json.loads(line) for line in text.splitlines()]


def record_ids(data_dir: Path) -> list[object]:
    """Return the ids of the deploys in the file, each once, in order."""
    return list(dict.fromkeys(line["id"] for line in record_lines(data_dir)))


async def finished_deploy(deploys: Deploys, plan: DeployPlan = PLAN) -> Deploy:
    deploy = deploys.start(plan, client="10.1.2.3", token="tok-fp").deploy
    async with asyncio.timeout(5):
        await deploy.wait()

    return deploy


async def test_a_finished_deploy_is_appended_to_the_history_file(
    data_dir: Path,
) -> None:
    deployer = ScriptedDeployer(ok=False)
    deployer.go.set()
    deploy = await finished_deploy(registry(deployer, history=History(data_dir)))
    lines = record_lines(data_dir)
    line = lines[-1]

    assert [line["status"] for line in lines] == ["queued", "running", "failed"], (
        "a line when the deploy is accepted, when it begins and when it ends"
    )
    assert line["id"] == deploy.id and line["status"] == "failed", "id and outcome"
    assert line["containers"] == ["web"] and line["action"] == "recreate", "the plan"
    assert line["client"] == "10.1.2.3", "who asked"
    assert line["token_fingerprint"] == "tok-fp", "which token, by fingerprint"
    assert line["message"] == deploy.message, "how it ended"
    assert line["started_at"] and line["finished_at"], "and when"


async def test_the_history_answers_for_deploys_of_an_earlier_run(
    data_dir: Path,
) -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    old = await finished_deploy(registry(deployer, history=History(data_dir)))

    restored = registry(deployer, history=History(data_dir)).get(old.id)

    assert restored is not None, "a new registry finds the deploy in the file"
    assert restored.status is Status.SUCCEEDED and restored.finished, "finished"
    assert restored.message == old.message, "with its message"
    assert restored.plan == old.plan, "and its plan"
    assert restored.finished_at == old.finished_at, "and its times"
    assert not restored.log_kept and restored.events == [], "but not its log"
    assert [e async for e in restored.follow()] == [], "a reader ends at once"


async def test_a_torn_last_line_is_dropped_and_the_next_line_is_whole(
    data_dir: Path,
) -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    old = await finished_deploy(registry(deployer, history=History(data_dir)))
    path = data_dir / FILE_NAME
    whole = path.read_text()
    path.write_text(whole + whole[: len(whole) // 2])

    history = History(data_dir)
    later = await finished_deploy(registry(deployer, history=history))

    assert history.get(old.id) is not None, "the whole line before it is read"
    assert record_ids(data_dir) == [old.id, later.id], (
        "the torn line is gone and the next record is a line of its own"
    )


async def test_a_last_line_missing_only_its_newline_is_kept(data_dir: Path) -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    old = await finished_deploy(registry(deployer, history=History(data_dir)))
    path = data_dir / FILE_NAME
    path.write_text(path.read_text().rstrip("\n"))

    history = History(data_dir)
    later = await finished_deploy(registry(deployer, history=history))

    assert record_ids(data_dir) == [old.id, later.id], (
        "a complete record survives and the next one follows on its own line"
    )


async def test_lines_that_are_not_records_are_skipped(data_dir: Path) -> None:
    (data_dir / FILE_NAME).write_text('not json\n{"id": "x"}\n[1]\n')

    history = History(data_dir)

    assert len(history) == 0, "nothing unreadable becomes a record"


async def test_the_history_file_is_trimmed_to_the_newest_records(
    data_dir: Path,
) -> None:
    deployer = ScriptedDeployer()
    deployer.go.set()
    history = History(data_dir, keep=5)
    deploys = registry(deployer, history=history)
    ids = [
        (await finished_deploy(deploys, DeployPlan((f"w{n}",), PLAN.action, False))).id
        for n in range(14)
    ]
    await history.flush()
    lines = record_lines(data_dir)

    kept = record_ids(data_dir)

    assert len(lines) <= 10, f"the file holds {len(lines)} lines, at most 2 * keep"
    assert kept == ids[-len(kept) :], "it holds the newest records, in order"
    assert lines[-1]["status"] == "succeeded", "the last line is the last outcome"
    assert History(data_dir, keep=5).get(ids[-1]) is not None, "the newest is read"


def record(n: int) -> Record:
    return Record(
        id=f"{n:016x}",
        containers=("web",),
        action=Action.RESTART,
        cleanup=False,
        status="succeeded",
        message="Deploy succeeded: web",
        created_at=utcnow(),
        started_at=None,
        finished_at=utcnow(),
        client="c",
        token_fingerprint="t",
    )


async def test_appends_during_a_trim_follow_the_trimmed_file(data_dir: Path) -> None:
    history = History(data_dir, keep=2)
    for n in range(5):
        history.append(record(n))
    for n in range(5, 7):
        history.append(record(n))
    await history.flush()

    assert [line["id"] for line in record_lines(data_dir)] == [
        record(n).id for n in (3, 4, 5, 6)
    ], "the trim kept the newest two, and the records sent meanwhile follow"


async def started_deploy(deploys: Deploys, plan: DeployPlan = PLAN) -> Deploy:
    deploy = start(deploys, plan)
    async with asyncio.timeout(5):
        while deploy.status is not Status.RUNNING:
            await asyncio.sleep(0.01)

    return deploy


async def finish(deployer: ScriptedDeployer, deploy: Deploy) -> None:
    deployer.admit.set()
    deployer.go.set()
    async with asyncio.timeout(5):
        await deploy.wait()


async def test_a_deploy_is_in_the_history_while_it_runs(data_dir: Path) -> None:
    deployer = ScriptedDeployer()
    deploys = registry(deployer, history=History(data_dir))
    deploy = await started_deploy(deploys)

    next_run = History(data_dir)
    restored = registry(deployer, history=next_run).get(deploy.id)
    await finish(deployer, deploy)

    assert [r.id for r in next_run.interrupted] == [deploy.id], (
        "a run that reads the file now takes the deploy for interrupted"
    )
    assert restored is not None and restored.status is Status.FAILED, (
        "and answers for it as failed"
    )
    assert "once the Docker engine answers" in restored.message, (
        "saying that its containers are put back once the engine answers"
    )


@pytest.mark.parametrize(
    ("containers", "repaired", "told"),
    [
        (("web",), {"web"}, "its container was restored on the next start"),
        (("web", "db"), {"db", "other"}, "db was restored on the next start, and no"),
        (("web",), set(), "none of its containers was half-swapped"),
    ],
)
async def test_the_next_start_records_an_interrupted_deploy_as_failed(
    data_dir: Path, containers: tuple[str, ...], repaired: set[str], told: str
) -> None:
    deployer = ScriptedDeployer()
    plan = DeployPlan(containers, PLAN.action, False)
    deploy = await started_deploy(registry(deployer, history=History(data_dir)), plan)

    registry(deployer, history=History(data_dir)).settle(repaired)
    third = History(data_dir)
    ended = third.get(deploy.id)
    await finish(deployer, deploy)

    assert ended is not None and ended.status == "failed", "it is recorded as failed"
    assert ended.message.startswith("Deploy failed: deployd stopped during this "), (
        "because deployd stopped"
    )
    assert told in ended.message, "and says what the next start did about it"
    assert third.interrupted == [], "once settled it is not settled again"


async def test_a_deploy_interrupted_while_queued_touched_nothing(
    data_dir: Path,
) -> None:
    deployer = ScriptedDeployer()
    deployer.admit.clear()
    deploy = start(registry(deployer, history=History(data_dir)))
    await asyncio.sleep(0.01)

    registry(deployer, history=History(data_dir)).settle(["web"])
    ended = History(data_dir).get(deploy.id)
    await finish(deployer, deploy)

    assert ended is not None and ended.status == "failed", "it is recorded as failed"
    assert "before this deploy began; none of its containers was touched" in (
        ended.message
    ), "and says nothing was touched"
    assert ended.untouched == ("web",), "its container is listed as untouched"
