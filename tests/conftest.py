"""Fixtures for every test: the sandbox engine and factories that clean up.

The session's sandbox is the one DEPLOYD_SANDBOX points to (``make test`` and
``make sandbox-start`` start one), or a private one started for this session
and stopped at its end, so concurrent test runs never share an engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import daemon as daemons
from tests.factories import ContainerFactory, ImageFactory, NetworkFactory
from tests.sandbox import Sandbox, load, start, stop


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The sandbox engine and registries shared by the whole session."""
    started_dir = os.environ.get("DEPLOYD_SANDBOX")
    if started_dir:
        yield load(Path(started_dir))
        return
    private = start(die_with_parent=True)
    try:
        yield private
    finally:
        stop(private.dir)


@pytest.fixture
def image_factory(sandbox: Sandbox) -> Iterator[ImageFactory]:
    """Build and push ``REGISTRY/deployd-test-<hex>:TAG`` images; remove them after."""
    factory = ImageFactory(sandbox)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def network_factory(sandbox: Sandbox) -> Iterator[NetworkFactory]:
    """Create ``--internal`` test networks; remove them after."""
    factory = NetworkFactory(sandbox)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def container_factory(
    sandbox: Sandbox, image_factory: ImageFactory, network_factory: NetworkFactory
) -> Iterator[ContainerFactory]:
    """Create and start test containers; remove them (and renamed copies) after.

    It depends on the image and network factories so that its containers are
    removed before their images and networks are.
    """
    factory = ContainerFactory(sandbox)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, empty DATA_DIR."""
    path = tmp_path / "data"
    path.mkdir()

    return path


@pytest.fixture
def daemon(
    sandbox: Sandbox, data_dir: Path, tmp_path: Path
) -> Iterator[daemons.Daemon]:
    """A running ``deployd`` on a free port, on the sandbox engine and ``data_dir``."""
    running = daemons.start_daemon(tmp_path, data_dir, sandbox.docker_host)
    try:
        assert daemons.wait_for_health(running) == 200, "deployd is healthy"
        yield running
    finally:
        daemons.stop(running)
