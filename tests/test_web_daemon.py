"""The ``deployd`` command as a real process: startup, the /s helper, logs, shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from deployd.config import Settings
from deployd.tokens import Action, Tokens
from deployd.web.pages import render_template
from tests.daemon import (
    HELPER_TIMEOUT,
    STOP_TIMEOUT,
    Daemon,
    environment,
    free_port,
    get,
    run_deployd,
    run_helper,
    start_daemon,
    stop,
    wait_for_health,
    wait_for_log,
)
from tests.factories import ContainerFactory, ImageFactory
from tests.sandbox import Sandbox

CURL_POST = ["curl", "-sS", "-N", "-X", "POST", "-H"]

# The bash helper, end to end


def test_the_bash_helper_streams_a_successful_deploy_and_exits_0(
    daemon: Daemon, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    container = container_factory(image_factory())
    result = run_helper(daemon, daemon.mint(container.name, Action.RECREATE))

    assert result.returncode == 0, f"a good deploy exits 0:\n{result.stdout}"
    assert "Deploy succeeded" in result.stdout, "the verdict is printed"
    assert "Deployment successful" in result.stdout, "and the helper says so"
    assert "Deploy started" in result.stdout, "the steps are printed too"


def test_the_bash_helper_exits_1_when_the_deploy_fails(
    daemon: Daemon, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    container = container_factory(image_factory(push=False))
    result = run_helper(daemon, daemon.mint(container.name, Action.PULL_AND_RECREATE))

    assert result.returncode == 1, f"a failed deploy exits 1:\n{result.stdout}"
    assert "Deploy failed" in result.stdout, "the reason is printed"
    assert "Deployment failed" in result.stdout, "and the helper says so"


def test_the_bash_helper_exits_1_when_the_request_is_refused(daemon: Daemon) -> None:
    result = run_helper(daemon, "v4.public.not-a-token")

    assert result.returncode == 1, f"a refused request exits 1:\n{result.stdout}"
    assert "malformed token" in result.stdout, "the server's reason is printed"
    assert "HTTP status 401" in result.stdout, "and the status"


def test_the_bash_helper_exits_3_when_deployd_does_not_answer(tmp_path: Path) -> None:
    settings = Settings(url=f"http://127.0.0.1:{free_port()}", script_timeout=10)
    script = render_template("request.sh", settings)
    result = subprocess.run(
        ["bash", "-s", "--", "v4.public.whatever"],
        input=script,
        capture_output=True,
        text=True,
        timeout=HELPER_TIMEOUT,
    )

    assert result.returncode == 3, f"no answer exits 3:\n{result.stdout}"
    assert "no answer" in result.stdout, "the helper says nobody answered"


def test_the_bash_helper_exits_2_without_a_token(tmp_path: Path) -> None:
    script = render_template("request.sh", Settings())
    result = subprocess.run(
        ["bash", "-s"],
        input=script,
        capture_output=True,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "DEPLOY_TOKEN"},
        timeout=HELPER_TIMEOUT,
    )

    assert result.returncode == 2, "a missing token is a usage error"
    assert "No deploy token" in result.stdout, "and the helper says so"


# Tokens and logs in a running daemon


def test_a_revocation_reaches_the_running_daemon_within_a_second(
    daemon: Daemon, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    container = container_factory(image_factory())
    token = daemon.mint(container.name, Action.RESTART)
    probe = f"{daemon.url}/v1/deploys/0000000000000000"
    assert get(probe, token) == 404, "a valid token gets past authentication"

    Tokens(daemon.data_dir).revoke(token)
    revoked_at = time.monotonic()
    while get(probe, token) != 401:
        assert time.monotonic() - revoked_at < 1.5, "the revocation was not seen"
        time.sleep(0.05)


def test_the_log_tells_what_happened_but_never_the_token(
    daemon: Daemon, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    container = container_factory(image_factory())
    token = daemon.mint(container.name, Action.RESTART)
    assert run_helper(daemon, token).returncode == 0, "the deploy succeeds"
    run_helper(daemon, token[:-4] + "AAAA")
    Tokens(daemon.data_dir).revoke(token)
    time.sleep(0.6)
    run_helper(daemon, token)

    events = daemon.log_events()
    names = [event["event"] for event in events]
    assert token not in daemon.log(), "the token never appears in the log"
    assert token[10:40] not in daemon.log(), "nor any stretch of it"
    assert "deploy_accepted" in names and "deploy_finished" in names, "deploys logged"
    finished = next(e for e in events if e["event"] == "deploy_finished")
    assert finished["outcome"] == "succeeded", "with their outcome"
    assert finished["containers"] == [container.name], "and containers"
    assert "duration_ms" in finished and "request_id" in finished, "and timing and id"
    assert "request_rejected" in names, "refusals are logged"


def test_a_flood_of_bad_requests_costs_a_few_log_lines(daemon: Daemon) -> None:
    before = len(daemon.log_events())
    statuses = {
        get(f"{daemon.url}/v1/deploy", f"v4.public.flood{n}", method="POST")
        for n in range(200)
    }
    time.sleep(0.2)
    # The daemon runs at debug level, which adds a line per token check.
    added = [e for e in daemon.log_events()[before:] if e["level"] != "debug"]

    assert statuses == {401, 429}, "the flood is refused, then slowed down"
    assert len(added) < 30, f"200 refusals added {len(added)} log lines above debug"


def test_oversized_headers_are_refused_in_one_line_and_logged_without_tracebacks(
    daemon: Daemon,
) -> None:
    answers = [post_raw(daemon, "a" * 20_000)[:2] for _ in range(30)]
    time.sleep(0.2)
    events = daemon.log_events()

    assert {status for status, _ in answers} == {431}, "each is refused 431"
    assert all(body.startswith("Error: ") for _, body in answers), "in one line"
    assert not any("aaa" in body for _, body in answers), "repeating none of it"
    assert "Traceback" not in daemon.log(), "the log holds no traceback"
    assert not [e for e in events if e.get("level") == "error"], "and no error"
    rejected = [e for e in events if e["event"] == "request_rejected"]
    assert len(rejected) == 1, "30 refusals from one client log one line at first"


def test_the_startup_log_says_what_workers_does(daemon: Daemon) -> None:
    ignored = [e for e in daemon.log_events() if e["event"] == "workers_ignored"]

    assert ignored and "one async process" in str(ignored[0]["reason"]), (
        "WORKERS is reported as accepted and ignored"
    )


def post_raw(daemon: Daemon, token: str) -> tuple[int, str, str | None]:
    """Return the status, body and Retry-After of a POST /v1/deploy with ``token``."""
    request = urllib.request.Request(
        f"{daemon.url}/v1/deploy?stream=false",
        headers={"X-Deploy-Token": token},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=HELPER_TIMEOUT) as response:
            return response.status, response.read().decode(), None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers["Retry-After"]


# Startup refusals and shutdown


def test_a_bad_setting_stops_deployd_with_exit_2_naming_it(data_dir: Path) -> None:
    result = run_deployd(environment(DATA_DIR=str(data_dir), PORT="eighty"))

    assert result.returncode == 2, "a bad setting exits 2"
    assert result.stderr.startswith("deployd: PORT="), "stderr names the variable"
    assert result.stderr.count("\n") == 1, "in one line"


def test_an_unusable_data_dir_stops_deployd_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_deployd(environment(DATA_DIR=str(missing), LOG_FORMAT="json"))

    assert result.returncode == 2, "a missing DATA_DIR exits 2"
    assert str(missing) in result.stderr, "stderr names the path"
    assert f"uid {os.getuid()}" in result.stderr, "and the user id"


def test_a_second_deployd_on_the_same_data_dir_exits_2_naming_the_first(
    daemon: Daemon, sandbox: Sandbox
) -> None:
    result = run_deployd(
        environment(
            DATA_DIR=str(daemon.data_dir),
            DOCKER_HOST=sandbox.docker_host,
            PORT=str(free_port()),
            IP="127.0.0.1",
        )
    )

    assert result.returncode == 2, "the second daemon refuses to start"
    assert result.stderr.count("\n") == 1, f"in one line:\n{result.stderr}"
    assert str(daemon.data_dir) in result.stderr, "naming DATA_DIR"
    assert f"pid {daemon.process.pid}" in result.stderr, "and the daemon that has it"
    assert wait_for_health(daemon) == 200, "the first one serves on"


def test_a_killed_deployd_does_not_block_the_next_start(
    data_dir: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_daemon(tmp_path / "first", data_dir, sandbox.docker_host)
    try:
        assert wait_for_health(first) == 200, "the first daemon runs"
    finally:
        first.process.kill()
        first.process.wait(STOP_TIMEOUT)
    second = start_daemon(tmp_path / "second", data_dir, sandbox.docker_host)
    try:
        assert wait_for_health(second) == 200, "the next one starts at once"
    finally:
        stop(second)


def test_deployd_keeps_serving_while_the_engine_is_away(
    data_dir: Path, tmp_path: Path
) -> None:
    running = start_daemon(tmp_path, data_dir, f"unix://{tmp_path}/gone.sock")
    try:
        health = wait_for_health(running)
        token, _ = Tokens(data_dir).mint(["web"], Action.RESTART, False, None)
        deploy = get(f"{running.url}/v1/deploy", token, method="POST")
    finally:
        stop(running)

    assert health == 503, "without an engine /healthz says unavailable"
    assert deploy == 503, "and deploys are refused for now, not failed"
    assert "engine_unreachable" in running.log(), "the log warns about the engine"


def test_sigterm_lets_a_running_deploy_finish_then_exits_0(
    daemon: Daemon, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    container = container_factory(image_factory())
    token = daemon.mint(container.name, Action.RECREATE)
    with subprocess.Popen(
        [
            "curl",
            "-sS",
            "-N",
            "-X",
            "POST",
            "-H",
            f"X-Deploy-Token: {token}",
            f"{daemon.url}/v1/deploy",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as client:
        assert client.stdout is not None
        first = client.stdout.readline()
        daemon.process.send_signal(signal.SIGTERM)
        rest, _ = client.communicate(timeout=HELPER_TIMEOUT)

    assert first, "the stream had started before the signal"
    assert rest.splitlines()[-1].startswith("Deploy succeeded"), (
        "the deploy that was running finished and its caller was told"
    )
    assert daemon.process.wait(STOP_TIMEOUT) == 0, "deployd then exits 0"
    assert "deployd_stopped" in daemon.log(), "and says it stopped"


def test_during_the_grace_period_new_deploys_get_503_then_the_port_closes(
    sandbox: Sandbox,
    data_dir: Path,
    tmp_path: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    running = start_daemon(tmp_path, data_dir, sandbox.docker_host, START_WAIT="6")
    try:
        assert wait_for_health(running) == 200, "deployd is up"
        container = container_factory(image_factory())
        token = running.mint(container.name, Action.RECREATE)
        with subprocess.Popen(
            [*CURL_POST, f"X-Deploy-Token: {token}", f"{running.url}/v1/deploy"],
            stdout=subprocess.PIPE,
            text=True,
        ) as first:
            assert first.stdout is not None
            first.stdout.readline()
            running.process.send_signal(signal.SIGTERM)
            wait_for_log(running, "deploys_draining")
            status, body, retry = post_raw(running, token)
            health = get(f"{running.url}/healthz", "")
            rest, _ = first.communicate(timeout=HELPER_TIMEOUT)
        exit_status = running.process.wait(STOP_TIMEOUT)
        after = get(f"{running.url}/healthz", "")
    finally:
        stop(running)

    assert status == 503, "a deploy sent during the grace period is refused"
    assert (
        body == "Error: deployd is shutting down; send the deploy again in a moment\n"
    ), "in one line that says to send it again"
    assert retry == "5", "with Retry-After"
    assert health == 503, "/healthz says deployd is going away"
    assert rest.splitlines()[-1].startswith("Deploy succeeded"), "the first one ends"
    assert exit_status == 0, "deployd exits 0"
    assert after == 0, "and nothing listens any more"


def test_a_deploy_cut_off_by_kill_9_is_recorded_as_failed_by_the_next_start(
    sandbox: Sandbox,
    data_dir: Path,
    tmp_path: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    container = container_factory(image_factory())
    old_id = sandbox.cli("inspect", "-f", "{{.Id}}", container.name).stdout.strip()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_daemon(
        tmp_path / "first", data_dir, sandbox.docker_host, START_WAIT="10"
    )
    try:
        assert wait_for_health(first) == 200, "the first daemon runs"
        token = first.mint(container.name, Action.RECREATE)
        deploy = subprocess.Popen(
            [*CURL_POST, f"X-Deploy-Token: {token}", f"{first.url}/v1/deploy"],
            stdout=subprocess.DEVNULL,
        )
        wait_for_log(first, "container_created")
    finally:
        first.process.kill()
        first.process.wait(STOP_TIMEOUT)
    deploy.wait(HELPER_TIMEOUT)
    [accepted] = [e for e in first.log_events() if e["event"] == "deploy_accepted"]
    second = start_daemon(tmp_path / "second", data_dir, sandbox.docker_host)
    try:
        assert wait_for_health(second) == 200, "the next daemon starts"
        wait_for_log(second, "engine_connected")
        status, body = get_json(second, f"/v1/deploys/{accepted['deploy_id']}", token)
    finally:
        stop(second)
    now_id = sandbox.cli("inspect", "-f", "{{.Id}}", container.name).stdout.strip()

    assert status == 200, "the deploy is in the history after the restart"
    assert body["status"] == "failed", "recorded as failed"
    assert body["message"] == (
        "Deploy failed: deployd stopped during this deploy; its container was "
        "restored on the next start"
    ), "saying what happened to its container"
    assert body["failed"] == [container.name], "which is listed"
    assert now_id == old_id, "and is indeed the old container again"


def get_json(daemon: Daemon, path: str, token: str) -> tuple[int, dict[str, object]]:
    """Return the status and JSON body of a GET with ``token``."""
    request = urllib.request.Request(
        f"{daemon.url}{path}", headers={"X-Deploy-Token": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}
