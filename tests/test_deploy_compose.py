"""A container made by docker compose comes out of a deploy as compose would make it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployd.deploy import Deployer, DeployPlan, Timing
from deployd.docker import Credentials, Docker
from deployd.tokens.claims import Action
from tests.factories import ImageFactory, unique_name
from tests.inspection import inspect
from tests.sandbox import Sandbox

COMPOSE_FILE = """
services:
  web:
    image: {image}
    init: true
    networks:
      inside:
        aliases: [web-alias]
    volumes:
      - data:/data
      - /anon
    environment:
      MODE: production
    labels:
      team: blue
networks:
  inside:
    internal: true
volumes:
  data:
"""


class Compose:
    """docker-compose for one project on the sandbox engine."""

    def __init__(self, sandbox: Sandbox, folder: Path) -> None:
        self.sandbox = sandbox
        self.folder = folder
        self.project = unique_name()

    def __call__(self, *args: str) -> str:
        env = {**os.environ, "DOCKER_HOST": self.sandbox.docker_host}
        result = subprocess.run(
            ["docker-compose", "-p", self.project, *args],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout + result.stderr


@pytest.fixture
def compose(
    sandbox: Sandbox, image_factory: ImageFactory, tmp_path: Path
) -> Iterator[Compose]:
    image = image_factory()
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE.format(image=image.ref))
    project = Compose(sandbox, tmp_path)
    try:
        yield project
    finally:
        project("down", "-v", "--remove-orphans")


async def test_compose_container_is_recreated_as_compose_would(
    sandbox: Sandbox, compose: Compose, data_dir: Path
) -> None:
    compose("up", "-d")
    name = f"{compose.project}_web_1"
    sandbox.cli("exec", name, "sh", "-c", "echo one > /anon/a; echo two > /data/b")
    before = inspect(sandbox, name)
    credentials = Credentials(data_dir, docker_config=data_dir / "none.json")

    async with Docker(sandbox.docker_host, credentials=credentials) as docker:
        deployer = Deployer(docker, data_dir, timing=Timing(start_wait=0.5))
        plan = DeployPlan((name,), Action.RECREATE, False)
        result = await deployer.run(plan, lambda event: None)

    assert result.ok, result.message
    after = inspect(sandbox, name)
    assert after["Id"] != before["Id"], "recreated"
    compose_labels = {
        k: v for k, v in before["Config"]["Labels"].items() if k.startswith("com.")
    }
    for key, value in compose_labels.items():
        assert after["Config"]["Labels"].get(key) == value, f"label {key} kept"
    networks = after["NetworkSettings"]["Networks"]
    network = f"{compose.project}_inside"
    assert "web-alias" in networks[network]["Aliases"], "compose alias kept"
    assert "web" in networks[network]["Aliases"], "service name alias kept"
    assert "MODE=production" in after["Config"]["Env"], "environment kept"
    cat = ["exec", name, "cat", "/anon/a", "/data/b"]
    assert sandbox.cli(*cat).stdout.split() == ["one", "two"], "volume data kept"
    listed = compose("ps", "-q", "web").split()
    assert listed == [after["Id"]], "compose still knows the service's container"
    assert "up-to-date" in compose("up", "-d"), "compose sees nothing to change"
