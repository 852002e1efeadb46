"""How fast deployd is, measured against a private sandbox engine; prints a table.

Run ``make bench`` (or ``python -m bench.run`` from the repository root). It
starts its own sandbox (engine and registry on 127.0.0.1), a real ``deployd``
process on a free port, and measures:

1. the overhead of a pull-and-recreate through the API against the same engine
   calls made directly, in alternating runs;
2. the time to the first streamed byte against the whole deploy;
3. 100 simultaneous deploy requests over 10 containers against 10 deploys one
   after another: answers, engine pulls and recreates, wall time;
4. rejected requests per second from 50 connections (malformed token, revoked
   token) and the latency of a valid deploy request during that flood;
5. the daemon's resident memory idle, after (3) and after (4).

Each figure is a median with min and max over several runs; comparisons are
ratios within one run. It is a measurement, not a test: nothing fails.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from deployd import logs
from deployd.docker import Credentials, Docker, recreate_spec
from deployd.tokens import Action, Tokens
from tests.factories import ContainerFactory, ImageFactory
from tests.sandbox import Sandbox, start, stop

ROOT = Path(__file__).resolve().parents[1]
START_WAIT = 0.2
OVERHEAD_RUNS = 7
BURST_RUNS = 3
BURST_CONTAINERS = 10
BURST_REQUESTS = 100
FLOOD_CONNECTIONS = 50
FLOOD_SECONDS = 5.0
QUIET_SECONDS = 2.0
PROBE_INTERVAL = 0.2
REQUEST_TIMEOUT = 120.0
POLL_INTERVAL = 0.1
DAEMON_TIMEOUT = 30.0


@dataclass
class Figure:
    """One row of the table: a name, samples, a unit and an optional target."""

    name: str
    samples: list[float]
    unit: str
    target: str = ""
    scale: float = 1.0
    digits: int = 1

    def cells(self) -> list[str]:
        values = [value * self.scale for value in self.samples]
        if not values:
            return [self.name, "-", "-", "-", self.target]
        shown = [
            f"{statistics.median(values):.{self.digits}f}",
            f"{min(values):.{self.digits}f}",
            f"{max(values):.{self.digits}f}",
        ]

        return [self.name, *(f"{v} {self.unit}".strip() for v in shown), self.target]


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    tokens: Tokens = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = Tokens(self.data_dir)

    def mint(self, *names: str, action: Action = Action.PULL_AND_RECREATE) -> str:
        token, _ = self.tokens.mint(names, action, False, None)
        return token

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))

        return int(line.split()[1]) / 1024


# The daemon


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_daemon(sandbox: Sandbox, work: Path) -> Daemon:
    data_dir = work / "data"
    data_dir.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEPLOYD_")},
        "PYTHONPATH": str(ROOT),
        "URL": url,
        "PORT": str(port),
        "IP": "127.0.0.1",
        "DATA_DIR": str(data_dir),
        "DOCKER_HOST": sandbox.docker_host,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "START_WAIT": str(START_WAIT),
        "SHUTDOWN_GRACE": "10",
    }
    with (work / "deployd.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "deployd"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(process, url, data_dir)
    wait_until_healthy(daemon)

    return daemon


def wait_until_healthy(daemon: Daemon) -> None:
    deadline = time.monotonic() + DAEMON_TIMEOUT
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError("deployd exited at start; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port_of(daemon)), 1):
                return
        except OSError:
            time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"deployd did not listen within {DAEMON_TIMEOUT} s")


def port_of(daemon: Daemon) -> int:
    return int(daemon.url.rsplit(":", 1)[1])


def stop_daemon(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
    try:
        daemon.process.wait(DAEMON_TIMEOUT)
    except subprocess.TimeoutExpired:
        daemon.process.kill()
        daemon.process.wait(DAEMON_TIMEOUT)


# Deploys through the API and by hand


@dataclass(frozen=True)
class Streamed:
    ok: bool
    first_byte: float
    total: float


async def deploy_via_api(
    session: aiohttp.ClientSession, daemon: Daemon, token: str
) -> Streamed:
    """POST a deploy and read its stream; return the outcome and its timing."""
    began = time.perf_counter()
    async with session.post(
        f"{daemon.url}/v1/deploy", headers={"X-Deploy-Token": token}
    ) as response:
        first = await response.content.readany()
        first_byte = time.perf_counter() - began
        rest = await response.read()
    total = time.perf_counter() - began
    lines = (first + rest).decode().splitlines()
    ok = response.status == 200 and lines[-1].startswith("Deploy succeeded")

    return Streamed(ok, first_byte, total)


async def deploy_directly(docker: Docker, name: str) -> None:
    """Pull and recreate ``name`` with the engine calls deployd makes, no more."""
    old = await docker.containers.inspect(name)
    async for _ in docker.images.pull(old.image_ref):
        pass
    await docker.images.inspect(old.image_ref)
    old_image = await docker.images.inspect(old.image_id)
    spec = recreate_spec(
        old, old_image, network_mode=old.network_mode, api_version=docker.api_tuple
    )
    await docker.containers.stop(old.id)
    await docker.containers.rename(old.id, f"{name}-aside")
    new_id = await docker.containers.create(name, spec)
    await docker.containers.start(new_id)
    deadline = time.monotonic() + START_WAIT
    await docker.containers.inspect(new_id)
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_INTERVAL)
        await docker.containers.inspect(new_id)
    await docker.containers.remove(old.id, force=True)


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    began = time.perf_counter()
    await call()

    return time.perf_counter() - began


# 1 and 2: overhead and first byte


async def measure_overhead(
    daemon: Daemon, docker: Docker, session: aiohttp.ClientSession, name: str
) -> list[Figure]:
    token = daemon.mint(name)
    api: list[Streamed] = []
    direct: list[float] = []
    await deploy_via_api(session, daemon, token)
    for _ in range(OVERHEAD_RUNS):
        api.append(await deploy_via_api(session, daemon, token))
        direct.append(await timed(lambda: deploy_directly(docker, name)))
    failed = sum(1 for run in api if not run.ok)
    if failed:
        print(f"warning: {failed} API deploys in the overhead runs failed")
    totals = [run.total for run in api]

    return [
        Figure("1. deploy through the API", totals, "ms", scale=1000, digits=0),
        Figure(
            "1. same engine calls made directly", direct, "ms", scale=1000, digits=0
        ),
        Figure(
            "1. ratio API / direct",
            [a / d for a, d in zip(totals, direct, strict=True)],
            "",
            "<= 1.10",
            digits=3,
        ),
        Figure(
            "2. time to first streamed byte",
            [run.first_byte for run in api],
            "ms",
            "< 50 ms",
            scale=1000,
        ),
        Figure(
            "2. first byte / whole deploy",
            [run.first_byte / run.total for run in api],
            "",
            digits=3,
        ),
    ]


# 3: a burst over ten containers


async def engine_events(
    docker: Docker, since: float, until: float, kind: str, action: str
) -> list[dict[str, Any]]:
    params = {
        "since": f"{since:.6f}",
        "until": f"{until:.6f}",
        "filters": json.dumps({"type": [kind], "event": [action]}),
    }

    return [event async for event in docker.stream("GET", "/events", params=params)]


async def measure_burst(
    daemon: Daemon,
    docker: Docker,
    session: aiohttp.ClientSession,
    names: Sequence[str],
) -> list[Figure]:
    tokens = [daemon.mint(name) for name in names]
    per_container = BURST_REQUESTS // len(names)
    answered: list[float] = []
    succeeded: list[float] = []
    pulls: list[float] = []
    recreates: list[float] = []
    ratios: list[float] = []
    walls: list[float] = []
    for _ in range(BURST_RUNS):
        sequential = await timed(lambda: one_after_another(session, daemon, tokens))
        since = time.time()
        began = time.perf_counter()
        results = await asyncio.gather(
            *(
                deploy_via_api(session, daemon, token)
                for token in tokens
                for _ in range(per_container)
            ),
            return_exceptions=True,
        )
        wall = time.perf_counter() - began
        until = time.time() + 0.5
        await asyncio.sleep(0.6)
        answered.append(sum(1 for r in results if isinstance(r, Streamed)))
        succeeded.append(sum(1 for r in results if isinstance(r, Streamed) and r.ok))
        pulls.append(len(await engine_events(docker, since, until, "image", "pull")))
        recreates.append(
            len(await engine_events(docker, since, until, "container", "create"))
        )
        walls.append(wall)
        ratios.append(wall / sequential)

    return [
        Figure("3. burst: requests answered (of 100)", answered, "", "100", digits=0),
        Figure("3. burst: deploys succeeded (of 100)", succeeded, "", "100", digits=0),
        Figure("3. burst: engine pulls", pulls, "", "<= 10", digits=0),
        Figure("3. burst: containers recreated", recreates, "", digits=0),
        Figure("3. burst: wall time", walls, "s", digits=2),
        Figure("3. burst wall / 10 sequential deploys", ratios, "", "<= 2", digits=2),
    ]


async def one_after_another(
    session: aiohttp.ClientSession, daemon: Daemon, tokens: Sequence[str]
) -> None:
    for token in tokens:
        result = await deploy_via_api(session, daemon, token)
        if not result.ok:
            print("warning: a sequential deploy failed")


# 4: a flood of refused requests


async def probe_valid(
    daemon: Daemon, tokens: Sequence[str], stop_at: float
) -> list[float]:
    """Start valid deploys until ``stop_at``; return each time to the headers.

    The probes take the tokens in turn, so that no probe waits for the engine
    to finish restarting the container the previous one named.
    """
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        for token in itertools.cycle(tokens):
            if time.monotonic() >= stop_at:
                break
            began = time.perf_counter()
            async with session.post(
                f"{daemon.url}/v1/deploy", headers={"X-Deploy-Token": token}
            ) as response:
                latencies.append(time.perf_counter() - began)
                if response.status != 200:
                    print(f"warning: a valid deploy was answered {response.status}")
            await asyncio.sleep(PROBE_INTERVAL)

    return latencies


async def measure_flood(
    daemon: Daemon, kind: str, bad_token: str, probe_tokens: Sequence[str], subnet: int
) -> list[Figure]:
    """Flood from 50 addresses of 127.0.SUBNET.0/24 in a separate process."""
    flood = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.flood",
        daemon.url,
        bad_token,
        str(subnet),
        str(FLOOD_SECONDS),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    latencies = await probe_valid(
        daemon, probe_tokens, time.monotonic() + FLOOD_SECONDS
    )
    async with asyncio.timeout(FLOOD_SECONDS + DAEMON_TIMEOUT):
        output, _ = await flood.communicate()
    report = json.loads(output)
    rates = per_second(report["times"])
    mix = ", ".join(
        f"{n} x {status}" for status, n in sorted(report["statuses"].items())
    )

    return [
        Figure(f"4. {kind}: refused per second ({mix})", rates, "/s", digits=0),
        Figure(
            f"4. {kind}: valid deploy, time to headers (p99 {p99(latencies):.1f} ms)",
            latencies,
            "ms",
            scale=1000,
        ),
    ]


async def measure_quiet(daemon: Daemon, probe_tokens: Sequence[str]) -> Figure:
    latencies = await probe_valid(
        daemon, probe_tokens, time.monotonic() + QUIET_SECONDS
    )

    return Figure(
        f"4. no flood: valid deploy, time to headers (p99 {p99(latencies):.1f} ms)",
        latencies,
        "ms",
        scale=1000,
    )


def per_second(times: Sequence[float]) -> list[float]:
    seconds = int(FLOOD_SECONDS)
    buckets = [0.0] * seconds
    for moment in times:
        index = int(moment)
        if 0 <= index < seconds:
            buckets[index] += 1

    return buckets


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")

    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000


# Putting it together


async def measure(daemon: Daemon, sandbox: Sandbox, names: list[str]) -> list[Figure]:
    memory = [Figure("5. resident memory idle", [daemon.rss_mib()], "MiB")]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    credentials = Credentials(daemon.data_dir)
    async with (
        Docker(sandbox.docker_host, credentials=credentials) as docker,
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
    ):
        figures = await measure_overhead(daemon, docker, session, names[0])
        figures += await measure_burst(daemon, docker, session, names[1:])
        memory.append(Figure("5. resident memory after (3)", [daemon.rss_mib()], "MiB"))
        probe = [daemon.mint(name, action=Action.RESTART) for name in names[1:]]
        revoked = daemon.mint(names[0])
        daemon.tokens.revoke(revoked)
        await asyncio.sleep(1.5)
        figures.append(await measure_quiet(daemon, probe))
        figures += await measure_flood(
            daemon, "malformed token", "v4.public.x", probe, subnet=1
        )
        figures += await measure_flood(
            daemon, "revoked token", revoked, probe, subnet=2
        )
        memory.append(Figure("5. resident memory after (4)", [daemon.rss_mib()], "MiB"))

    return figures + memory


def print_table(figures: Sequence[Figure]) -> None:
    head = ["figure", "median", "min", "max", "target"]
    rows = [head, ["---"] * len(head), *(figure.cells() for figure in figures)]
    for row in rows:
        print("| " + " | ".join(row) + " |")


def prepare(
    sandbox: Sandbox, images: ImageFactory, made: ContainerFactory
) -> list[str]:
    """Return 1 + BURST_CONTAINERS container names, each on an image of its own."""
    return [made(images()).name for _ in range(1 + BURST_CONTAINERS)]


def main() -> int:
    began = time.monotonic()
    logs.configure("warning", "console", stream=sys.stderr)
    sandbox = start(die_with_parent=True)
    images = ImageFactory(sandbox)
    containers = ContainerFactory(sandbox)
    try:
        with tempfile.TemporaryDirectory(prefix="deployd-bench-") as work:
            names = prepare(sandbox, images, containers)
            daemon = start_daemon(sandbox, Path(work))
            try:
                figures = asyncio.run(measure(daemon, sandbox, names))
            finally:
                stop_daemon(daemon)
    finally:
        containers.cleanup()
        images.cleanup()
        stop(sandbox.dir)
    print_table(figures)
    print(f"\n{os.cpu_count()} CPUs; bench took {time.monotonic() - began:.0f} s")

    return 0


if __name__ == "__main__":
    sys.exit(main())
