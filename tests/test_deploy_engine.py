"""The deploy engine against the real sandbox engine: actions, fidelity, rollback."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from deployd.deploy import Deployer, DeployEvent, DeployPlan, DeployResult, Timing
from deployd.docker import Credentials, Docker
from deployd.errors import DeployRefused, EngineUnreachable, NotFound
from deployd.registries import RegistryLogins
from deployd.tokens.claims import Action
from tests.factories import BuiltImage, ContainerFactory, ImageFactory
from tests.inspection import inspect, names_like
from tests.sandbox import Sandbox

PULL, RECREATE, RESTART = Action.PULL_AND_RECREATE, Action.RECREATE, Action.RESTART


@pytest.fixture
async def docker(sandbox: Sandbox, data_dir: Path) -> AsyncIterator[Docker]:
    credentials = Credentials(data_dir, docker_config=data_dir / "none.json")
    client = Docker(sandbox.docker_host, credentials=credentials)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def deployer(docker: Docker, data_dir: Path) -> Deployer:
    return Deployer(docker, data_dir, timing=Timing(start_wait=0.5, health_timeout=20))


async def deploy(
    deployer: Deployer, action: Action, *names: str, cleanup: bool = False
) -> tuple[DeployResult, list[DeployEvent]]:
    events: list[DeployEvent] = []
    result = await deployer.run(DeployPlan(names, action, cleanup), events.append)

    return result, events


def publish(
    sandbox: Sandbox, image_factory: ImageFactory, old: BuiltImage, **options: Any
) -> BuiltImage:
    """Push a new version of ``old`` under its tag, as CI would, and forget it here."""
    new = image_factory(repository=old.repository, tag=old.tag, **options)
    sandbox.cli("rmi", new.ref)

    return new


def read_file(sandbox: Sandbox, name: str, path: str) -> str:
    return sandbox.cli("exec", name, "cat", path).stdout.strip()


def assert_restored(sandbox: Sandbox, name: str, old_id: str) -> None:
    state = inspect(sandbox, name)
    assert state["Id"] == old_id, f"{name}: the old container is back under its name"
    assert state["State"]["Running"], f"{name}: the old container runs again"
    assert names_like(sandbox, name) == [name], f"{name}: nothing left aside"


# The three actions


async def test_pull_and_recreate_runs_the_new_image(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory(version="v1")
    web = container_factory(v1)
    v2 = publish(sandbox, image_factory, v1, version="v2")

    result, events = await deploy(deployer, PULL, web.name)

    assert result.ok, result.message
    state = inspect(sandbox, web.name)
    assert state["Image"] == v2.id, "the container runs the pulled image"
    assert state["Id"] != web.id, "the container was recreated"
    assert state["State"]["Running"], "the new container runs"
    assert read_file(sandbox, web.name, "/version") == "v2", "new image content"
    pulled = [e for e in events if e.event == "image_pulled"]
    assert pulled and pulled[0].data["changed"] is True, "log says the image changed"
    assert names_like(sandbox, web.name) == [web.name], "exactly one container"


async def test_pull_of_an_unchanged_image_says_so(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    web = container_factory(image_factory())

    result, events = await deploy(deployer, PULL, web.name)

    assert result.ok, result.message
    pulled = [e for e in events if e.event == "image_pulled"]
    assert pulled and pulled[0].data["changed"] is False, "log says unchanged"


async def test_recreate_makes_a_new_container_from_the_present_image(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    web = container_factory(image)

    result, _ = await deploy(deployer, RECREATE, web.name)

    assert result.ok, result.message
    state = inspect(sandbox, web.name)
    assert state["Id"] != web.id, "a new container"
    assert state["Image"] == image.id, "same image"
    assert state["State"]["Running"], "running"


async def test_restart_keeps_the_container(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    web = container_factory(image_factory())
    started_before = inspect(sandbox, web.name)["State"]["StartedAt"]

    result, _ = await deploy(deployer, RESTART, web.name)

    assert result.ok, result.message
    state = inspect(sandbox, web.name)
    assert state["Id"] == web.id, "restart keeps the container"
    assert state["State"]["StartedAt"] != started_before, "it was started again"
    assert state["State"]["Running"], "running"


@pytest.mark.parametrize("action", [PULL, RECREATE, RESTART])
async def test_a_stopped_container_is_deployed_and_ends_running(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    action: Action,
) -> None:
    web = container_factory(image_factory(), start=False)

    result, _ = await deploy(deployer, action, web.name)

    assert result.ok, result.message
    assert inspect(sandbox, web.name)["State"]["Running"], f"{action.label}: running"


# A faithful recreate


async def test_recreate_keeps_everything_the_user_set(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    network_factory: Any,
) -> None:
    first, second = network_factory(), network_factory()
    fixed = network_factory.__class__(sandbox)
    subnet_net = f"{first.name}-ip"
    sandbox.cli(
        "network", "create", "--internal", "--subnet", "10.231.7.0/24", subnet_net
    )
    fixed.names.append(subnet_net)
    try:
        peer = container_factory(
            image_factory(), args=["--init", "--network", second.name]
        )
        web = container_factory(
            image_factory(),
            args=[
                "--init",
                "--network", first.name,
                "--network-alias", "alias-one",
                "-p", "127.0.0.1::8080",
                "-v", f"{first.name}-named:/named",
                "-v", "/anon",
                "--tmpfs", "/scratch:size=1m",
                "--restart", "unless-stopped",
                "--memory", "64m",
                "--cpu-shares", "512",
                "--cap-add", "NET_ADMIN",
                "--cap-drop", "MKNOD",
                "--device", "/dev/null:/dev/mynull",
                "--log-driver", "json-file",
                "--log-opt", "max-size=1m",
                "--add-host", "example.test:10.0.0.1",
                "--dns", "10.0.0.2",
                "--security-opt", "no-new-privileges",
                "--ulimit", "nofile=1024:2048",
                "-e", "USERVAR=kept",
                "--label", "mine=kept",
                "--stop-signal", "SIGUSR1",
                "--stop-timeout", "3",
                "--health-cmd", "true",
                "--health-interval", "1s",
                "--hostname", "chosen-host",
            ],
        )  # fmt: skip
        sandbox.cli(
            "network", "connect", "--alias", "alias-two", "--link",
            f"{peer.name}:peer", second.name, web.name,
        )  # fmt: skip
        sandbox.cli("network", "connect", "--ip", "10.231.7.50", subnet_net, web.name)
        sandbox.cli("exec", web.name, "sh", "-c", "echo kept > /anon/data")
        sandbox.cli("exec", web.name, "sh", "-c", "echo kept > /named/data")
        before = inspect(sandbox, web.name)

        result, _ = await deploy(deployer, RECREATE, web.name)

        assert result.ok, result.message
        after = inspect(sandbox, web.name)
        assert after["Id"] != before["Id"], "recreated"
        host_keys = [
            "PortBindings", "RestartPolicy", "Memory", "CpuShares", "CapAdd",
            "CapDrop", "Devices", "LogConfig", "ExtraHosts", "Dns", "SecurityOpt",
            "Ulimits", "Init", "Tmpfs", "NetworkMode",
        ]  # fmt: skip
        for key in host_keys:
            assert after["HostConfig"][key] == before["HostConfig"][key], (
                f"HostConfig.{key} preserved"
            )
        for key in ["Env", "Labels", "StopSignal", "StopTimeout", "Healthcheck"]:
            if key == "Labels":
                assert after["Config"]["Labels"]["mine"] == "kept", "label preserved"
                continue
            assert after["Config"][key] == before["Config"][key], f"Config.{key} kept"
        assert after["Config"]["Hostname"] == "chosen-host", "chosen hostname kept"
        networks = after["NetworkSettings"]["Networks"]
        assert "alias-one" in networks[first.name]["Aliases"], "alias on network 1"
        assert "alias-two" in networks[second.name]["Aliases"], "alias on network 2"
        assert networks[second.name]["Links"] == [f"{peer.name}:peer"], "link kept"
        assert networks[subnet_net]["IPAddress"] == "10.231.7.50", "static IP kept"
        assert set(networks) == {first.name, second.name, subnet_net}, "all networks"
        assert read_file(sandbox, web.name, "/anon/data") == "kept", "anonymous data"
        assert read_file(sandbox, web.name, "/named/data") == "kept", "named data"
        assert after["State"]["Health"]["Status"] == "healthy", "healthy at the end"
    finally:
        sandbox.cli(
            "rm", "-f", "-v", *names_like(sandbox, "deployd-test-"), check=False
        )
        sandbox.cli("volume", "rm", "-f", f"{first.name}-named", check=False)
        fixed.cleanup()


async def test_image_defaults_follow_the_new_image_and_user_env_stays(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory(env={"FOO": "1"}, workdir="/tmp", labels={"tier": "one"})
    web = container_factory(v1, args=["--init", "--network", "none", "-e", "MINE=x"])
    publish(
        sandbox,
        image_factory,
        v1,
        version="v2",
        env={"FOO": "2"},
        workdir="/root",
        labels={"tier": "two"},
    )

    result, _ = await deploy(deployer, PULL, web.name)

    assert result.ok, result.message
    config = inspect(sandbox, web.name)["Config"]
    assert "FOO=2" in config["Env"], "the new image's ENV default is honoured"
    assert "MINE=x" in config["Env"], "the user-set variable is kept"
    assert config["WorkingDir"] == "/root", "the new image's WORKDIR is honoured"
    assert config["Labels"]["tier"] == "two", "the new image's label is honoured"


async def test_default_hostname_follows_the_new_container(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    web = container_factory(image_factory())

    result, _ = await deploy(deployer, RECREATE, web.name)

    assert result.ok, result.message
    after = inspect(sandbox, web.name)
    assert after["Config"]["Hostname"] == after["Id"][:12], "hostname is the new id"


async def test_container_network_mode_is_kept_by_name(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    main = container_factory(image)
    side = container_factory(
        image, args=["--init", "--network", f"container:{main.name}"]
    )

    result, _ = await deploy(deployer, RECREATE, side.name)

    assert result.ok, result.message
    mode = inspect(sandbox, side.name)["HostConfig"]["NetworkMode"]
    # The engine stores the peer's id whatever it was given; what matters is
    # that it is the peer that runs now.
    assert mode in (f"container:{main.name}", f"container:{main.id}"), (
        "network mode shares the peer's network"
    )
    assert read_file(sandbox, side.name, "/etc/hostname") == read_file(
        sandbox, main.name, "/etc/hostname"
    ), "side shares the peer's host name"


@pytest.mark.parametrize("action", [RECREATE, RESTART])
async def test_containers_sharing_a_network_follow_their_peer(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    action: Action,
) -> None:
    image = image_factory()
    main = container_factory(image)
    side = container_factory(
        image, args=["--init", "--network", f"container:{main.name}"]
    )

    result, events = await deploy(deployer, action, main.name, side.name)

    assert result.ok, result.message
    new_main = inspect(sandbox, main.name)["Id"]
    after = inspect(sandbox, side.name)
    assert after["HostConfig"]["NetworkMode"] == f"container:{new_main}", (
        "the follower shares the network of the peer that runs now"
    )
    assert after["State"]["Running"], "the follower runs"
    assert read_file(sandbox, side.name, "/etc/hostname") == read_file(
        sandbox, main.name, "/etc/hostname"
    ), "the follower is in the peer's network namespace"
    following = [e for e in events if e.event == "dependent_following"]
    assert following and following[0].container == side.name, "the log says so"


async def test_a_vanished_network_peer_fails_before_anything_changes(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    main = container_factory(image)
    side = container_factory(
        image, args=["--init", "--network", f"container:{main.name}"]
    )
    sandbox.cli("rm", "-f", main.name)

    result, _ = await deploy(deployer, RECREATE, side.name)

    assert not result.ok, "the deploy fails"
    assert "no longer exists" in result.message, result.message
    assert "nothing was changed" in result.message, result.message
    assert inspect(sandbox, side.name)["Id"] == side.id, "the container is untouched"


@pytest.mark.parametrize(
    "args",
    [["--init", "--network", "none", "--read-only"], ["--init", "--network", "host"]],
    ids=["read-only", "host-network"],
)
async def test_read_only_and_host_network_containers_come_out_right(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    args: list[str],
) -> None:
    web = container_factory(image_factory(), args=args)
    before = inspect(sandbox, web.name)["HostConfig"]

    result, _ = await deploy(deployer, RECREATE, web.name)

    assert result.ok, result.message
    after = inspect(sandbox, web.name)["HostConfig"]
    assert after["ReadonlyRootfs"] == before["ReadonlyRootfs"], "read-only root kept"
    assert after["NetworkMode"] == before["NetworkMode"], "network mode kept"


async def test_image_volume_keeps_its_data(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory(volumes=["/state"])
    web = container_factory(v1)
    sandbox.cli("exec", web.name, "sh", "-c", "echo precious > /state/file")
    publish(sandbox, image_factory, v1, version="v2", volumes=["/state"])

    result, _ = await deploy(deployer, PULL, web.name)

    assert result.ok, result.message
    assert read_file(sandbox, web.name, "/state/file") == "precious", "volume data"


# Cleanup of the old image


@pytest.mark.parametrize("cleanup", [True, False])
async def test_cleanup_removes_the_old_image_only_when_asked(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    cleanup: bool,
) -> None:
    v1 = image_factory()
    web = container_factory(v1)
    publish(sandbox, image_factory, v1, version="v2")
    sandbox.cli("rmi", v1.ref, check=False)  # leave the old image only by id

    result, _ = await deploy(deployer, PULL, web.name, cleanup=cleanup)

    assert result.ok, result.message
    present = sandbox.cli("image", "inspect", v1.id, check=False).returncode == 0
    assert present is not cleanup, f"cleanup={cleanup}: old image present={present}"


async def test_cleanup_keeps_an_old_image_that_still_has_a_tag(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory()
    web = container_factory(v1)
    kept = f"{v1.repository}:release-1"
    sandbox.cli("tag", v1.id, kept)
    try:
        publish(sandbox, image_factory, v1, version="v2")

        result, events = await deploy(deployer, PULL, web.name, cleanup=True)

        assert result.ok, result.message
        assert sandbox.cli("image", "inspect", kept, check=False).returncode == 0, (
            "the user's other tag of the old image survives"
        )
        kept_events = [e.message for e in events if e.event == "image_kept"]
        assert kept_events and "still tagged" in kept_events[0], kept_events
    finally:
        sandbox.cli("rmi", kept, check=False)


async def test_cleanup_leaves_an_old_image_another_container_uses(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory()
    web = container_factory(v1)
    container_factory(v1)
    publish(sandbox, image_factory, v1, version="v2")

    result, events = await deploy(deployer, PULL, web.name, cleanup=True)

    assert result.ok, result.message
    assert sandbox.cli("image", "inspect", v1.id, check=False).returncode == 0, (
        "an image still in use is kept"
    )
    assert any(e.event == "image_kept" for e in events), "the log says why"


# Private registry


async def test_private_registry_pull_uses_stored_credentials(
    sandbox: Sandbox,
    deployer: Deployer,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory(auth=True)
    web = container_factory(v1)
    v2 = image_factory(repository=v1.repository, tag=v1.tag, version="v2", auth=True)
    sandbox.cli("rmi", v2.ref)

    refused, _ = await deploy(deployer, PULL, web.name)
    RegistryLogins(data_dir).add(
        sandbox.auth_registry, sandbox.auth_user, sandbox.auth_password
    )
    accepted, _ = await deploy(deployer, PULL, web.name)

    assert not refused.ok, "a pull without credentials fails"
    assert f"container {web.name}: pull failed" in refused.message, refused.message
    hint = f"deployd-cli registry add {sandbox.auth_registry}"
    assert hint in refused.message, "the failure says how to store a login"
    assert accepted.ok, accepted.message
    assert inspect(sandbox, web.name)["Image"] == v2.id, "pulled with credentials"


def write_docker_config(path: Path, sandbox: Sandbox, helper_dir: Path | None) -> None:
    """Write a docker CLI config.json that logs in to the auth registry one way."""
    if helper_dir is None:
        login = f"{sandbox.auth_user}:{sandbox.auth_password}"
        auth = base64.b64encode(login.encode()).decode()
        config: dict[str, Any] = {"auths": {sandbox.auth_registry: {"auth": auth}}}
    else:
        # A credential helper speaks JSON on stdin and stdout, as docker's do.
        answer = json.dumps(
            {"Username": sandbox.auth_user, "Secret": sandbox.auth_password}
        )
        helper = helper_dir / "docker-credential-deploydtest"
        helper.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{answer}'\n")
        helper.chmod(0o755)
        config = {"credHelpers": {sandbox.auth_registry: "deploydtest"}}
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("source", ["auths", "credHelpers"])
async def test_private_registry_pull_uses_the_docker_cli_login(
    sandbox: Sandbox,
    data_dir: Path,
    tmp_path: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    v1 = image_factory(auth=True)
    web = container_factory(v1)
    v2 = image_factory(repository=v1.repository, tag=v1.tag, version="v2", auth=True)
    sandbox.cli("rmi", v2.ref)
    helpers = tmp_path / "bin"
    helpers.mkdir()
    monkeypatch.setenv("PATH", f"{helpers}:{os.environ['PATH']}")
    config = tmp_path / "config.json"
    write_docker_config(config, sandbox, helpers if source == "credHelpers" else None)

    credentials = Credentials(data_dir, docker_config=config)
    async with Docker(sandbox.docker_host, credentials=credentials) as docker:
        deployer = Deployer(docker, data_dir, timing=Timing(start_wait=0.5))
        result, _ = await deploy(deployer, PULL, web.name)

    assert result.ok, f"{source}: {result.message}"
    assert inspect(sandbox, web.name)["Image"] == v2.id, f"pulled with {source}"


# Never lose the container


async def test_failed_pull_changes_nothing(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    local_only = image_factory(push=False)
    web = container_factory(local_only)

    result, _ = await deploy(deployer, PULL, web.name)

    assert not result.ok, "the deploy fails"
    assert f"container {web.name}: pull failed" in result.message, result.message
    assert_restored(sandbox, web.name, web.id)


async def test_failed_create_after_the_stop_restores_the_old_container(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    # Without an init, sleep ignores SIGTERM: the stop takes the full 3 s,
    # long enough to take the image's name away while it runs.
    web = container_factory(image, args=["--network", "none", "--stop-timeout", "3"])

    running = asyncio.create_task(deploy(deployer, RECREATE, web.name))
    await asyncio.sleep(1)
    sandbox.cli("rmi", "-f", image.ref)  # the name goes, the old image stays
    result, _ = await asyncio.wait_for(running, 60)

    assert not result.ok, "the deploy fails"
    assert f"container {web.name}: create failed" in result.message, result.message
    assert "the old container was restored" in result.message, result.message
    assert_restored(sandbox, web.name, web.id)


async def test_a_missing_image_fails_before_the_container_is_stopped(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    web = container_factory(image)
    started = inspect(sandbox, web.name)["State"]["StartedAt"]
    sandbox.cli("rmi", "-f", image.ref)  # the name is gone, the old image stays

    result, _ = await deploy(deployer, RECREATE, web.name)

    assert not result.ok, "the deploy fails"
    assert f"its image {image.ref} is not on this engine" in result.message, (
        result.message
    )
    assert "nothing was changed" in result.message, result.message
    state = inspect(sandbox, web.name)
    assert state["Id"] == web.id and state["State"]["Running"], "still running"
    assert state["State"]["StartedAt"] == started, "never stopped"


async def test_volumes_from_follow_their_owner_not_its_old_volume(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    image = image_factory()
    owner = container_factory(
        image, args=["--init", "--network", "none", "-v", "/shared"]
    )
    user = container_factory(
        image, args=["--init", "--network", "none", "--volumes-from", owner.name]
    )

    result, _ = await deploy(deployer, RECREATE, user.name)

    assert result.ok, result.message
    host_config = inspect(sandbox, user.name)["HostConfig"]
    assert host_config["VolumesFrom"] == [owner.name], "volumes-from kept"
    assert not host_config.get("Binds"), "the owner's volume is not pinned as a bind"
    sandbox.cli("exec", owner.name, "sh", "-c", "echo shared > /shared/f")
    assert read_file(sandbox, user.name, "/shared/f") == "shared", "same volume"


@pytest.mark.parametrize(
    ("options", "step"),
    [
        ({"cmd": ["/no/such/program"]}, "start failed"),
        ({"cmd": ["false"]}, "start failed: the new container exited"),
        (
            {"healthcheck": "--interval=1s --retries=1 CMD echo bad; false"},
            "healthcheck failed: the new container became unhealthy (it said: bad)",
        ),
    ],
    ids=["start-fails", "exits-at-once", "unhealthy"],
)
async def test_a_new_container_that_does_not_run_is_rolled_back(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
    options: dict[str, Any],
    step: str,
) -> None:
    v1 = image_factory()
    web = container_factory(v1)
    publish(sandbox, image_factory, v1, version="v2", **options)

    result, events = await deploy(deployer, PULL, web.name)

    assert not result.ok, "the deploy fails"
    assert f"container {web.name}: {step}" in result.message, result.message
    assert "the old container was restored" in result.message, result.message
    assert any(e.event == "rolled_back" for e in events), "the log says rolled back"
    assert_restored(sandbox, web.name, web.id)


async def test_several_containers_stop_at_the_first_failure(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    good = container_factory(image_factory())
    bad = container_factory(image_factory(push=False))
    later = container_factory(image_factory())

    result, _ = await deploy(deployer, PULL, good.name, bad.name, later.name)

    assert not result.ok, "the deploy fails"
    assert result.deployed == (good.name,), "the first was deployed"
    assert result.failed == (bad.name,), "the second failed"
    assert result.untouched == (later.name,), "the third was not touched"
    assert inspect(sandbox, later.name)["Id"] == later.id, "untouched indeed"


async def test_check_names_a_missing_container(deployer: Deployer) -> None:
    with pytest.raises(NotFound, match="deployd-test-missing"):
        await deployer.check(DeployPlan(("deployd-test-missing",), RECREATE, False))


async def test_deployd_refuses_to_touch_its_own_container(
    docker: Docker,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    web = container_factory(image_factory())
    deployer = Deployer(docker, data_dir, own_id=web.id)

    with pytest.raises(DeployRefused, match="runs in"):
        await deployer.check(DeployPlan((web.name,), RESTART, False))
    result, _ = await deploy(deployer, RECREATE, web.name)
    assert not result.ok and "will not replace" in result.message, result.message


async def test_engine_unreachable_is_a_clear_failure(tmp_path: Path) -> None:
    missing = tmp_path / "no.sock"
    async with Docker(f"unix://{missing}") as docker:
        deployer = Deployer(docker, tmp_path)
        with pytest.raises(EngineUnreachable, match=str(missing)):
            await deployer.check(DeployPlan(("web",), RESTART, False))
        result, _ = await deploy(deployer, RESTART, "web")

    assert not result.ok, "the deploy fails"
    assert "there is no Docker socket at" in result.message, result.message


# Many deploys at once


async def test_deploys_of_one_container_never_overlap(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    web = container_factory(image_factory())
    logs: list[list[DeployEvent]] = [[], [], []]

    results = await asyncio.gather(
        *(
            deployer.run(DeployPlan((web.name,), RECREATE, False), log.append)
            for log in logs
        )
    )

    assert all(r.ok for r in results), [r.message for r in results]
    touching = [
        [e.time for e in log if e.container == web.name and e.event != "deploy_waiting"]
        for log in logs
    ]
    spans = sorted((times[0], times[-1]) for times in touching)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, "one deploy of a container ends before the next starts"
    assert names_like(sandbox, web.name) == [web.name], "exactly one container"
    waited = [any(e.event == "deploy_waiting" for e in log) for log in logs]
    assert sorted(waited) == [False, True, True], "the two later deploys say they wait"


async def test_overlapping_pulls_of_one_image_share_one_engine_pull(
    sandbox: Sandbox,
    deployer: Deployer,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    v1 = image_factory()
    containers = [container_factory(v1) for _ in range(3)]
    v2 = publish(sandbox, image_factory, v1, version="v2")
    logs: list[list[DeployEvent]] = [[] for _ in containers]

    results = await asyncio.gather(
        *(
            deployer.run(DeployPlan((c.name,), PULL, False), log.append)
            for c, log in zip(containers, logs, strict=True)
        )
    )

    assert all(r.ok for r in results), [r.message for r in results]
    assert deployer.pulls.started == 1, "one engine pull for three deploys"
    shared = [
        e.data["shared"] for log in logs for e in log if e.event == "image_pulled"
    ]
    assert sorted(shared) == [False, True, True], "two deploys joined the first pull"
    for container in containers:
        assert inspect(sandbox, container.name)["Image"] == v2.id, "all on v2"
