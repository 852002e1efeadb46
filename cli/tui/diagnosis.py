"""Turning "cannot reach the engine" into what the operator should check."""

from __future__ import annotations

import grp
import os
import stat

from deployd.errors import EngineError, EngineUnreachable


def engine_failure(
    address: str, socket_path: str | None, exc: EngineError
) -> list[str]:
    """Return lines saying why the engine at ``address`` failed and what to check."""
    if not isinstance(exc, EngineUnreachable):
        return [f"The Docker engine at {address} answered with an error:", exc.message]
    lines = [f"Could not connect to the Docker engine at {address}.", exc.message, ""]
    if socket_path:
        lines += socket_advice(socket_path)
    else:
        lines += [
            "Check that the engine listens on that address and port, or set",
            "DOCKER_HOST to the right one (unix:///var/run/docker.sock by default).",
        ]

    return lines


def socket_advice(path: str) -> list[str]:
    """Return what is wrong with the engine socket at ``path``, as far as we can see."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return [
            f"There is no socket at {path}. Check that Docker is running, that",
            "DOCKER_HOST names the right socket, and, inside a container, that the",
            "socket is mounted (-v /var/run/docker.sock:/var/run/docker.sock).",
        ]
    except OSError as exc:
        return [f"{path} cannot be examined: {exc.strerror}."]
    if not stat.S_ISSOCK(info.st_mode):
        return [f"{path} is not a socket; point DOCKER_HOST at the engine's socket."]
    if not os.access(path, os.R_OK | os.W_OK):
        group = _group_name(info.st_gid)
        return [
            f"This user (uid {os.getuid()}) may not use {path}.",
            f"Run as root, or add the user to the group {group!r} that owns the",
            "socket (then log in again), or run inside the deployd container.",
        ]

    return [
        f"The socket {path} exists and this user may use it, but no engine",
        "answered: check that the Docker daemon is running (systemctl status docker).",
    ]


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
