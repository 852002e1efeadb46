"""The TUI's frame: menu, leaving, the title bar and footer, DATA_DIR trouble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from deployd import __version__
from deployd.cli.tui import run_tui
from deployd.cli.tui.app import EXIT_INTERRUPTED, EXIT_OK
from deployd.cli.tui.context import Session
from deployd.cli.tui.run import EXIT_NO_TERMINAL, quiet_logs
from deployd.cli.tui.screens.menu import MenuScreen
from deployd.cli.tui.screens.message import MessageScreen
from deployd.cli.tui.screens.revoke import RevokeScreen
from tests.sandbox import Sandbox
from tests.test_tui_harness import running

NO_ENGINE = "unix:///nonexistent/docker.sock"


async def test_q_on_the_menu_leaves_with_status_0(data_dir: Path) -> None:
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press("q")
        assert await driver.exit_code() == EXIT_OK, "q leaves with 0"


async def test_ctrl_c_leaves_with_status_130_even_in_a_text_field(
    data_dir: Path,
) -> None:
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press("3")
        await driver.until_screen(RevokeScreen)
        await driver.press("q")
        await driver.until_text("Token or id:")
        assert not driver.task.done(), "q in a text field types, it does not quit"
        assert driver.shows("ctrl-c quit"), "the footer says how to quit here"
        await driver.press("c-c")
        assert await driver.exit_code() == EXIT_INTERRUPTED, "ctrl-c leaves with 130"


async def test_exit_on_the_menu_leaves_and_esc_there_stays(data_dir: Path) -> None:
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press("esc")
        assert isinstance(driver.screen, MenuScreen), "esc on the menu goes nowhere"
        await driver.press("up")
        await driver.until(lambda: driver.shows("> 5. Exit"), "the cursor on Exit")
        await driver.press("enter")
        assert await driver.exit_code() == EXIT_OK, "Exit leaves with 0"


async def test_title_bar_names_deployd_its_version_and_the_engine(
    sandbox: Sandbox, data_dir: Path
) -> None:
    async with running(Session(data_dir, sandbox.docker_host)) as driver:
        await driver.until_text(f"deployd {__version__}")
        await driver.until_text(f"engine {sandbox.docker_host} (connected)")
        assert driver.shows("enter choose"), "the footer shows the menu's keys"
        assert driver.shows("q quit"), "the footer shows how to leave"
        assert driver.shows("> 1. Generate a deploy token"), (
            "the current item is marked with > as well as with style"
        )


@pytest.mark.parametrize(
    ("key", "title"),
    [
        ("1", "Cannot generate a deploy token"),
        ("3", "Cannot revoke tokens"),
        ("4", "Cannot list tokens"),
    ],
)
async def test_a_data_dir_that_is_not_a_directory_is_explained(
    tmp_path: Path, key: str, title: str
) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("")
    async with running(Session(not_a_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press(key)
        await driver.until_screen(MessageScreen)
        screen = driver.screen
        assert isinstance(screen, MessageScreen)
        assert screen.title == title, "the error screen says what could not be done"
        assert screen.error, "it is shown as an error"
        assert driver.shows(f"DATA_DIR is {not_a_dir}"), "it names DATA_DIR"
        await driver.press("enter")
        await driver.until_screen(MenuScreen)


async def test_an_unreadable_token_record_is_explained(data_dir: Path) -> None:
    (data_dir / "issued-tokens.json").write_text(json.dumps({"not": "a list"}))
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press("4")
        await driver.until_text("is not a list of issued tokens")


def test_run_tui_without_a_terminal_says_so_and_returns_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pytest replaces stdin, so this process has no terminal to draw on.
    assert run_tui(data_dir, NO_ENGINE) == EXIT_NO_TERMINAL, "status 2"
    assert "needs a terminal" in capsys.readouterr().err, "stderr says why"


def test_log_lines_stay_off_the_terminal_while_the_app_draws(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = structlog.get_logger("test")
    with quiet_logs():
        log.info("token_minted", token_id="abc")
    assert "token_minted" not in capsys.readouterr().out, "nothing written"
    log.info("token_minted", token_id="abc")
    assert "token_minted" in capsys.readouterr().out, "logging is restored after"
