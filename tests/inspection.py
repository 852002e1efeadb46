"""Reading the sandbox engine's state in tests, through the docker CLI."""

from __future__ import annotations

import json
from typing import Any

from tests.sandbox import Sandbox


def inspect(sandbox: Sandbox, name: str) -> dict[str, Any]:
    """Return ``docker inspect`` of one container or image."""
    found: list[dict[str, Any]] = json.loads(sandbox.cli("inspect", name).stdout)
    return found[0]


def names_like(sandbox: Sandbox, prefix: str) -> list[str]:
    """Return the sorted names of every container whose name starts with ``prefix``."""
    listed = sandbox.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return sorted(name for name in listed if name.startswith(prefix))
