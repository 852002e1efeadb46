"""deployd-cli in a real terminal: tmux runs it, send-keys types, capture-pane reads.

``generate_token_in_terminal`` walks the wizard the way an operator would and
returns the token read off the screen, so that a test can go on to use it
(against a running daemon, say) after checking its claims.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deployd.tokens import Action, Tokens
from tests.daemon import Daemon, run_helper
from tests.factories import ContainerFactory, unique_name
from tests.sandbox import Sandbox

WAIT = 20.0
COLUMNS, ROWS = 80, 24
EXITED = "deployd-cli exited with status"


def cli_command() -> list[str]:
    """Return how to start deployd-cli: the installed script, else the module."""
    script = shutil.which("deployd-cli")
    beside_python = Path(sys.executable).with_name("deployd-cli")
    if script is None and beside_python.exists():
        script = str(beside_python)

    return [script] if script else [sys.executable, "-m", "deployd.cli.main"]


@dataclass
class Terminal:
    """One tmux server of our own, with one pane running a command."""

    socket: Path

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=True,
        )

        return result.stdout

    def start(self, command: str) -> None:
        size = ["-x", str(COLUMNS), "-y", str(ROWS)]
        self.tmux("new-session", "-d", *size, command)
        # Let OSC 52 from the app set tmux's own paste buffer.
        self.tmux("set-option", "-g", "set-clipboard", "on")

    def keys(self, *keys: str) -> None:
        """Send tmux key names (Enter, Down, Space, ...)."""
        self.tmux("send-keys", *keys)
        time.sleep(0.1)

    def type(self, text: str) -> None:
        """Send ``text`` literally."""
        self.tmux("send-keys", "-l", text)
        time.sleep(0.1)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, check: Callable[[str], bool], what: str) -> str:
        """Poll the pane until ``check`` accepts it; fail naming ``what``."""
        deadline = time.monotonic() + WAIT
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; pane:\n{screen}")
            time.sleep(0.1)

    def wait_text(self, needle: str) -> str:
        return self.wait_for(lambda screen: needle in screen, repr(needle))


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    """A private tmux server, killed (with what runs in it) after the test."""
    term = Terminal(tmp_path / "tmux.sock")
    try:
        yield term
    finally:
        subprocess.run(
            ["tmux", "-S", str(term.socket), "kill-server"],
            capture_output=True,
            timeout=WAIT,
            check=False,
        )


def token_on_screen(screen: str) -> str:
    """Return the token the token screen shows, its wrapped lines joined as they are.

    The rows are taken whole, as a mouse selection takes them: a blank or
    indent in them would end up inside the token.
    """
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if "Your deploy token" in line)
    token_lines: list[str] = []
    for line in lines[start + 1 :]:
        if token_lines and not line.strip():
            break
        if line.strip():
            token_lines.append(line)
    assert all(line == line.strip() for line in token_lines), (
        f"the token's rows hold nothing but the token: {token_lines!r}"
    )
    assert all(len(line) == COLUMNS for line in token_lines[:-1]), (
        "the token fills every row it wraps from, edge to edge"
    )

    return "".join(token_lines)


def generate_token_in_terminal(
    terminal: Terminal, sandbox: Sandbox, data_dir: Path, container: str
) -> str:
    """Run deployd-cli, make a 4-week recreate token for ``container``, return it.

    Leaves deployd-cli with q and checks that it exited with status 0.
    """
    environment = f"DATA_DIR={shlex.quote(str(data_dir))} " + (
        f"DOCKER_HOST={shlex.quote(sandbox.docker_host)}"
    )
    command = shlex.join(cli_command())
    terminal.start(f"env {environment} {command}; echo {EXITED} $?; sleep 60")

    terminal.wait_text("What do you want to do?")
    terminal.keys("Enter")
    terminal.wait_text("Connected to Docker socket")
    terminal.type(container)
    terminal.wait_text(f"> [ ] {container}")
    terminal.keys("Space")
    terminal.wait_text(f"> [x] {container}")
    terminal.keys("Enter")
    terminal.wait_text("Should the deploy token expire?")
    terminal.keys("Down", "Enter")
    terminal.wait_text("Lifetime:")
    terminal.type("4w")
    terminal.wait_text("Expires after 4w")
    terminal.keys("Enter")
    terminal.wait_text("What should a deploy do to the containers?")
    terminal.keys("Down", "Enter")
    terminal.wait_text("Press enter to generate the token")
    terminal.keys("Enter")
    screen = terminal.wait_text("Your deploy token")
    token = token_on_screen(screen)

    terminal.keys("c")
    terminal.wait_text("Copied to the clipboard")
    assert terminal.tmux("show-buffer") == token, (
        "c puts the token on the clipboard (tmux's, through OSC 52)"
    )
    terminal.keys("q")
    terminal.wait_text(f"{EXITED} 0")

    return token


def test_a_token_generated_in_a_real_terminal_deploys_through_the_daemon(
    sandbox: Sandbox,
    container_factory: ContainerFactory,
    data_dir: Path,
    terminal: Terminal,
    daemon: Daemon,
) -> None:
    container = container_factory(sandbox.base_image)

    token = generate_token_in_terminal(terminal, sandbox, data_dir, container.name)

    claims = Tokens(data_dir).verify(token)
    assert claims.containers == (container.name,), "the token names the container"
    assert claims.action is Action.RECREATE, "the token carries the chosen action"
    assert claims.cleanup is False, "recreate never cleans up"
    assert claims.expires_at is not None, "the token expires"
    lifetime = claims.expires_at - datetime.now(UTC)
    assert timedelta(weeks=4) - timedelta(minutes=5) < lifetime <= timedelta(weeks=4), (
        "the token lives four weeks"
    )
    deployed = run_helper(daemon, token)
    assert deployed.returncode == 0, f"the deploy succeeds:\n{deployed.stdout}"
    assert "Deploy succeeded" in deployed.stdout, "the daemon says so"
    after = sandbox.cli("inspect", "-f", "{{.Id}}", container.name).stdout.strip()
    assert after != container.id, "the container was recreated"


def field_text(screen: str, label: str) -> str:
    """Return what the field after ``label`` shows, its wrapped rows joined."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if label in line)
    rows = [lines[start].split(label, 1)[1]]
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(line)

    return "".join(row.strip() for row in rows)


def test_a_wrapped_token_pasted_into_revoke_shows_whole_and_revokes(
    data_dir: Path, terminal: Terminal
) -> None:
    token, issued = Tokens(data_dir).mint(["web"], Action.RESTART, False, None)
    # As a mouse selection of a wrapped token gives it: rows and line breaks.
    pasted = "\n".join(token[i : i + 70] for i in range(0, len(token), 70))
    environment = f"DATA_DIR={shlex.quote(str(data_dir))}"
    command = shlex.join(cli_command())
    terminal.start(f"env {environment} {command}; echo {EXITED} $?; sleep 60")
    terminal.wait_text("What do you want to do?")
    terminal.keys("3")
    terminal.wait_text("Token or id:")
    terminal.tmux("set-buffer", pasted)
    # -p: as a bracketed paste, the way terminals hand a paste to the app.
    terminal.tmux("paste-buffer", "-p")

    screen = terminal.wait_for(
        lambda pane: field_text(pane, "Token or id:") == token,
        "the whole pasted token in the field",
    )
    assert token[:40] in screen, "the start of the token is shown, not just its end"
    terminal.keys("Enter")
    terminal.wait_text(f"Token {issued.token_id} deploys web")
    terminal.keys("y")
    terminal.wait_text("Token revoked")
    terminal.keys("Enter")
    terminal.wait_text("What do you want to do?")
    terminal.keys("q")
    terminal.wait_text(f"{EXITED} 0")
    assert Tokens(data_dir).inspect(token).revoked, "the pasted token is revoked"


def test_a_long_container_list_says_which_rows_show_and_follows_the_cursor(
    sandbox: Sandbox,
    container_factory: ContainerFactory,
    data_dir: Path,
    terminal: Terminal,
) -> None:
    prefix = unique_name()
    for number in range(1, 15):
        container_factory(
            sandbox.base_image, name=f"{prefix}-{number:02d}", start=False
        )
    environment = f"DATA_DIR={shlex.quote(str(data_dir))} " + (
        f"DOCKER_HOST={shlex.quote(sandbox.docker_host)}"
    )
    terminal.start(f"env {environment} {shlex.join(cli_command())}; sleep 60")
    terminal.wait_text("What do you want to do?")
    terminal.keys("Enter")
    terminal.wait_text("Connected to Docker socket")
    terminal.type(prefix)
    tally = re.compile(r"rows 1-(\d+) of 14, down for more")
    screen = terminal.wait_for(
        lambda pane: tally.search(pane) is not None,
        "the tally to say which of the 14 rows show and that more follow",
    )

    first_page = tally.search(screen)
    assert first_page is not None
    page = int(first_page.group(1))
    assert 3 <= page < 14, "an 80x24 terminal shows some of the 14 rows"
    for _ in range(page):
        terminal.keys("Down")
    screen = terminal.wait_text(f"rows 2-{page + 1} of 14, up/down for more")
    assert f"> [ ] {prefix}-{page + 1:02d}" in screen, "the cursor row stays in view"
    for _ in range(13 - page):
        terminal.keys("Down")
    screen = terminal.wait_text(f"rows {15 - page}-14 of 14, up for more")
    assert f"> [ ] {prefix}-14" in screen, "the last row is in view with the cursor"
