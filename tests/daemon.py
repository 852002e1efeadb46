"""A real ``deployd`` process for tests: start it, wait for it, talk to it, stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deployd.tokens import Action, Tokens

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
HELPER_TIMEOUT = 120.0
START_WAIT = "1.5"
SETTINGS = {
    *("URL", "PORT", "IP", "BEHIND_PROXY", "DISABLE_INDEX_PAGE", "SCRIPT_TIMEOUT"),
    *("WORKERS", "DATA_DIR", "DOCKER_HOST", "LOG_LEVEL", "LOG_FORMAT"),
    *("MAX_ENGINE_OPERATIONS", "START_WAIT", "HEALTH_TIMEOUT", "SHUTDOWN_GRACE"),
    "SENTRY_DSN",
}


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_events(self) -> list[dict[str, object]]:
        return [
            json.loads(line) for line in self.log().splitlines() if line.startswith("{")
        ]

    def mint(self, name: str, action: Action) -> str:
        token, _ = Tokens(self.data_dir).mint([name], action, False, None)
        return token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    env["PYTHONPATH"] = str(ROOT)

    return {**env, **settings}


def run_deployd(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deployd"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def wait_for_health(daemon: Daemon) -> int:
    """Return the status of the first answer /healthz gives."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise AssertionError(f"deployd exited at start:\n{daemon.log()}")
        status = get(f"{daemon.url}/healthz", "")
        if status:
            return status
        time.sleep(0.1)
    raise AssertionError(
        f"deployd did not answer in {START_TIMEOUT} s:\n{daemon.log()}"
    )


def start_daemon(
    tmp_path: Path, data_dir: Path, docker_host: str, **settings: str
) -> Daemon:
    """Start ``deployd`` on a free port; ``settings`` add or replace variables."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "deployd.log"
    env = environment(
        URL=url,
        PORT=str(port),
        IP="127.0.0.1",
        DATA_DIR=str(data_dir),
        DOCKER_HOST=docker_host,
        LOG_FORMAT="json",
        LOG_LEVEL="debug",
        START_WAIT=START_WAIT,
        WORKERS="4",
        SHUTDOWN_GRACE="30",
    )
    env.update(settings)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "deployd"],
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    return Daemon(process, url, data_dir, log_path)


def stop(daemon: Daemon) -> int:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
    try:
        return daemon.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        daemon.process.kill()
        daemon.process.wait(STOP_TIMEOUT)
        raise


def run_helper(daemon: Daemon, token: str) -> subprocess.CompletedProcess[str]:
    """Run the documented CI line: fetch /s and pipe it into bash."""
    return subprocess.run(
        ["bash", "-c", 'curl -sSL "$DEPLOYD_URL/s" | bash -s -- "$DEPLOY_TOKEN"'],
        env={**os.environ, "DEPLOYD_URL": daemon.url, "DEPLOY_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=HELPER_TIMEOUT,
    )


def wait_for_log(daemon: Daemon, event: str) -> None:
    """Return once the daemon has logged ``event``."""
    deadline = time.monotonic() + START_TIMEOUT
    while event not in daemon.log():
        assert time.monotonic() < deadline, f"deployd never logged {event}"
        time.sleep(0.02)


def get(url: str, token: str, method: str = "GET") -> int:
    """Return the status of the answer, 0 when nothing answered."""
    headers = {"X-Deploy-Token": token} if token else {}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):
        return 0
