"""The small JSON files in DATA_DIR: read whole, written atomically, owner-only.

This module is the one boundary where OSError and JSON errors on those files
become ConfigError.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from deployd.errors import ConfigError

PRIVATE = 0o600


def read_json(path: Path) -> Any:
    """Return the JSON value stored at ``path``, or None when there is no such file.

    Raises ConfigError naming the file when it cannot be read or is not JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {_reason(exc)}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}); "
            "fix or remove it, then try again"
        ) from exc


def write_json(path: Path, value: Any) -> None:
    """Replace the file at ``path`` with ``value`` as JSON, readable by the owner only.

    Readers see the old file or the new one, never a half-written one. Raises
    ConfigError naming the file and the user when it cannot be written.
    """
    write_private(path, json.dumps(value, indent=2).encode("utf-8") + b"\n")


def write_private(path: Path, content: bytes, *, replace: bool = True) -> bool:
    """Write ``content`` to ``path`` atomically with mode 0600; return whether it did.

    With ``replace=False`` an existing file is left alone and False is returned,
    so that two processes creating the same file agree on one. Raises
    ConfigError naming the file and the user when it cannot be written.
    """
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ConfigError(_unwritable(path, exc)) from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), PRIVATE)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        if not replace:
            return _link_if_absent(temp, path)
        os.replace(temp, path)
        return True
    except OSError as exc:
        raise ConfigError(_unwritable(path, exc)) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _link_if_absent(temp: Path, path: Path) -> bool:
    try:
        os.link(temp, path)
    except FileExistsError:
        return False

    return True


def _unwritable(path: Path, exc: OSError) -> str:
    return (
        f"cannot write {path}: {_reason(exc)}; make {path.parent} writable "
        f"for uid {os.getuid()}"
    )


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()

    return str(exc)
