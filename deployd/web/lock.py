"""One daemon per DATA_DIR: an exclusive lock on ``DATA_DIR/deployd.lock``.

A second daemon on the same DATA_DIR would take the first one's swaps in
progress for swaps a crash left half-done, and "repair" them under its feet.
So the daemon holds an ``flock`` on the lock file for as long as it runs.
The kernel drops the lock when the process ends, however it ends, so a
daemon killed with SIGKILL never blocks the next start. The file holds the
holder's pid and host name, for the message the next daemon gives. The CLI
does not take the lock: it only reads token files and replaces them whole.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from ..errors import ConfigError

FILE_NAME = "deployd.lock"


class DataDirLock:
    """The held lock on one DATA_DIR; ``release`` gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, data_dir: Path) -> DataDirLock:
        """Return the lock on ``data_dir``, taken without waiting.

        Raises ConfigError naming DATA_DIR and the holder's pid when another
        process holds it, or naming the file when it cannot be opened.
        """
        path = data_dir / FILE_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"DATA_DIR {data_dir}: cannot open {path} "
                f"({(exc.strerror or str(exc)).lower()}); make DATA_DIR writable "
                f"for uid {os.getuid()}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            raise _held(data_dir, holder, exc) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())

        return cls(path, fd)

    def release(self) -> None:
        """Give the lock up; the file stays, for the next daemon to lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> str:
    try:
        pid, _, host = os.pread(fd, 300, 0).decode(errors="replace").partition(" ")
    except OSError:
        return "pid unknown"
    if not pid.strip().isdigit():
        return "pid unknown"
    host = host.strip()

    return f"pid {pid.strip()}" + (f" on host {host}" if host else "")


def _held(data_dir: Path, holder: str, exc: OSError) -> ConfigError:
    if isinstance(exc, BlockingIOError):
        return ConfigError(
            f"DATA_DIR {data_dir} is in use by another deployd ({holder}); stop "
            "that one first, or give this one a DATA_DIR of its own"
        )

    return ConfigError(
        f"DATA_DIR {data_dir}: cannot lock {data_dir / FILE_NAME} "
        f"({(exc.strerror or str(exc)).lower()}); put DATA_DIR on a file system "
        "that supports flock"
    )
