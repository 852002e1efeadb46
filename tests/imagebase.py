"""The Debian base image that the image test builds deployd's Dockerfile on.

The sandbox engine cannot pull from Docker Hub, so the test builds FROM a
Debian bookworm root filesystem made here with debootstrap: python3, its venv
module and pip, nothing else. The root filesystem is cached as a tarball in
.sandbox/cache (ignored by git), so only the first run on a machine pays for
debootstrap, two to three minutes.

Imported into an engine, the tarball gets one more layer made from this
machine's settings: its CA certificates and the parts of its pip
configuration that reach an index over the network. Package registries may
be reached through a proxy whose CA only this machine's trust store holds, so
with that layer ``pip install`` in a build reaches PyPI as it does here.

    python3 -m tests.imagebase   # make (or reuse) the cached tarball, print its path
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from tests.sandbox import TEST_LABEL, Sandbox, mounts_under

SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
CACHE_DIR = Path(__file__).resolve().parent.parent / ".sandbox" / "cache"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_DIR = Path("/etc/apt")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
DEBOOTSTRAP_TIMEOUT = 900.0
LOCK_TIMEOUT = DEBOOTSTRAP_TIMEOUT + 120.0
IMPORT_TIMEOUT = 300.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Emptied in the root filesystem: apt's downloads and lists, docs, manuals.
PRUNED = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
# pip settings worth copying into the base: where packages come from.
PIP_KEYS = ("index-url", "extra-index-url", "trusted-host")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


class ImageBaseError(RuntimeError):
    """The base root filesystem could not be made or imported."""


def base_image(sandbox: Sandbox, cache_dir: Path = CACHE_DIR) -> str:
    """Return the reference of the Debian base in ``sandbox``'s engine.

    Imports it (and adds this machine's certificates and pip settings) unless
    the engine has it already; makes the cached tarball first if need be.
    Raises ImageBaseError when debootstrap fails, CommandFailed when the
    engine refuses the import or the build.
    """
    ref = f"{sandbox.registry}/deployd-test-debian:{SUITE}"
    if sandbox.cli("image", "inspect", ref, check=False).returncode == 0:
        return ref
    rootfs_ref = f"{ref}-rootfs"
    sandbox.cli(
        "import",
        "--change",
        f"ENV PATH={PATH}",
        "--change",
        f"LABEL {TEST_LABEL}",
        "--change",
        'CMD ["/bin/bash"]',
        str(rootfs_tarball(cache_dir)),
        rootfs_ref,
        timeout=IMPORT_TIMEOUT,
    )
    _add_host_layer(sandbox, rootfs_ref, ref)

    return ref


def build_args(env: Mapping[str, str] = os.environ) -> list[str]:
    """Return ``--build-arg`` options passing this machine's proxy settings on.

    Docker knows the proxy variables as build arguments without an ARG line,
    and keeps them out of the image's history and config.
    """
    args = []
    for name in PROXY_VARIABLES:
        for spelling in (name, name.lower()):
            if env.get(spelling):
                args += ["--build-arg", f"{spelling}={env[spelling]}"]

    return args


def rootfs_tarball(cache_dir: Path = CACHE_DIR) -> Path:
    """Return the cached root filesystem tarball, making it first if missing.

    A lock file lets concurrent test runs on this machine make it once.
    Raises ImageBaseError when debootstrap fails or the lock is not had in time.
    """
    mirror = debian_mirror()
    key = hashlib.sha256(f"{SUITE} {' '.join(PACKAGES)} {mirror}".encode())
    tarball = cache_dir / f"debian-{SUITE}-python-{key.hexdigest()[:12]}.tar"
    if tarball.exists():
        return tarball
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / "debootstrap.lock"):
        if not tarball.exists():
            _make_tarball(mirror, tarball)

    return tarball


def debian_mirror(apt_dir: Path = APT_DIR) -> str:
    """Return the Debian mirror this machine's apt uses, or deb.debian.org's."""
    for uri in _apt_uris(apt_dir):
        base = uri.rstrip("/")
        if base.endswith("/debian") and base.startswith(("http://", "https://")):
            return base

    return DEFAULT_MIRROR


def pip_settings(listed: str) -> dict[str, str]:
    """Return the network index settings among ``pip config list`` output lines.

    Local indexes and wheel folders (file: URLs, paths) are left out: they
    do not exist inside an image.
    """
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        name, _, value = line.partition("=")
        key = name.rpartition(".")[2]
        value = value.strip().strip("'\"")
        if key not in PIP_KEYS:
            continue
        kept = [
            item for item in value.split() if key == "trusted-host" or _is_net(item)
        ]
        if kept:
            settings[key] = " ".join(kept)

    return settings


def _is_net(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _apt_uris(apt_dir: Path) -> Iterator[str]:
    listed = apt_dir / "sources.list.d"
    paths = [apt_dir / "sources.list"]
    if listed.is_dir():
        paths += sorted(listed.glob("*.list")) + sorted(listed.glob("*.sources"))
    for path in paths:
        with contextlib.suppress(OSError):
            text = path.read_text()
            yield from (_deb822_uris if path.suffix == ".sources" else _line_uris)(text)


def _line_uris(text: str) -> Iterator[str]:
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 2 and words[0] == "deb":
            yield words[1]


def _deb822_uris(text: str) -> Iterator[str]:
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (
                line.partition(":")
                for line in stanza.splitlines()
                if not line.startswith("#")
            )
        )
        if "deb" in fields.get("types", "").split():
            yield from fields.get("uris", "").split()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ImageBaseError(
                        f"{path} stayed locked for {LOCK_TIMEOUT:.0f}s; another "
                        "run is stuck making the base image: end it and retry"
                    ) from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_tarball(mirror: str, tarball: Path) -> None:
    # /tmp rather than the cache: debootstrap needs a file system that allows
    # device nodes, which the work tree's may not.
    root = Path(tempfile.mkdtemp(prefix="dd-rootfs-", dir="/tmp"))
    partial = tarball.with_suffix(".partial")
    try:
        _debootstrap(mirror, root)
        _prune(root)
        _run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
            timeout=IMPORT_TIMEOUT,
        )
        partial.replace(tarball)
    finally:
        for point in sorted(mounts_under(root), key=len, reverse=True):
            _run(["umount", "-l", point], timeout=30, check=False)
        shutil.rmtree(root, ignore_errors=True)
        partial.unlink(missing_ok=True)


def _debootstrap(mirror: str, root: Path) -> None:
    debootstrap = shutil.which("debootstrap", path=f"{os.environ.get('PATH')}:{PATH}")
    if debootstrap is None:
        raise ImageBaseError(
            "debootstrap not found: install the debootstrap package (or run .ci/run)"
        )
    _run(
        [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(root),
            mirror,
        ],
        timeout=DEBOOTSTRAP_TIMEOUT,
    )


def _prune(root: Path) -> None:
    for name in PRUNED:
        folder = root / name
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)


def _add_host_layer(sandbox: Sandbox, rootfs_ref: str, ref: str) -> None:
    with tempfile.TemporaryDirectory(prefix="deployd-test-base-") as context:
        folder = Path(context)
        (folder / "cas").mkdir()
        for cert in _local_cas():
            shutil.copy(cert, folder / "cas" / cert.name)
        shutil.copy(CA_BUNDLE, folder / "ca-certificates.crt")
        (folder / "pip.conf").write_text(_pip_conf())
        (folder / "Dockerfile").write_text(
            f"FROM {rootfs_ref}\n"
            f"COPY cas/ {LOCAL_CAS}/\n"
            f"COPY ca-certificates.crt {CA_BUNDLE}\n"
            "COPY pip.conf /etc/pip.conf\n"
            f"ENV PIP_CERT={CA_BUNDLE} REQUESTS_CA_BUNDLE={CA_BUNDLE} "
            f"SSL_CERT_FILE={CA_BUNDLE}\n"
        )
        sandbox.cli("build", "--network", "none", "-q", "-t", ref, context)
    sandbox.cli("rmi", rootfs_ref)


def _local_cas() -> Iterable[Path]:
    if not LOCAL_CAS.is_dir():
        return []

    return sorted(path for path in LOCAL_CAS.glob("*.crt") if path.is_file())


def _pip_conf() -> str:
    listed = _run(
        [sys.executable, "-m", "pip", "config", "list"], timeout=60, check=False
    )
    # The listing covers pip's files and its PIP_* variables alike.
    settings = pip_settings(listed.stdout if listed.returncode == 0 else "")
    lines = ["[global]", f"cert = {CA_BUNDLE}"]
    lines += [f"{key} = {value}" for key, value in sorted(settings.items())]

    return "\n".join(lines) + "\n"


def _run(
    args: list[str], *, timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageBaseError(f"{args[0]} did not finish in {timeout:.0f}s") from exc
    if check and result.returncode != 0:
        tail = "\n".join(
            result.stderr.splitlines()[-15:] or result.stdout.splitlines()[-15:]
        )
        raise ImageBaseError(
            f"{' '.join(args[:2])} failed ({result.returncode}):\n{tail}"
        )

    return result


if __name__ == "__main__":
    print(rootfs_tarball())
