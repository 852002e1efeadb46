"""A task container of a swarm service is left to swarm.

Swarm mode changes an engine for good, so this runs on an engine of its own
rather than on the session's sandbox.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployd.deploy import Deployer, DeployPlan
from deployd.docker import Credentials, Docker
from deployd.errors import DeployRefused
from deployd.tokens.claims import Action
from tests.sandbox import Sandbox, base_rootfs, start, stop

# Nothing listens on port 9: should the engine ever try to pull, it fails here.
IMAGE = "127.0.0.1:9/deployd-test-swarm:1"
TASK_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def swarm() -> Iterator[Sandbox]:
    engine = start(registries=False, die_with_parent=True)
    try:
        engine.cli("swarm", "init", "--advertise-addr", "127.0.0.1")
        engine.cli_bytes(
            "import", "--change", 'CMD ["sleep", "infinity"]', "-", IMAGE,
            input=base_rootfs(),
        )  # fmt: skip
        yield engine
    finally:
        stop(engine.dir)


def task_of(swarm: Sandbox, service: str) -> str:
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        listed = swarm.cli(
            "ps", "-a", "--filter", f"label=com.docker.swarm.service.name={service}",
            "--format", "{{.Names}}",
        )  # fmt: skip
        if listed.stdout.strip():
            return listed.stdout.split()[0]
        time.sleep(0.2)
    raise AssertionError(f"service {service} made no task in {TASK_TIMEOUT} s")


async def test_a_swarm_task_is_refused_and_left_alone(
    swarm: Sandbox, tmp_path: Path
) -> None:
    swarm.cli(
        "service", "create", "--detach", "--no-resolve-image", "--init",
        "--name", "deployd-test-shop", IMAGE,
    )  # fmt: skip
    task = task_of(swarm, "deployd-test-shop")
    before = swarm.cli("inspect", "-f", "{{.Id}}", task).stdout
    credentials = Credentials(tmp_path, docker_config=tmp_path / "none.json")

    async with Docker(swarm.docker_host, credentials=credentials) as docker:
        deployer = Deployer(docker, tmp_path)
        plan = DeployPlan((task,), Action.RECREATE, False)
        with pytest.raises(DeployRefused, match="swarm service deployd-test-shop"):
            await deployer.check(plan)
        result = await deployer.run(plan, lambda event: None)

    assert not result.ok, "a deploy of the task fails"
    assert "docker service update" in result.message, result.message
    after = swarm.cli("inspect", "-f", "{{.Id}}", task).stdout
    assert after == before, "the task container is untouched"
