"""The sandbox and its factories do what the other tests rely on."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.factories import ContainerFactory, ImageFactory, NetworkFactory
from tests.sandbox import (
    Sandbox,
    base_rootfs,
    load,
    mounts_under,
    ping,
    processes_of,
    start,
    stop,
)


def test_engine_answers_ping_on_sandbox_socket(sandbox: Sandbox) -> None:
    assert ping(sandbox.socket_path), "the sandbox engine answers /_ping"
    assert not ping(sandbox.dir / "no-such.sock"), "a missing socket does not answer"


def test_env_file_describes_the_running_sandbox(sandbox: Sandbox) -> None:
    assert load(sandbox.dir) == sandbox, "load(dir) gives back the same sandbox"
    assert sandbox.registry.startswith("127.0.0.1:"), "registry is on 127.0.0.1"
    assert sandbox.auth_registry != sandbox.registry, "two registries, two ports"


def test_new_version_under_same_tag_gets_new_image_id(
    sandbox: Sandbox, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    v1 = image_factory()
    v2 = image_factory(repository=v1.repository, version="v2")

    assert v1.ref == v2.ref, "both versions share one reference"
    assert v1.id != v2.id, "a new version has a new image id"
    assert v1.digest != v2.digest, "a new version has a new registry digest"
    container = container_factory(v2.ref)
    version = sandbox.cli("exec", container.name, "cat", "/version").stdout
    assert version == "v2\n", "the container runs the latest version"


def test_auth_registry_refuses_anonymous_pull_and_accepts_credentials(
    sandbox: Sandbox, image_factory: ImageFactory
) -> None:
    image = image_factory(auth=True)
    sandbox.cli("rmi", image.ref)

    anonymous = sandbox.cli("pull", image.ref, check=False)
    assert anonymous.returncode != 0, "an anonymous pull is refused"
    assert "no basic auth credentials" in anonymous.stderr, "refused for credentials"
    sandbox.cli("pull", image.ref, login=True)
    pulled = sandbox.cli("image", "inspect", "-f", "{{.Id}}", image.ref).stdout
    assert pulled.strip() == image.id, "a pull with credentials gets the image"


def test_image_options_reach_image_config(
    sandbox: Sandbox, image_factory: ImageFactory
) -> None:
    image = image_factory(
        env={"GREETING": "hello world"},
        labels={"app": "web"},
        cmd=["sleep", "1000"],
        healthcheck='--interval=1s CMD ["true"]',
        volumes=["/data"],
        exposed_ports=["8080/tcp"],
        stop_signal="SIGINT",
        workdir="/tmp",
        user="nobody",
    )

    inspected = sandbox.cli("image", "inspect", "-f", "{{json .Config}}", image.ref)
    config = json.loads(inspected.stdout)
    assert "GREETING=hello world" in config["Env"], "env is set"
    assert config["Labels"]["app"] == "web", "labels are set"
    assert config["Labels"]["deployd.test"] == "1", "test images are labelled"
    assert config["Cmd"] == ["sleep", "1000"], "cmd is set"
    assert config["Healthcheck"]["Test"] == ["CMD", "true"], "healthcheck is set"
    assert list(config["Volumes"]) == ["/data"], "volumes are declared"
    assert list(config["ExposedPorts"]) == ["8080/tcp"], "ports are exposed"
    assert config["StopSignal"] == "SIGINT", "stop signal is set"
    assert (config["WorkingDir"], config["User"]) == ("/tmp", "nobody"), "workdir, user"


def test_factories_remove_what_they_made_and_renamed_copies(
    sandbox: Sandbox,
) -> None:
    images = ImageFactory(sandbox)
    networks = NetworkFactory(sandbox)
    containers = ContainerFactory(sandbox)
    try:
        image = images()
        network = networks()
        first = containers(image, args=["--init", "--network", network.name])
        sandbox.cli("rename", first.name, f"{first.name}.deployd-old-1")
        containers(image, name=first.name)
    finally:
        containers.cleanup()
        networks.cleanup()
        images.cleanup()

    listed = sandbox.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in listed if n.startswith(first.name)], "containers removed"
    gone = sandbox.cli("network", "inspect", network.name, check=False)
    assert gone.returncode != 0, "network removed"
    left = sandbox.cli("image", "inspect", image.id, check=False)
    assert left.returncode != 0, "image removed"


def test_stop_leaves_no_process_mount_or_file(tmp_path: Path) -> None:
    engine = start(tmp_path / "sandbox", registries=False)
    try:
        base = "deployd-test-base"
        engine.cli_bytes("import", "-", base, input=base_rootfs())
        # No --init: busybox sleep as PID 1 ignores SIGTERM, the hard case.
        engine.cli("run", "-d", "--network", "none", base, "sleep", "1000")
    finally:
        stop(engine.dir)

    assert processes_of(engine.runtime) == [], "no sandbox process survives stop"
    assert mounts_under(engine.runtime) == [], "no mount survives stop"
    assert not engine.runtime.exists(), "the runtime dir is removed"
    assert not engine.dir.exists(), "the sandbox dir is removed"


def test_private_sandbox_engine_dies_with_its_killed_session(tmp_path: Path) -> None:
    command = [sys.executable, "-c", SESSION_SCRIPT, str(tmp_path / "sandbox")]
    cwd = Path(__file__).parent.parent
    with subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, text=True
    ) as session:
        try:
            assert session.stdout is not None
            runtime = Path(session.stdout.readline().strip())
            assert processes_of(runtime), "the session's engine is running"
            session.send_signal(signal.SIGKILL)
            deadline = time.monotonic() + 30
            while processes_of(runtime) and time.monotonic() < deadline:
                time.sleep(0.2)

            assert processes_of(runtime) == [], "the engine stops when its session dies"
        finally:
            session.kill()
            stop(tmp_path / "sandbox")


SESSION_SCRIPT = """
import sys, time
from pathlib import Path
from tests.sandbox import start
sandbox = start(Path(sys.argv[1]), registries=False, die_with_parent=True)
print(sandbox.runtime, flush=True)
time.sleep(600)
"""
