"""Driving the TUI in tests: pipe input, a dummy output that records raw writes,
keys by name, bounded waits, and the text the current screen shows.

The other tests_tui_* modules import from here; this module has no tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prompt_toolkit.application import create_app_session
from prompt_toolkit.formatted_text import fragment_list_to_text, to_formatted_text
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.layout import BufferControl, FormattedTextControl, Window
from prompt_toolkit.layout.layout import walk
from prompt_toolkit.layout.processors import ConditionalProcessor, PasswordProcessor
from prompt_toolkit.output import DummyOutput

from deployd.cli.tui.app import Screen, Tui
from deployd.cli.tui.context import Session

WAIT = 15.0

KEYS = {
    "up": "\x1b[A",
    "down": "\x1b[B",
    "enter": "\r",
    "esc": "\x1b",
    "tab": "\t",
    "s-tab": "\x1b[Z",
    "space": " ",
    "c-a": "\x01",
    "c-c": "\x03",
    "c-r": "\x12",
    "c-u": "\x15",
}


class RecordingOutput(DummyOutput):
    """A DummyOutput that keeps what the app writes raw (the OSC 52 sequence)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[str] = []

    def write_raw(self, data: str) -> None:
        self.raw.append(data)


def screen_text(tui: Tui) -> str:
    """Return the text of every visible window, top to bottom."""
    parts: list[str] = []
    for container in walk(tui.application.layout.container, skip_hidden=True):
        if not isinstance(container, Window):
            continue
        content = container.content
        if isinstance(content, FormattedTextControl):
            parts.append(fragment_list_to_text(to_formatted_text(content.text)))
        elif isinstance(content, BufferControl):
            text = content.buffer.text
            parts.append("*" * len(text) if masked(content) else text)

    return "\n".join(parts)


def squash(text: str) -> str:
    """Return ``text`` without whitespace, so that wrapping does not matter."""
    return "".join(text.split())


def masked(control: BufferControl) -> bool:
    """Return whether the control draws its text as stars (a password field)."""
    return any(
        isinstance(processor, ConditionalProcessor)
        and isinstance(processor.processor, PasswordProcessor)
        and processor.filter()
        for processor in control.input_processors or []
    )


@dataclass
class Driver:
    """A running TUI and the keyboard that drives it."""

    tui: Tui
    pipe: PipeInput
    output: RecordingOutput
    task: asyncio.Task[int]

    @property
    def screen(self) -> Screen:
        return self.tui.screen

    @property
    def text(self) -> str:
        return screen_text(self.tui)

    async def press(self, *keys: str) -> None:
        """Send keys by name (see KEYS) or as text, letting the app take each in."""
        for key in keys:
            self.pipe.send_text(KEYS.get(key, key))
            # A lone escape is only recognised once the input has been quiet.
            await asyncio.sleep(0.25 if key == "esc" else 0.02)

    async def write(self, text: str) -> None:
        """Type ``text`` as one burst, as a paste would arrive."""
        self.pipe.send_text(text)
        await asyncio.sleep(0.05)

    async def until(
        self, check: Callable[[], object], what: str, timeout: float = WAIT
    ) -> None:
        """Wait until ``check()`` is true; fail naming ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not check():
            if self.task.done():
                raise AssertionError(f"the app ended before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; the screen shows:\n{self.text}"
                )
            await asyncio.sleep(0.02)

    async def until_screen(self, kind: type[Screen], timeout: float = WAIT) -> None:
        """Wait until the current screen is a ``kind``."""
        await self.until(
            lambda: isinstance(self.tui.screen, kind), f"the {kind.__name__}", timeout
        )

    def shows(self, needle: str) -> bool:
        """Return whether the screen shows ``needle``, wrapped over lines or not."""
        return squash(needle) in squash(self.text)

    async def until_text(self, needle: str, timeout: float = WAIT) -> None:
        """Wait until the screen shows ``needle``."""
        await self.until(lambda: self.shows(needle), f"{needle!r} on screen", timeout)

    async def exit_code(self) -> int:
        """Wait for the app to end and return its exit code."""
        return await asyncio.wait_for(self.task, WAIT)


@asynccontextmanager
async def running(session: Session) -> AsyncIterator[Driver]:
    """Run the TUI for ``session`` on pipe input; quit it afterwards if still up."""
    with create_pipe_input() as pipe:
        output = RecordingOutput()
        with create_app_session(input=pipe, output=output):
            tui = Tui(session, input=pipe, output=output)
            task = asyncio.create_task(tui.run())
            driver = Driver(tui, pipe, output, task)
            try:
                await driver.until(
                    lambda: tui.application.is_running and tui.stack, "the app to start"
                )
                yield driver
            finally:
                tui.quit()
                await asyncio.wait_for(asyncio.shield(task), WAIT)
