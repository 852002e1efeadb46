"""The deployd container image: built from the Dockerfile, run on the sandbox engine.

The image is built FROM a Debian base made by tests/imagebase.py (the
sandbox cannot pull the official python image), run with the engine's socket
mounted and host networking on a free loopback port, and driven as an
operator would: tokens minted with ``docker exec``, deploys sent over HTTP.
The helpers that read this machine's settings get fast unit tests too.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import imagebase
from tests.factories import ContainerFactory, ImageFactory, unique_name
from tests.sandbox import TEST_LABEL, Sandbox

REPO = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 900.0
START_TIMEOUT = 60.0
DEPLOY_TIMEOUT = 120.0
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class RunningDeployd:
    """A deployd container on the sandbox engine, listening on 127.0.0.1:port."""

    name: str
    port: int

    @property
    def url(self) -> str:
        """Return the base URL it answers on."""
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def deployd_image(sandbox: Sandbox) -> Iterator[str]:
    """Build the Dockerfile FROM the Debian base; remove the image after.

    The base stays in the engine, as the busybox base does, so that another
    module on a reused sandbox need not import it again.
    """
    base = imagebase.base_image(sandbox)
    ref = f"{sandbox.registry}/deployd-test-image:{secrets.token_hex(6)}"
    try:
        sandbox.cli(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            *imagebase.build_args(),
            "--label",
            TEST_LABEL,
            "-t",
            ref,
            str(REPO),
            timeout=BUILD_TIMEOUT,
        )
        yield ref
    finally:
        sandbox.cli("rmi", "-f", ref, check=False)


@pytest.fixture
def data_volume(sandbox: Sandbox) -> Iterator[str]:
    """A named volume for /data; removed after."""
    name = unique_name()
    sandbox.cli("volume", "create", "--label", TEST_LABEL, name)
    try:
        yield name
    finally:
        sandbox.cli("volume", "rm", "-f", name, check=False)


@pytest.fixture
def deployd(
    sandbox: Sandbox,
    deployd_image: str,
    data_volume: str,
    container_factory: ContainerFactory,
) -> RunningDeployd:
    """deployd running from the image with the socket and a data volume mounted."""
    running = _run_deployd(
        container_factory,
        deployd_image,
        "-v",
        f"{sandbox.socket_path}:/var/run/docker.sock",
        "-v",
        f"{data_volume}:/data",
    )
    _wait_for_health(sandbox, running, 200)

    return running


@pytest.mark.image
def test_image_deploys_a_container_with_a_token_minted_inside_it(
    sandbox: Sandbox,
    deployd: RunningDeployd,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    target = container_factory(image_factory())
    token = _mint(sandbox, deployd, target.name)

    status, body = _post_deploy(deployd, token)

    assert status == 200, f"the deploy is accepted: {status} {body}"
    assert body.rstrip().splitlines()[-1].startswith("Deploy succeeded"), (
        f"the stream ends with the verdict Deploy succeeded:\n{body}"
    )
    state = json.loads(
        sandbox.cli("inspect", "-f", "{{json .State}}", target.name).stdout
    )
    new_id = sandbox.cli("inspect", "-f", "{{.Id}}", target.name).stdout.strip()
    assert new_id != target.id, "the target was recreated under its own name"
    assert state["Running"], "the recreated target runs"


@pytest.mark.image
def test_image_refuses_to_deploy_its_own_container(
    sandbox: Sandbox, deployd: RunningDeployd
) -> None:
    own_id = sandbox.cli("inspect", "-f", "{{.Id}}", deployd.name).stdout.strip()
    token = _mint(sandbox, deployd, deployd.name)

    status, body = _post_deploy(deployd, token)

    assert status == 403, f"deploying deployd's own container is forbidden: {body}"
    still = sandbox.cli("inspect", "-f", "{{.Id}}", deployd.name).stdout.strip()
    assert still == own_id, "deployd's container was left alone"


@pytest.mark.image
def test_image_offers_the_cli_its_health_check_and_the_daemon_version(
    sandbox: Sandbox, deployd: RunningDeployd
) -> None:
    cli_help = sandbox.cli("exec", deployd.name, "cli", "--help", check=False)
    health = sandbox.cli("exec", deployd.name, "deployd-healthcheck", check=False)
    version = sandbox.cli("exec", deployd.name, "deployd", "--version", check=False)

    assert cli_help.returncode == 0, f"cli --help runs: {cli_help.stderr}"
    assert "deployd-cli" in cli_help.stdout, "cli is deployd-cli under a short name"
    assert health.returncode == 0, f"the health check passes: {health.stderr}"
    assert version.stdout.startswith("deployd "), "the daemon reports its version"


@pytest.mark.image
def test_image_health_check_fails_while_no_engine_answers(
    sandbox: Sandbox, deployd_image: str, container_factory: ContainerFactory
) -> None:
    lonely = _run_deployd(container_factory, deployd_image)
    _wait_for_health(sandbox, lonely, 503)

    health = sandbox.cli("exec", lonely.name, "deployd-healthcheck", check=False)

    assert health.returncode == 1, "without an engine the container is unhealthy"
    assert "503" in health.stderr, f"the check says why: {health.stderr}"


@pytest.mark.image
def test_image_declares_port_volume_data_dir_and_health_check(
    sandbox: Sandbox, deployd_image: str
) -> None:
    listed = sandbox.cli("image", "inspect", "-f", "{{json .Config}}", deployd_image)
    config = json.loads(listed.stdout)

    assert "3000/tcp" in config["ExposedPorts"], "port 3000 is exposed"
    assert "/data" in config["Volumes"], "/data is a volume"
    assert "DATA_DIR=/data" in config["Env"], "DATA_DIR points at the volume"
    assert config["Entrypoint"] == ["deployd"], "the entry point is the daemon"
    assert config["Healthcheck"]["Test"] == ["CMD", "deployd-healthcheck"], (
        "the health check needs no curl"
    )
    assert config["User"] in ("", "root"), "the image runs as root by default"


@pytest.mark.image
def test_image_runs_as_the_deployd_user_with_a_writable_data_volume(
    sandbox: Sandbox, deployd_image: str
) -> None:
    name = unique_name()
    result = sandbox.cli(
        "run",
        "--rm",
        "--name",
        name,
        "--label",
        TEST_LABEL,
        "--network",
        "none",
        "--user",
        "deployd",
        "--entrypoint",
        "deployd-cli",
        deployd_image,
        "token",
        "create",
        "--container",
        "web",
        "--action",
        "restart",
        "--no-verify",
        check=False,
    )

    assert result.returncode == 0, f"deployd-cli as deployd writes /data: {result}"
    assert result.stdout.strip().startswith("v4.public."), "a token is printed"


def test_debian_mirror_is_read_from_deb822_and_one_line_sources(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n"
        "# a comment\n"
        "URIs: http://mirror.example/debian/\n"
        "Suites: bookworm\n\n"
        "Types: deb\n"
        "URIs: http://mirror.example/debian-security\n"
    )

    assert imagebase.debian_mirror(tmp_path) == "http://mirror.example/debian", (
        "the first deb URI ending in /debian is the mirror"
    )


def test_debian_mirror_falls_back_to_the_default_without_sources(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.list").write_text(
        "deb [signed-by=/k.gpg] https://pkgs.example/apt stable main\n"
    )

    assert imagebase.debian_mirror(tmp_path) == imagebase.DEFAULT_MIRROR, (
        "a machine without a Debian mirror gets deb.debian.org"
    )


def test_pip_settings_keep_network_indexes_and_drop_local_ones() -> None:
    listed = (
        "global.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.extra-index-url='file:///opt/pypi/simple https://mirror.example/simple'\n"
        "global.find-links='/opt/wheels'\n"
        ":env:.index-url='https://pypi.example/simple'\n"
    )

    assert imagebase.pip_settings(listed) == {
        "extra-index-url": "https://mirror.example/simple",
        "index-url": "https://pypi.example/simple",
    }, "only network indexes reach the image"


def test_build_args_pass_set_proxy_variables_only() -> None:
    env = {"HTTPS_PROXY": "http://proxy.example:3128", "no_proxy": "localhost"}

    assert imagebase.build_args(env) == [
        "--build-arg",
        "HTTPS_PROXY=http://proxy.example:3128",
        "--build-arg",
        "no_proxy=localhost",
    ], "set proxy variables become build arguments, unset ones do not"


def _mint(sandbox: Sandbox, deployd: RunningDeployd, container: str) -> str:
    result = sandbox.cli(
        "exec",
        deployd.name,
        "deployd-cli",
        "token",
        "create",
        "--container",
        container,
        "--action",
        "recreate",
        "--no-verify",
    )

    return result.stdout.strip()


def _post_deploy(deployd: RunningDeployd, token: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{deployd.url}/v1/deploy",
        method="POST",
        headers={"X-Deploy-Token": token, "Accept": "text/plain"},
    )
    try:
        with HTTP.open(request, timeout=DEPLOY_TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def _run_deployd(
    container_factory: ContainerFactory, image: str, *args: str
) -> RunningDeployd:
    port = _free_port()
    started = container_factory(
        image,
        args=(
            "--network",
            "host",
            "-e",
            f"PORT={port}",
            "-e",
            "IP=127.0.0.1",
            "-e",
            "LOG_FORMAT=json",
            *args,
        ),
    )

    return RunningDeployd(started.name, port)


def _wait_for_health(sandbox: Sandbox, deployd: RunningDeployd, status: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            with HTTP.open(f"{deployd.url}/healthz", timeout=10) as response:
                answered, last = response.status, f"status {response.status}"
        except urllib.error.HTTPError as exc:
            with exc:
                answered, last = exc.code, f"status {exc.code}: {exc.read().decode()}"
        except OSError as exc:
            answered, last = 0, str(exc)
        if answered == status:
            return
        time.sleep(0.3)
    logs = sandbox.cli("logs", "--tail", "30", deployd.name, check=False)
    pytest.fail(
        f"deployd in the image did not answer /healthz with {status} within "
        f"{START_TIMEOUT:.0f}s ({last}); its log:\n{logs.stdout}{logs.stderr}"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]

    return port
