"""Revoking tokens and listing them in the TUI. No engine is involved."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from deployd.cli.tui.context import Session
from deployd.cli.tui.screens.menu import MenuScreen
from deployd.cli.tui.screens.message import ConfirmScreen, MessageScreen
from deployd.cli.tui.screens.revoke import RevokeScreen
from deployd.cli.tui.screens.tokens_list import TokenListScreen
from deployd.errors import TokenRevoked
from deployd.tokens import Action, Tokens
from deployd.tokens.claims import digest
from tests.test_tui_harness import Driver, running

NO_ENGINE = "unix:///nonexistent/docker.sock"

# Checks after a revocation use a fresh Tokens: one loaded before it may take
# up to its recheck interval to see the change (the first test proves it does).


async def open_revoke(driver: Driver) -> RevokeScreen:
    await driver.until_screen(MenuScreen)
    await driver.press("3")
    await driver.until_screen(RevokeScreen)
    screen = driver.screen
    assert isinstance(screen, RevokeScreen)

    return screen


async def result_title(driver: Driver) -> str:
    await driver.until_screen(MessageScreen)
    screen = driver.screen
    assert isinstance(screen, MessageScreen)
    title: str = screen.title

    return title


async def test_a_pasted_token_is_revoked_after_confirmation(data_dir: Path) -> None:
    tokens = Tokens(data_dir)
    token, issued = tokens.mint(["web"], Action.RESTART, False, None)
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await open_revoke(driver)
        await driver.write(token)
        await driver.press("enter")
        await driver.until_screen(ConfirmScreen)
        assert driver.shows(f"Token {issued.token_id} deploys web: restart"), (
            "the question says what the token deploys"
        )
        await driver.press("y")
        assert await result_title(driver) == "Token revoked", "the outcome is named"
        assert driver.shows("no restart is needed"), "the daemon needs no restart"
        await driver.press("enter")
        await driver.until_screen(MenuScreen)
    # ``tokens`` stands for a running daemon, loaded before the revocation: it
    # must refuse the token within its recheck interval, without a restart.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            tokens.verify(token)
        except TokenRevoked:
            break
        await asyncio.sleep(0.1)
    with pytest.raises(TokenRevoked):
        tokens.verify(token)


async def test_a_token_revoked_before_is_reported_as_already_revoked(
    data_dir: Path,
) -> None:
    tokens = Tokens(data_dir)
    token, _ = tokens.mint(["web"], Action.RECREATE, False, None)
    tokens.revoke(token)
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await open_revoke(driver)
        await driver.write(token)
        await driver.press("enter")
        assert await result_title(driver) == "Already revoked", "the outcome is named"


async def test_pasting_a_token_revoked_by_id_alone_lists_its_digest(
    data_dir: Path,
) -> None:
    tokens = Tokens(data_dir)
    token, issued = tokens.mint(["web"], Action.RECREATE, False, None)
    # deployd's own id list only, as for a record that kept no digest.
    (data_dir / "revoked-ids.json").write_text(json.dumps([issued.token_id]))
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await open_revoke(driver)
        await driver.write(token)
        await driver.press("enter")
        assert await result_title(driver) == "Already revoked", "the outcome is named"
    digests = json.loads((data_dir / "revoked-tokens.json").read_text())
    assert digests == [digest(token)], (
        "the original tool's list names the pasted token, so it stays revoked "
        "after switching back"
    )


async def test_a_token_pasted_over_several_lines_is_still_recognised(
    data_dir: Path,
) -> None:
    tokens = Tokens(data_dir)
    token, _ = tokens.mint(["web"], Action.RECREATE, False, None)
    broken = "\n".join(token[i : i + 60] for i in range(0, len(token), 60))
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        screen = await open_revoke(driver)
        # The bracketed paste that terminals send for a pasted text.
        await driver.write(f"\x1b[200~{broken}\x1b[201~")
        await driver.until(
            lambda: screen.field.area.text == token, "the paste, its lines joined"
        )
        await driver.press("enter")
        await driver.until_screen(ConfirmScreen)


async def test_text_that_is_no_token_of_ours_is_called_invalid(data_dir: Path) -> None:
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        screen = await open_revoke(driver)
        await driver.write("v4.public.not-a-real-token")
        await driver.press("enter")
        await driver.until_text("This is not a valid token of this deployd")
        assert driver.screen is screen, "the user stays to paste again"
        await driver.press("c-u")
        await driver.write("0123456789abcdef")
        await driver.press("enter")
        await driver.until_text("No token with id '0123456789abcdef' was issued")


async def test_an_expired_token_is_reported_as_expired_not_revoked(
    data_dir: Path,
) -> None:
    tokens = Tokens(data_dir)
    token, _ = tokens.mint(["web"], Action.RESTART, False, timedelta(seconds=1))
    await asyncio.sleep(1.1)
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await open_revoke(driver)
        await driver.write(token)
        await driver.press("enter")
        assert await result_title(driver) == "Token expired", "the outcome is named"
    assert not Tokens(data_dir).inspect(token).revoked, (
        "an expired token is left as it is"
    )


async def test_a_token_picked_from_the_issued_list_is_revoked_by_id(
    data_dir: Path,
) -> None:
    tokens = Tokens(data_dir)
    old, _ = tokens.mint(["web"], Action.RESTART, False, None)
    new, issued = tokens.mint(["api", "worker"], Action.PULL_AND_RECREATE, True, None)
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await open_revoke(driver)
        assert driver.shows("api, worker: pull and recreate"), "live tokens listed"
        await driver.press("tab", "enter")
        await driver.until_screen(ConfirmScreen)
        assert driver.shows(issued.token_id), "the newest token is picked first"
        await driver.press("n")
        await driver.until_screen(RevokeScreen)
        assert not Tokens(data_dir).inspect(new).revoked, "answering no revokes nothing"
        await driver.press("enter")
        await driver.until_screen(ConfirmScreen)
        await driver.press("y")
        assert await result_title(driver) == "Token revoked", "the outcome is named"
    assert Tokens(data_dir).inspect(new).revoked, "the picked token is revoked"
    assert not Tokens(data_dir).inspect(old).revoked, "the other token is not"


async def test_the_list_shows_each_token_with_its_state(data_dir: Path) -> None:
    tokens = Tokens(data_dir)
    _, live = tokens.mint(["web"], Action.PULL_AND_RECREATE, True, timedelta(days=7))
    revoked_token, revoked = tokens.mint(["api"], Action.RECREATE, False, None)
    tokens.revoke(revoked_token)
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press("4")
        await driver.until_screen(TokenListScreen)
        lines = driver.text.splitlines()
        live_line = next(line for line in lines if live.token_id in line)
        revoked_line = next(line for line in lines if revoked.token_id in line)
        assert "web" in live_line and "pull-recreate" in live_line, "live row"
        assert live_line.rstrip().endswith("live"), "the live token is marked live"
        assert "never" in revoked_line, "a token without expiry says never"
        assert revoked_line.rstrip().endswith("revoked"), "the revoked one is marked"

        await driver.press("enter")
        await driver.until_screen(MessageScreen)
        assert driver.shows(f"Token {revoked.token_id}"), "newest first: the revoked"
        assert not driver.shows("r revoke"), "a revoked token offers no revoke"
        await driver.press("esc", "down", "enter")
        await driver.until_text("Remove old image: yes")
        await driver.press("r")
        await driver.until_screen(ConfirmScreen)
        await driver.press("y")
        assert await result_title(driver) == "Token revoked", "revoked from the list"
    assert all(token.revoked for token in Tokens(data_dir).issued()), (
        "both are revoked now"
    )


async def test_an_empty_list_says_that_no_tokens_were_issued(data_dir: Path) -> None:
    async with running(Session(data_dir, NO_ENGINE)) as driver:
        await driver.until_screen(MenuScreen)
        await driver.press("4")
        await driver.until_text("No tokens have been issued here yet")
        await driver.press("esc")
        await driver.until_screen(MenuScreen)
