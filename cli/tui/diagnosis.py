"""Turning "cannot reach the engine" into what failed and what to check.

The first line says what failed, naming the socket or address; the lines after
it are the checks that fit what a look at the socket found, each said once.
"""

from __future__ import annotations

import grp
import os
import stat

from deployd.errors import EngineError, EngineUnreachable

DEFAULT_SOCKET = "/var/run/docker.sock"
FAILED = "Could not connect to the Docker engine"
CHECK_DAEMON = (
    "  - that the Docker daemon (dockerd) is running: systemctl status docker"
)


def _check_host(which: str = "its socket") -> str:
    return f"  - that DOCKER_HOST names {which} (unix://{DEFAULT_SOCKET} by default)"


def engine_failure(
    address: str, socket_path: str | None, exc: EngineError
) -> list[str]:
    """Return lines saying why the engine at ``address`` failed and what to check."""
    if not isinstance(exc, EngineUnreachable):
        return [f"The Docker engine at {address} answered with an error: {exc.message}"]
    if socket_path:
        return socket_advice(socket_path)

    return [
        f"{FAILED}: nothing answered at {address}.",
        "Check:",
        "  - that the engine listens on that address and port",
        _check_host("it"),
    ]


def socket_advice(path: str) -> list[str]:
    """Return what is wrong with the engine socket at ``path``, then what to check."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return [
            f"{FAILED}: there is no socket at {path}.",
            "Check:",
            CHECK_DAEMON,
            _check_host(),
            "  - inside a container, that the socket is mounted "
            f"(-v {DEFAULT_SOCKET}:{DEFAULT_SOCKET})",
        ]
    except OSError as exc:
        return [
            f"{FAILED}: {path} cannot be examined ({exc.strerror}).",
            "Check:",
            "  - that this user may open the directories on the way to it",
            _check_host(),
        ]
    if not stat.S_ISSOCK(info.st_mode):
        return [f"{FAILED}: {path} is not a socket.", "Check:", _check_host()]
    if not os.access(path, os.R_OK | os.W_OK):
        return [
            f"{FAILED}: this user (uid {os.getuid()}) may not use the socket {path}.",
            "Check:",
            f"  - that the user is in the group {_group_name(info.st_gid)!r} that "
            "owns the socket (log in again after adding it), or run as root",
            "  - or run deployd-cli inside the deployd container",
        ]

    return [
        f"{FAILED}: nothing answers on the socket {path}.",
        "Check:",
        CHECK_DAEMON,
        _check_host("the socket of the running daemon"),
    ]


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
