"""Finding the container deployd itself runs in, so it never replaces itself."""

from __future__ import annotations

import re
from pathlib import Path

_CONTAINER_PATH = re.compile(r"/containers/([0-9a-f]{64})/")
_CGROUP_ID = re.compile(r"(?:docker[-/]|/)([0-9a-f]{64})(?:\.scope)?$")


def own_container_id(proc: Path = Path("/proc/self")) -> str | None:
    """Return the full id of the container this process runs in, or None.

    Reads the engine's per-container mounts (resolv.conf, hostname) from
    mountinfo, then the cgroup path, which covers cgroup v1 and v2 engines.
    """
    try:
        mountinfo = (proc / "mountinfo").read_text()
    except OSError:
        mountinfo = ""
    for line in mountinfo.splitlines():
        if "/etc/hostname" in line or "/etc/resolv.conf" in line:
            match = _CONTAINER_PATH.search(line)
            if match:
                return match.group(1)
    try:
        cgroups = (proc / "cgroup").read_text()
    except OSError:
        return None
    for line in cgroups.splitlines():
        match = _CGROUP_ID.search(line)
        if match:
            return match.group(1)

    return None
