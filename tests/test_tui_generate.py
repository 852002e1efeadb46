"""The deploy token wizard, driven by keys against containers on the sandbox engine."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deployd.cli.tui import diagnosis
from deployd.cli.tui.context import Session
from deployd.cli.tui.diagnosis import socket_advice
from deployd.cli.tui.screens import generate
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
from tests.factories import ContainerFactory, ImageFactory, StartedContainer
from tests.sandbox import Sandbox, start, stop
from tests.test_tui_harness import Driver, running


@pytest.fixture
def two_containers(
    sandbox: Sandbox, container_factory: ContainerFactory
) -> list[StartedContainer]:
    """Two running busybox containers with fresh names."""
    return [
        container_factory(sandbox.base_image),
        container_factory(sandbox.base_image),
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
    await driver.write(name)
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
        assert driver.shows(sandbox.docker_host.removeprefix("unix://")), (
            "the connected line names the socket path"
        )
        await tick(driver, screen, first.name)
        await tick(driver, screen, second.name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("down", "enter")
        await driver.until_screen(LifetimeScreen)
        await driver.write("24h")
        await driver.press("enter")
        await driver.until_screen(ActionScreen)
        await driver.press("enter")
        await driver.until_screen(CleanupScreen)
        assert driver.shows("The default is yes"), "the question says the default"
        await driver.press("enter")
        await driver.until_screen(SummaryScreen)
        assert driver.shows("Remove old image:  yes"), "enter keeps the default"
        assert driver.shows(first.name) and driver.shows(second.name), (
            "the summary names the chosen containers"
        )
        assert driver.shows("Pull and recreate"), "the summary names the action"
        await driver.press("enter")
        await driver.until_screen(TokenScreen)
        token_screen = driver.screen
        assert isinstance(token_screen, TokenScreen)
        token = token_screen.token
        assert driver.shows(token), "the token screen shows the whole token"

    claims = Tokens(data_dir).verify(token)
    assert set(claims.containers) == {first.name, second.name}, "containers claimed"
    assert claims.action is Action.PULL_AND_RECREATE, "action claimed"
    assert claims.cleanup is True, "cleanup is on by default, as in the CLI"
    assert claims.expires_at is not None, "the token expires"
    lifetime = claims.expires_at - datetime.now(UTC)
    assert timedelta(hours=23) < lifetime <= timedelta(hours=24), "it lives 24h"
    assert token not in "".join(p.read_text() for p in data_dir.iterdir()), (
        "DATA_DIR keeps the record, never the token"
    )


async def test_a_container_whose_tag_moved_on_shows_the_image_it_was_made_from(
    sandbox: Sandbox,
    data_dir: Path,
    image_factory: ImageFactory,
    container_factory: ContainerFactory,
) -> None:
    first = image_factory(version="v1")
    container = container_factory(first)
    image_factory(repository=first.repository, version="v2", push=False)
    listed = sandbox.cli("ps", "-a", "--filter", f"name={container.name}")
    assert first.id.removeprefix("sha256:")[:12] in listed.stdout, (
        "the engine lists the moved container by image id (the case under test)"
    )
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        images = {row.key: row.columns[1] for row in screen.checklist.rows}
    assert images[container.name] == first.ref, (
        "the image column names the image the container was created with"
    )


async def test_enter_without_a_ticked_container_says_to_select_one(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await driver.press("enter")
        await driver.until_text("Select at least one container")
        assert driver.screen is screen, "the wizard stays on the container list"


async def test_filter_narrows_the_list_and_says_when_nothing_matches(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    first, second = two_containers
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await driver.write(first.name)
        await driver.until(
            lambda: [row.key for row in screen.checklist.visible] == [first.name],
            "the filter to leave only the first container",
        )
        assert second.name not in driver.text, "the filtered-out container is hidden"
        await driver.write("-no-such-container")
        await driver.until_text("no container matches the filter")
        await driver.press("space", "enter")
        await driver.until_text("Select at least one container")
        assert screen.checklist.ticked == [], "space on an empty list ticks nothing"


async def test_bad_lifetime_is_refused_inline_with_the_reason(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await tick(driver, screen, two_containers[0].name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("down", "enter")
        await driver.until_screen(LifetimeScreen)
        await driver.write("1x")
        await driver.until_text("'1x' is not a duration")
        await driver.press("enter")
        assert isinstance(driver.screen, LifetimeScreen), "a bad lifetime stops here"
        await driver.press("c-u")
        await driver.write("0m")
        await driver.until_text("is zero")
        await driver.press("c-u")
        await driver.press("enter")
        await driver.until_text("Type a lifetime")
        await driver.write("30m")
        await driver.until_text("Expires after 30m")
        await driver.press("enter")
        await driver.until_screen(ActionScreen)


async def test_esc_steps_back_with_the_answers_kept(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    name = two_containers[0].name
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await tick(driver, screen, name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("enter")
        await driver.until_screen(ActionScreen)
        await driver.press("esc")
        await driver.until_screen(ExpiryScreen)
        await driver.press("esc")
        await driver.until_screen(ContainersScreen)
        assert driver.screen is screen, "esc returns to the same container list"
        assert screen.checklist.ticked == [name], "the ticks survive going back"
        await driver.press("esc")
        await driver.until_screen(MenuScreen)
    assert not (data_dir / "issued-tokens.json").exists(), "cancelling mints nothing"


async def test_restart_skips_the_cleanup_question_and_never_expires_when_told(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    name = two_containers[0].name
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await tick(driver, screen, name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("enter")
        await driver.until_screen(ActionScreen)
        await driver.press("down", "down", "enter")
        await driver.until_screen(SummaryScreen)
        assert driver.shows("Restart"), "the summary names the action"
        assert driver.shows("never"), "the summary says the token never expires"
        await driver.press("enter")
        await driver.until_screen(TokenScreen)
        token_screen = driver.screen
        assert isinstance(token_screen, TokenScreen)
        await driver.press("esc")
        await driver.until_screen(MenuScreen)

    claims = Tokens(data_dir).verify(token_screen.token)
    assert claims.containers == (name,), "containers claimed"
    assert claims.action is Action.RESTART, "action claimed"
    assert claims.cleanup is False, "restart never cleans up"
    assert claims.expires_at is None, "the token never expires"


async def test_cleanup_stays_on_after_trying_another_action_and_coming_back(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await tick(driver, screen, two_containers[0].name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("enter")
        await driver.until_screen(ActionScreen)
        await driver.press("down", "down", "enter")
        await driver.until_screen(SummaryScreen)
        await driver.press("esc")
        await driver.until_screen(ActionScreen)
        await driver.press("up", "up", "enter")
        await driver.until_screen(CleanupScreen)
        cleanup = driver.screen
        assert isinstance(cleanup, CleanupScreen)
        assert cleanup.choices.value is True, "the cursor starts on yes, the default"


async def test_copy_key_sends_the_token_to_the_terminal_as_osc52(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await tick(driver, screen, two_containers[0].name)
        await driver.press("enter")
        await driver.until_screen(ExpiryScreen)
        await driver.press("enter")
        await driver.until_screen(ActionScreen)
        await driver.press("down", "enter")
        await driver.until_screen(SummaryScreen)
        await driver.press("enter")
        await driver.until_screen(TokenScreen)
        token_screen = driver.screen
        assert isinstance(token_screen, TokenScreen)
        await driver.press("c")
        await driver.until_text("Copied to the clipboard")

    encoded = base64.b64encode(token_screen.token.encode()).decode()
    assert f"\x1b]52;c;{encoded}\x07" in driver.output.raw, (
        "c writes the OSC 52 sequence carrying the token"
    )


async def test_the_container_deployd_runs_in_is_not_offered(
    sandbox: Sandbox,
    data_dir: Path,
    two_containers: list[StartedContainer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own, other = two_containers
    # As if this process ran inside the first container.
    monkeypatch.setattr(generate, "own_container_id", lambda: own.id)
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        keys = [row.key for row in screen.checklist.rows]
        assert own.name not in keys, "deployd's own container is left out"
        assert other.name in keys, "other containers are offered"
        assert driver.shows("deployd's own container is not offered"), (
            "the screen says why one container is missing"
        )


async def test_engine_down_says_once_what_failed_and_then_what_to_check(
    data_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-engine" / "docker.sock"
    async with running(Session(data_dir, f"unix://{missing}")) as driver:
        screen = await open_wizard(driver)
        await driver.until_text("Could not connect to the Docker engine")
        first, *checks = screen.status
        assert first == (
            f"Could not connect to the Docker engine: there is no socket at {missing}."
        ), "one statement of what failed, naming the socket"
        told = " ".join(checks)
        for check in ("dockerd", "DOCKER_HOST", "mounted"):
            assert told.count(check) == 1, f"{check} is named once, not repeated"
        assert all(
            line[:1] in ("", " ", "-") or line[0].isupper() for line in checks
        ), "every sentence starts with a capital"
        assert driver.shows("(not reachable)"), "the title bar shows the engine is down"
        await driver.press("enter")
        assert isinstance(driver.screen, ContainersScreen), "nothing to continue with"
        await driver.press("esc")
        await driver.until_screen(MenuScreen)


def test_a_socket_nobody_answers_on_is_blamed_on_a_stopped_daemon(
    tmp_path: Path,
) -> None:
    socket_path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(socket_path))
        first, *checks = socket_advice(str(socket_path))
    assert first.endswith(f"nothing answers on the socket {socket_path}."), first
    assert "Docker daemon (dockerd) is running" in " ".join(checks), "the daemon"


def test_a_path_that_is_not_a_socket_is_named(tmp_path: Path) -> None:
    plain = tmp_path / "docker.sock"
    plain.write_text("")
    first, *checks = socket_advice(str(plain))
    assert first.endswith(f"{plain} is not a socket."), "it says the path is no socket"
    assert "DOCKER_HOST" in " ".join(checks), "it says which setting to fix"


def test_a_socket_this_user_may_not_use_names_the_owning_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket_path = tmp_path / "docker.sock"
    # Tests run as root, whom no mode keeps out: pretend to be another user.
    monkeypatch.setattr(diagnosis.os, "access", lambda *_: False)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(socket_path))
        first, *checks = socket_advice(str(socket_path))
    assert first.endswith(f"may not use the socket {socket_path}."), first
    assert "in the group 'root' that owns the socket" in " ".join(checks), (
        "it names the group to join"
    )


async def test_fresh_engine_without_containers_says_there_is_nothing_to_deploy(
    empty_engine: Sandbox, data_dir: Path
) -> None:
    async with running(Session(data_dir, empty_engine.docker_host)) as driver:
        screen = await open_wizard(driver)
        await driver.until_text("Found 0 containers")
        assert driver.shows("There is no container to deploy yet"), (
            "the screen says what to do when the engine has no containers"
        )
        await driver.press("enter")
        assert driver.screen is screen, "enter cannot continue without containers"


async def test_ctrl_a_ticks_every_shown_container_and_then_none(
    sandbox: Sandbox, data_dir: Path, two_containers: list[StartedContainer]
) -> None:
    names = sorted(container.name for container in two_containers)
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_wizard(driver)
        await driver.write("deployd-test-")
        await driver.until(
            lambda: {row.key for row in screen.checklist.visible} >= set(names),
            "the filter to keep both test containers",
        )
        shown = [row.key for row in screen.checklist.visible]
        await driver.press("c-a")
        await driver.until(lambda: screen.checklist.ticked == shown, "all ticked")
        assert driver.shows(f"{len(shown)} selected"), "the tally counts the ticks"
        await driver.press("c-a")
        await driver.until(lambda: screen.checklist.ticked == [], "none ticked")
