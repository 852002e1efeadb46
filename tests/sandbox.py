"""Start and stop the real-engine test sandbox.

The sandbox is a private dockerd (its own socket, data root and containerd),
an open registry and an htpasswd registry on free 127.0.0.1 ports, and a
busybox base image pushed to both. Tests reach it through the fixtures in
conftest.py; engineers and CI drive it from the shell:

    python3 -m tests.sandbox start DIR    # writes DIR/env, leaves it running
    python3 -m tests.sandbox stop DIR     # stops everything, removes DIR
    python3 -m tests.sandbox ping SOCKET  # exit 0 when an engine answers there

Only the standard library is used, so any python3 >= 3.11 can run it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_FILE = "env"
TEST_LABEL = "deployd.test=1"
AUTH_USER = "deployd"
BASE_REPOSITORY = "deployd-base"
ENGINE_START_TIMEOUT = 60.0
REGISTRY_START_TIMEOUT = 20.0
STOP_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0
FOREIGN_DOCKER_ENV = ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
STARTED = ("dockerd", "registry-open", "registry-auth")

# The engine must never reach the internet: pulls from 127.0.0.1 bypass this
# dead proxy through NO_PROXY, anything else fails at once.
ENGINE_PROXY_ENV = {
    "HTTPS_PROXY": "http://127.0.0.1:1",
    "HTTP_PROXY": "http://127.0.0.1:1",
    "NO_PROXY": "127.0.0.1,localhost",
}

BASE_FILES = {
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    ),
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "version": "base\n",
}


# Daemons this process spawned, kept so stop() can reap them: a Popen dropped
# while its process runs raises a ResourceWarning, which tests treat as an error.
_children: dict[int, subprocess.Popen[bytes]] = {}


class SandboxError(RuntimeError):
    """The sandbox could not be started, found or stopped."""


class CommandFailed(subprocess.CalledProcessError):
    """A sandbox command exited non-zero; its stderr is part of the message."""

    def __str__(self) -> str:
        stderr = self.stderr
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")

        return f"{super().__str__()}\n{(stderr or '').strip()}"


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox, as described by the env file in its directory.

    The registry and image fields are empty strings for an engine-only sandbox.
    """

    dir: Path
    runtime: Path
    docker_host: str
    registry: str
    auth_registry: str
    auth_user: str
    auth_password: str
    base_image: str

    @property
    def socket_path(self) -> Path:
        """Return the path of the engine's Unix socket."""
        return Path(self.docker_host.removeprefix("unix://"))

    def env(self) -> dict[str, str]:
        """Return the variables the env file exports, unset ones left out."""
        values = {
            "DEPLOYD_SANDBOX": str(self.dir),
            "DEPLOYD_SANDBOX_RUNTIME": str(self.runtime),
            "DOCKER_HOST": self.docker_host,
            "DEPLOYD_TEST_REGISTRY": self.registry,
            "DEPLOYD_TEST_AUTH_REGISTRY": self.auth_registry,
            "DEPLOYD_TEST_AUTH_USER": self.auth_user,
            "DEPLOYD_TEST_AUTH_PASSWORD": self.auth_password,
            "DEPLOYD_TEST_BASE_IMAGE": self.base_image,
        }

        return {key: value for key, value in values.items() if value}

    def cli(
        self,
        *args: str,
        login: bool = False,
        check: bool = True,
        timeout: float = CLI_TIMEOUT,
        input: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against the sandbox engine and return its result.

        ``login=True`` uses a CLI config logged in to the auth registry; the
        default config holds no credentials, so pulls from there are anonymous.
        Raises CommandFailed (a CalledProcessError) when ``check`` and it fails.
        """
        return _run(
            [docker_cli(), *args],
            env=self._cli_env(login),
            check=check,
            timeout=timeout,
            input=input,
            cwd=cwd,
        )

    def cli_bytes(
        self, *args: str, input: bytes, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the docker CLI with binary stdin (``docker import -``)."""
        return _run_bytes(
            [docker_cli(), *args],
            env=self._cli_env(False),
            input=input,
            timeout=timeout,
        )

    def _cli_env(self, login: bool) -> dict[str, str]:
        config = self.runtime / ("cli-auth" if login else "cli-anon")
        config.mkdir(exist_ok=True)

        # A context or TLS setting from the caller's shell would aim elsewhere.
        inherited = {k: v for k, v in os.environ.items() if k not in FOREIGN_DOCKER_ENV}

        return {
            **inherited,
            "DOCKER_HOST": self.docker_host,
            "DOCKER_CONFIG": str(config),
            "DOCKER_BUILDKIT": "0",
            "DOCKER_CLI_HINTS": "false",
        }


def docker_cli() -> str:
    """Return the docker CLI to use: Debian's, which matches the 20.10 engine."""
    if Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    found = shutil.which("docker")
    if found is None:
        raise SandboxError("docker CLI not found: install the docker.io package")

    return found


def start(
    directory: Path | None = None,
    *,
    registries: bool = True,
    die_with_parent: bool = False,
) -> Sandbox:
    """Start a sandbox and return it; ``directory`` None means a fresh temp dir.

    Writes ``directory/env``. Without ``registries`` only the engine starts
    (enough to run the daemon by hand). With ``die_with_parent`` the daemons
    get SIGTERM when this process dies, even by SIGKILL, so a killed test
    session leaves no engine running (its files stay until ``stop``).

    Raises SandboxError when not root, when a tool is missing, when the
    directory is already in use or when something does not come up in time;
    whatever did start is stopped again before raising.
    """
    _check_prerequisites(registries)
    runtime = Path(tempfile.mkdtemp(prefix="dd-", dir="/tmp"))
    directory = runtime if directory is None else directory.resolve()
    if (directory / ENV_FILE).exists():
        shutil.rmtree(runtime)
        raise SandboxError(
            f"sandbox {directory} is already started: stop it first "
            f"(python3 -m tests.sandbox stop {directory})"
        )
    directory.mkdir(parents=True, exist_ok=True)
    _write_env_line(directory, "DEPLOYD_SANDBOX_RUNTIME", str(runtime))
    try:
        launcher = (
            ["setpriv", "--pdeathsig", "SIGTERM", "--"] if die_with_parent else []
        )
        sandbox = _start_parts(directory, runtime, registries, launcher)
    except BaseException:
        stop(directory)
        raise
    _write_env(sandbox)

    return sandbox


def load(directory: Path) -> Sandbox:
    """Return the sandbox started in ``directory``, checking that its engine answers.

    Raises SandboxError when there is no env file or the engine is gone.
    """
    env = read_env(directory)
    if "DOCKER_HOST" not in env:
        raise SandboxError(
            f"no started sandbox in {directory}: run python3 -m tests.sandbox start"
        )
    sandbox = Sandbox(
        dir=directory.resolve(),
        runtime=Path(env["DEPLOYD_SANDBOX_RUNTIME"]),
        docker_host=env["DOCKER_HOST"],
        registry=env.get("DEPLOYD_TEST_REGISTRY", ""),
        auth_registry=env.get("DEPLOYD_TEST_AUTH_REGISTRY", ""),
        auth_user=env.get("DEPLOYD_TEST_AUTH_USER", ""),
        auth_password=env.get("DEPLOYD_TEST_AUTH_PASSWORD", ""),
        base_image=env.get("DEPLOYD_TEST_BASE_IMAGE", ""),
    )
    if not ping(sandbox.socket_path):
        raise SandboxError(
            f"the sandbox engine in {directory} does not answer: stop and start it"
        )

    return sandbox


def stop(directory: Path) -> None:
    """Stop every process of the sandbox in ``directory`` and remove its files.

    Safe to call on a half-started or already stopped sandbox. Raises
    SandboxError when the directory holds no env file, when a process survives
    SIGKILL or a mount stays busy.
    """
    if not directory.exists():
        return
    env = read_env(directory)
    if "DEPLOYD_SANDBOX_RUNTIME" not in env:
        # Refuse to delete a directory that start() did not make.
        raise SandboxError(f"{directory} is not a sandbox (no env file); left alone")
    runtime = Path(env["DEPLOYD_SANDBOX_RUNTIME"])
    if runtime.exists():
        _remove_containers(env, runtime)
        _stop_processes(runtime)
        _unmount_under(runtime)
        _remove_tree(runtime)
    _remove_tree(directory)


def ping(socket_path: Path, timeout: float = 2.0) -> bool:
    """Return True when a Docker engine answers ``GET /_ping`` on the socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(socket_path))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False

    return reply.startswith(b"HTTP/1.") and reply.split(b" ", 2)[1] == b"200"


def read_env(directory: Path) -> dict[str, str]:
    """Return the variables of ``directory/env`` (empty when there is none)."""
    path = directory / ENV_FILE
    if not path.exists():
        return {}
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        if key:
            env[key] = shlex.split(value)[0] if value else ""

    return env


# Starting


def _check_prerequisites(registries: bool) -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "the test sandbox runs its own dockerd and must run as root: "
            "use sudo or a root CI job"
        )
    tools = ["dockerd", "containerd", "runc", "docker-init", "setpriv"]
    if registries:
        tools += ["docker-registry", "htpasswd", "busybox"]
    missing = [tool for tool in tools if _which(tool) is None]
    if missing:
        raise SandboxError(
            f"sandbox tools missing: {', '.join(missing)}; install docker.io "
            "docker-registry busybox-static apache2-utils (or run .ci/run)"
        )


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=_tool_path())


def _tool_path() -> str:
    path = os.environ.get("PATH", "")
    extra = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    return ":".join([path, *extra])


def _start_parts(
    directory: Path, runtime: Path, registries: bool, launcher: list[str]
) -> Sandbox:
    docker_host = _start_engine(runtime, launcher)
    sandbox = Sandbox(directory, runtime, docker_host, *([""] * 5))
    if not registries:
        return sandbox
    registry = _start_registry(runtime, "open", None, launcher)
    password = secrets.token_urlsafe(18)
    auth_registry = _start_registry(runtime, "auth", (AUTH_USER, password), launcher)
    sandbox = Sandbox(
        directory,
        runtime,
        docker_host,
        registry,
        auth_registry,
        AUTH_USER,
        password,
        f"{registry}/{BASE_REPOSITORY}:latest",
    )
    _login(sandbox)
    _push_base_image(sandbox)

    return sandbox


def _start_engine(runtime: Path, launcher: list[str]) -> str:
    socket_path = runtime / "docker.sock"
    namespace = _namespace(runtime)
    args = [
        *launcher,
        "dockerd",
        f"--host=unix://{socket_path}",
        f"--data-root={runtime / 'root'}",
        f"--exec-root={runtime / 'exec'}",
        f"--pidfile={runtime / 'dockerd.pid'}",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--shutdown-timeout=5",
        # Keep containers apart from any other engine sharing a system containerd.
        f"--containerd-namespace={namespace}",
        f"--containerd-plugins-namespace={namespace}-plugins",
    ]
    process = _spawn(runtime, "dockerd", args, ENGINE_PROXY_ENV)
    _wait_for_engine(process, socket_path)

    return f"unix://{socket_path}"


def _start_registry(
    runtime: Path, name: str, auth: tuple[str, str] | None, launcher: list[str]
) -> str:
    auth_config = ""
    if auth is not None:
        htpasswd = runtime / f"registry-{name}.htpasswd"
        htpasswd.write_text(_htpasswd_line(*auth))
        auth_config = (
            f"auth:\n  htpasswd:\n    realm: deployd-test\n    path: {htpasswd}\n"
        )
    for _attempt in range(3):
        port = _free_port()
        config = runtime / f"registry-{name}.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {runtime / f'registry-{name}'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n" + auth_config
        )
        process = _spawn(
            runtime,
            f"registry-{name}",
            [*launcher, "docker-registry", "serve", str(config)],
        )
        if _registry_answers(process, port):
            return f"127.0.0.1:{port}"
        # Another process took the port between probing and binding: retry.
        _signal(process.pid, signal.SIGKILL)
        _children.pop(process.pid).wait(timeout=10)
    raise SandboxError(
        f"registry {name} did not start; see {runtime / f'registry-{name}.log'}"
    )


def _registry_answers(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + REGISTRY_START_TIMEOUT
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline and process.poll() is None:
        try:
            opener.open(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            return True
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except OSError:
            time.sleep(0.1)

    return False


def _htpasswd_line(user: str, password: str) -> str:
    # -i reads the password from stdin, so it never shows in a process list.
    result = _run(["htpasswd", "-niB", user], input=password, timeout=30)

    return result.stdout.strip() + "\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]

    return port


def _login(sandbox: Sandbox) -> None:
    assert sandbox.auth_registry and sandbox.auth_user and sandbox.auth_password
    sandbox.cli(
        "login",
        "--username",
        sandbox.auth_user,
        "--password-stdin",
        sandbox.auth_registry,
        login=True,
        input=sandbox.auth_password,
    )


def _push_base_image(sandbox: Sandbox) -> None:
    assert sandbox.base_image and sandbox.auth_registry
    sandbox.cli_bytes(
        "import",
        "--change",
        'CMD ["sleep", "infinity"]',
        "--change",
        f"LABEL {TEST_LABEL}",
        "-",
        sandbox.base_image,
        input=base_rootfs(),
    )
    auth_base = f"{sandbox.auth_registry}/{BASE_REPOSITORY}:latest"
    sandbox.cli("tag", sandbox.base_image, auth_base)
    sandbox.cli("push", sandbox.base_image)
    sandbox.cli("push", auth_base, login=True)


def base_rootfs() -> bytes:
    """Return a tar of a root filesystem holding busybox and its applet links."""
    busybox = Path(_which("busybox") or "/bin/busybox")
    applets = _run([str(busybox), "--list"], timeout=10).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ["bin", "etc", "root", "tmp"]:
            _add_dir(tar, name, 0o1777 if name == "tmp" else 0o755)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                _add_symlink(tar, f"bin/{applet}", "busybox")
        for name, text in BASE_FILES.items():
            _add_file(tar, name, text.encode())

    return buffer.getvalue()


def _add_dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _write_env(sandbox: Sandbox) -> None:
    path = sandbox.dir / ENV_FILE
    lines = [f"export {key}={shlex.quote(val)}" for key, val in sandbox.env().items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _write_env_line(directory: Path, key: str, value: str) -> None:
    # Written before anything starts, so stop() finds the runtime dir even when
    # start() is interrupted half way.
    path = directory / ENV_FILE
    path.write_text(f"export {key}={shlex.quote(value)}\n")
    path.chmod(0o600)


# Processes


def _spawn(
    runtime: Path,
    name: str,
    args: list[str],
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PATH": _tool_path(), **(extra_env or {})}
    with (runtime / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=runtime,
            start_new_session=True,
        )
    (runtime / f"{name}.spawned").write_text(f"{process.pid}\n")
    _children[process.pid] = process

    return process


def _namespace(runtime: Path) -> str:
    # containerd namespaces allow [A-Za-z0-9] and inner [._-]; mkdtemp names
    # may hold "_" at either end, so derive a safe name from the path.
    return "deployd-" + hashlib.sha256(str(runtime).encode()).hexdigest()[:12]


def _wait_for_engine(process: subprocess.Popen[bytes], socket_path: Path) -> None:
    deadline = time.monotonic() + ENGINE_START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if ping(socket_path):
            return
        time.sleep(0.2)
    log = socket_path.parent / "dockerd.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise SandboxError(
        f"dockerd did not answer on {socket_path} within "
        f"{ENGINE_START_TIMEOUT:.0f}s; the end of {log}:\n{tail}"
    )


def _remove_containers(env: Mapping[str, str], runtime: Path) -> None:
    # Removing containers first lets dockerd shut down without waiting on them.
    socket_path = runtime / "docker.sock"
    if "DOCKER_HOST" not in env or not ping(socket_path):
        return
    cli_env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    listed = _run(
        [docker_cli(), "ps", "-aq"], env=cli_env, check=False, timeout=CLI_TIMEOUT
    )
    ids = listed.stdout.split()
    if ids:
        _run(
            [docker_cli(), "rm", "-f", "-v", *ids],
            env=cli_env,
            check=False,
            timeout=CLI_TIMEOUT,
        )


def _stop_processes(runtime: Path) -> None:
    started = _started_pids(runtime)
    for pid in started:
        _signal(pid, signal.SIGTERM)
    # dockerd stops its containers and containerd; whatever is left after it
    # exits (shims orphaned by a crashed dockerd) would wait forever.
    _wait_while(lambda: any(_alive(pid) for pid in started), STOP_TIMEOUT)
    _wait_while(lambda: bool(processes_of(runtime)), 2.0)
    for pid in processes_of(runtime):
        _signal(pid, signal.SIGKILL)
    for pid in started:
        if pid in _children:
            _children.pop(pid).wait(timeout=10)
    survivors = _wait_for_exit(runtime, 10.0)
    if survivors:
        raise SandboxError(f"sandbox processes {survivors} survived SIGKILL")


def _started_pids(runtime: Path) -> list[int]:
    pids = [_read_pid(runtime / f"{name}.spawned") for name in STARTED]

    return [pid for pid in pids if pid is not None and _names(pid, str(runtime))]


def _wait_for_exit(runtime: Path, timeout: float) -> list[int]:
    _wait_while(lambda: bool(processes_of(runtime)), timeout)

    return processes_of(runtime)


def _wait_while(busy: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while busy() and time.monotonic() < deadline:
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def processes_of(runtime: Path) -> list[int]:
    """Return the live processes of this sandbox and all their descendants.

    The roots are the processes start() spawned plus those whose command line
    names this engine's exec root or containerd namespace (containerd and its
    shims); container processes are found as their descendants.
    """
    parents = dict(_process_table())
    markers = (f"{runtime}/exec/", _namespace(runtime))
    found = set(_started_pids(runtime))
    found |= {pid for pid in parents if _names(pid, *markers)}
    while children := {pid for pid, ppid in parents.items() if ppid in found} - found:
        found |= children
    found -= set(_ancestors(parents))

    return sorted(pid for pid in found if not _is_zombie(pid))


def _ancestors(parents: Mapping[int, int]) -> Iterator[int]:
    pid = os.getpid()
    while pid > 0:
        yield pid
        pid = parents.get(pid, 0)


def _process_table() -> Iterator[tuple[int, int]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        yield int(entry.name), int(fields[1])


def _names(pid: int, *markers: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False

    return any(marker in cmdline for marker in markers)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True

    return stat.rsplit(")", 1)[1].split()[0] == "Z"


# Files


def mounts_under(root: Path) -> list[str]:
    """Return the mount points at or below ``root``."""
    prefix = f"{root}/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape_mount(line.split()[4])
        if point.startswith(prefix) or point == str(root):
            points.append(point)

    return points


def _unescape_mount(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return field.encode().decode("unicode_escape")


def _unmount_under(root: Path) -> None:
    for point in sorted(mounts_under(root), key=len, reverse=True):
        _run(["umount", "-l", point], check=False, timeout=30)
    left = mounts_under(root)
    if left:
        raise SandboxError(f"mounts under {root} stay busy: {', '.join(left)}")


def _remove_tree(path: Path) -> None:
    deadline = time.monotonic() + 10
    while path.exists():
        try:
            shutil.rmtree(path)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# Commands


def _run(
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float,
    input: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            args,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(
            f"{shlex.join(args)} did not finish in {timeout:.0f}s"
        ) from exc
    if check and result.returncode != 0:
        raise CommandFailed(result.returncode, args, result.stdout, result.stderr)

    return result


def _run_bytes(
    args: list[str], *, env: Mapping[str, str], input: bytes, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(
            args, env=env, input=input, capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(
            f"{shlex.join(args)} did not finish in {timeout:.0f}s"
        ) from exc
    if result.returncode != 0:
        raise CommandFailed(result.returncode, args, result.stdout, result.stderr)

    return result


# Command line


def main(argv: Iterable[str] | None = None) -> int:
    """Run ``start DIR``, ``stop DIR`` or ``ping SOCKET``; return the exit status."""
    parser = argparse.ArgumentParser(prog="python3 -m tests.sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start a sandbox in DIR")
    start_parser.add_argument("dir", type=Path)
    start_parser.add_argument(
        "--engine-only", action="store_true", help="no registries, no images"
    )
    commands.add_parser("stop", help="stop the sandbox in DIR").add_argument(
        "dir", type=Path
    )
    commands.add_parser("ping", help="does an engine answer?").add_argument(
        "socket", type=Path
    )
    options = parser.parse_args(None if argv is None else list(argv))
    try:
        return _command(options)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1


def _command(options: argparse.Namespace) -> int:
    if options.command == "ping":
        return 0 if ping(options.socket) else 1
    if options.command == "stop":
        stop(options.dir)
        return 0
    sandbox = start(options.dir, registries=not options.engine_only)
    print(
        f"sandbox: started in {sandbox.dir}; engine at {sandbox.docker_host}",
        file=sys.stderr,
    )

    return 0


if __name__ == "__main__":
    sys.exit(main())
