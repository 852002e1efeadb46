"""What every screen of the TUI shares: where the data lives and which engine to use.

The engine and the DATA_DIR stores are opened when a screen needs them, not
up front, so that the menu comes up even when the engine is down or DATA_DIR
is unreadable; each screen then says what went wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deployd.docker import Docker
from deployd.docker.client import DEFAULT_HOST
from deployd.registries import RegistryLogins
from deployd.tokens import Tokens


@dataclass
class Session:
    """The settings the TUI runs with, and what it last learnt about the engine."""

    data_dir: Path
    docker_host: str | None = None
    engine_state: str = "not contacted yet"

    @property
    def engine_address(self) -> str:
        """Return the engine address: the argument, DOCKER_HOST, or the default."""
        return self.docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST

    def docker(self) -> Docker:
        """Return an engine client (not yet connected) for ``engine_address``."""
        return Docker.from_env(self.engine_address)

    def tokens(self) -> Tokens:
        """Return the token store in DATA_DIR. Raises ConfigError when unusable."""
        return Tokens(self.data_dir)

    def registries(self) -> RegistryLogins:
        """Return the registry logins in DATA_DIR. Raises ConfigError when unusable."""
        return RegistryLogins(self.data_dir)
