"""A daemon killed in the middle of a swap: the next start puts things right."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deployd.deploy import Deployer
from deployd.deploy.journal import Entry, Journal, aside_name
from deployd.docker import Credentials, Docker
from tests.factories import ContainerFactory, ImageFactory
from tests.inspection import inspect, names_like
from tests.sandbox import Sandbox

# Runs a recreate in a child process that kills itself the moment the swap
# asks the engine to create the new container: after the stop and the rename.
KILL_BEFORE_CREATE = """
import asyncio, os, signal, sys
from pathlib import Path
from deployd.deploy import Deployer, DeployPlan
from deployd.docker import Docker
from deployd.docker.containers import Containers
from deployd.tokens.claims import Action

async def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

Containers.create = die

async def main():
    async with Docker(sys.argv[1]) as docker:
        deployer = Deployer(docker, Path(sys.argv[2]))
        await deployer.run(DeployPlan((sys.argv[3],), Action.RECREATE, False), print)

asyncio.run(main())
"""


async def recover(sandbox: Sandbox, data_dir: Path) -> list[str]:
    credentials = Credentials(data_dir, docker_config=data_dir / "none.json")
    async with Docker(sandbox.docker_host, credentials=credentials) as docker:
        return await Deployer(docker, data_dir).recover()


async def test_daemon_killed_between_rename_and_create_is_repaired_on_start(
    sandbox: Sandbox,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    web = container_factory(image_factory())

    child = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_CREATE, sandbox.docker_host,
         str(data_dir), web.name],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        capture_output=True,
        timeout=60,
    )  # fmt: skip

    assert child.returncode == -9, f"the child died by SIGKILL: {child.stderr!r}"
    aside = aside_name(web.name, web.id)
    assert names_like(sandbox, web.name) == [aside], "the kill left it renamed aside"
    assert not inspect(sandbox, aside)["State"]["Running"], "and stopped"

    repaired = await recover(sandbox, data_dir)

    assert repaired == [web.name], "recovery names the container it repaired"
    state = inspect(sandbox, web.name)
    assert state["Id"] == web.id, "the old container is back under its name"
    assert state["State"]["Running"], "and running"
    assert names_like(sandbox, web.name) == [web.name], "nothing left aside"
    assert Journal(data_dir).entries() == [], "the journal is empty"


async def test_recovery_removes_a_half_made_successor(
    sandbox: Sandbox,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    web = container_factory(image)
    entry = Entry(web.name, web.id, was_running=True)
    Journal(data_dir).open(entry)
    sandbox.cli("stop", web.name)
    sandbox.cli("rename", web.name, entry.aside)
    sandbox.cli(
        "create", "--name", web.name, "--label", f"deployd.replaces={web.id}",
        "--label", "deployd.test=1", "--network", "none", image.ref,
    )  # fmt: skip

    repaired = await recover(sandbox, data_dir)

    assert repaired == [web.name], "recovery names the container"
    state = inspect(sandbox, web.name)
    assert state["Id"] == web.id, "the old container is back, the successor gone"
    assert state["State"]["Running"], "and running"
    assert names_like(sandbox, web.name) == [web.name], "exactly one container"


async def test_recovery_leaves_a_stranger_under_the_name_alone(
    sandbox: Sandbox,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    web = container_factory(image)
    entry = Entry(web.name, web.id, was_running=True)
    Journal(data_dir).open(entry)
    sandbox.cli("rename", web.name, entry.aside)
    stranger = container_factory(image, name=web.name)

    repaired = await recover(sandbox, data_dir)

    assert repaired == [], "nothing repaired"
    assert inspect(sandbox, web.name)["Id"] == stranger.id, "the stranger is kept"
    assert inspect(sandbox, entry.aside)["Id"] == web.id, "the old one is kept aside"
    assert Journal(data_dir).entries() == [entry], "the journal keeps the entry"
