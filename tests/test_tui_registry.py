"""Adding a registry login in the TUI, checked against the htpasswd registry."""

from __future__ import annotations

from pathlib import Path

from deployd.cli.tui.context import Session
from deployd.cli.tui.screens.menu import MenuScreen
from deployd.cli.tui.screens.message import ConfirmScreen, MessageScreen
from deployd.cli.tui.screens.registry import RegistryScreen
from deployd.registries import RegistryLogins
from tests.sandbox import Sandbox
from tests.test_tui_harness import Driver, running


async def open_form(driver: Driver) -> RegistryScreen:
    """Choose Add registry login on the menu."""
    await driver.until_screen(MenuScreen)
    await driver.press("2")
    await driver.until_screen(RegistryScreen)
    screen = driver.screen
    assert isinstance(screen, RegistryScreen)

    return screen


async def fill(driver: Driver, host: str, user: str, password: str) -> None:
    """Pick another registry and fill in the three fields, then press enter."""
    await driver.press("down", "enter")
    await driver.write(host)
    await driver.press("tab")
    await driver.write(user)
    await driver.press("tab")
    await driver.write(password)
    await driver.press("enter")


async def test_a_login_the_registry_refuses_is_reported_and_not_saved(
    sandbox: Sandbox, data_dir: Path
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_form(driver)
        await fill(driver, sandbox.auth_registry, sandbox.auth_user, "wrong-password")
        await driver.until_text("The registry refused the login")
        assert driver.shows("Nothing was saved"), "the user is told nothing was saved"
        assert "wrong-password" not in driver.text, "the password is never shown"
        assert driver.screen is screen, "the form stays open to correct the login"
    assert RegistryLogins(data_dir).get(sandbox.auth_registry) is None, (
        "a refused login is not saved"
    )


async def test_a_login_the_registry_accepts_is_saved(
    sandbox: Sandbox, data_dir: Path
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        await open_form(driver)
        host = f"http://{sandbox.auth_registry}/"
        await fill(driver, host, sandbox.auth_user, sandbox.auth_password)
        await driver.until_text("Registry login saved")
        assert driver.shows(f"Saved the login for {sandbox.auth_registry}"), (
            "the saved host is shown normalised"
        )
        await driver.press("enter")
        await driver.until_screen(MenuScreen)
    assert RegistryLogins(data_dir).get(sandbox.auth_registry) == (
        sandbox.auth_user,
        sandbox.auth_password,
    ), "the accepted login is stored under the normalised host"


async def test_an_existing_login_is_replaced_only_after_confirmation(
    sandbox: Sandbox, data_dir: Path
) -> None:
    logins = RegistryLogins(data_dir)
    logins.add(sandbox.auth_registry, "earlier-user", "earlier-password")
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_form(driver)
        await fill(
            driver, sandbox.auth_registry, sandbox.auth_user, sandbox.auth_password
        )
        await driver.until_screen(ConfirmScreen)
        assert driver.shows("as user earlier-user"), "the question names the old user"
        await driver.press("enter")
        await driver.until(lambda: driver.screen is screen, "the form after No")
        assert logins.get(sandbox.auth_registry) == (
            "earlier-user",
            "earlier-password",
        ), "answering No keeps the old login"

        await driver.press("enter")
        await driver.until_screen(ConfirmScreen)
        await driver.press("y")
        await driver.until_text("Replaced the login")
        assert isinstance(driver.screen, MessageScreen)
    assert logins.get(sandbox.auth_registry) == (
        sandbox.auth_user,
        sandbox.auth_password,
    ), "answering yes replaces the login, once the engine accepted it"


async def test_empty_fields_are_named_before_the_engine_is_asked(
    sandbox: Sandbox, data_dir: Path
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        screen = await open_form(driver)
        await driver.press("down", "enter", "tab", "tab", "enter")
        await driver.until_text("Type the registry's host")
        assert driver.shows("Type the user name"), "an empty user name is named"
        assert driver.shows("Type the password"), "an empty password is named"
        assert screen.status == [], "the engine was not asked"
        await driver.press("esc")
        await driver.until_screen(MenuScreen)
    assert not (data_dir / "registry-auth.json").exists(), "nothing was saved"


async def test_registry_check_with_the_engine_down_says_so(
    data_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "docker.sock"
    async with running(Session(data_dir, f"unix://{missing}")) as driver:
        await open_form(driver)
        await fill(driver, "127.0.0.1:5000", "someone", "secret")
        await driver.until_text("Could not connect to the Docker engine")
    assert not (data_dir / "registry-auth.json").exists(), "nothing was saved"
