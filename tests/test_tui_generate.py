"""The deploy token wizard, driven by keys against containers on the sandbox engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from deployd.cli.tui.context import Session
from deployd.cli.tui.screens.generate import (
    ActionScreen,
    CleanupScreen,
    ContainersScreen,
    ExpiryScreen,
    LifetimeScreen,
    SummaryScreen,
    TokenScreen,
)
from deployd.cli.tui.screens.menu import MenuScreen

from deployd.tokens import Action, Tokens
from tests.factories import ContainerFactory, StartedContainer
from tests.sandbox import Sandbox, start, stop
from tests.test_tui_harness import Driver, running


@pytest.fixture
def two_containers(
    sandbox: Sandbox, container_factory: ContainerFactory
) -> list[StartedContainer]:
    """Two running busybox containers with fresh names."""
    command = ["/busybox", "sleep", "600"]
    return [
        container_factory(sandbox.base_image, command=command),
        container_factory(sandbox.base_image, command=command),
    ]


@pytest.fixture(scope="module")
def empty_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A fresh engine of its own, with no containers at all."""
    directory = tmp_path_factory.mktemp("empty-engine")
    engine = start(directory / "sandbox", registries=False)
    try:
        yield engine
    finally:
        stop(engine.dir)


async def open_wizard(driver: Driver) -> ContainersScreen:
    """Choose Generate on the menu and wait for the container list."""
    await driver.until_screen(MenuScreen)
    await driver.press("enter")
    await driver.until_screen(ContainersScreen)
    screen = driver.screen
    assert isinstance(screen, ContainersScreen)
    await driver.until(lambda: not screen.loading, "the container list to load")

    return screen


async def tick(driver: Driver, screen: ContainersScreen, name: str) -> None:
    """Filter the list down to ``name`` and tick it, then clear the filter."""
    await driver.type(name)
    await driver.until(
        lambda: [row.key for row in screen.checklist.visible] == [name],
        f"the filter to leave only {name}",
    )
    await driver.press("space")
    screen.checklist.filter.text = ""


async def test_wizard_mints_a_token_whose_claims_match_the_answers(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    first, second = two_containers
    session = Session(data_dir, sandbox.docker_host)
    async with running(session) as driver:
        screen = await open_wizard(driver)
        await driver.until_text("Connected to Docker socket")
        assert sandbox.docker_host.removeprefix("unix://") in driver.text, (
            "the connected line names the socket path"
        )
        await tick(driver, screen, first.name)
        await tick(driver, screen, second.name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("down", "enter")
        await driver.until_screen(LifetimeScreen)
        await driver.type("24h")
        await driver.press("enter")
        await driver.until_screen(ActionScreen)
        await driver.press("enter")
        await driver.until_screen(CleanupScreen)
        await driver.press("down", "enter")
        await driver.until_screen(SummaryScreen)
        summary = driver.text
        assert first.name in summary and second.name in summary, (
            "the summary names the chosen containers"
        )
        assert "Pull and recreate" in summary, "the summary names the action"
        await driver.press("enter")
        await driver.until_screen(TokenScreen)
        token_screen = driver.screen
        assert isinstance(token_screen, TokenScreen)
        token = token_screen.token
        assert token in driver.text, "the token screen shows the whole token"

    claims = Tokens(data_dir).verify(token)
    assert set(claims.containers) == {first.name, second.name}, "containers claimed"
    assert claims.action is Action.PULL_AND_RECREATE, "action claimed"
    assert claims.cleanup is True, "cleanup claimed"
    assert claims.expires_at is not None, "the token expires"
    lifetime = claims.expires_at - datetime.now(UTC)
    assert timedelta(hours=23) < lifetime <= timedelta(hours=24), "it lives 24h"
    assert token not in "".join(p.read_text() for p in data_dir.iterdir()), (
        "DATA_DIR keeps the record, never the token"
    )
