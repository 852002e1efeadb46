"""The full-screen application: a title bar, the current screen, and a footer of keys.

``Tui`` keeps a stack of screens: a wizard step pushes the next one, esc pops
back to the previous one with what was entered still there, and ``home``
returns to the main menu. Engine calls run as asyncio tasks through ``start``
so the screen keeps drawing while they wait; whatever goes wrong in them is
shown as a screen, never as a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from prompt_toolkit.application import Application
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import (
    DynamicKeyBindings,
    KeyBindings,
    KeyBindingsBase,
    KeyPressEvent,
    merge_key_bindings,
)
from prompt_toolkit.key_binding.bindings.focus import focus_next, focus_previous
from prompt_toolkit.layout import (
    AnyContainer,
    DynamicContainer,
    FormattedTextControl,
    HSplit,
    Layout,
    VSplit,
    Window,
)
from prompt_toolkit.layout.controls import BufferControl
from prompt_toolkit.layout.layout import FocusableElement
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from deployd import __version__
from deployd.errors import DeploydError

from .context import Session
from .widgets import Hint

log = structlog.get_logger(__name__)

# Exit codes: 0 when the user leaves by the menu or q, 130 for ctrl-c as shells do.
EXIT_OK = 0
EXIT_INTERRUPTED = 130
EXIT_FAILED = 1

STYLE = Style.from_dict(
    {
        "titlebar": "reverse",
        "titlebar.name": "reverse bold",
        "footer": "reverse",
        "footer.key": "reverse bold",
        "heading": "bold underline",
        "choice.current": "reverse bold",
        "detail": "italic",
        "error": "fg:ansired bold",
        "ok": "fg:ansigreen bold",
        "token": "bold",
        "text-area": "underline",
    }
)


class Screen:
    """One view of the app. Subclasses ``build`` their body and say which keys work."""

    title = ""
    # False where the user should be able to select text with the mouse as usual.
    mouse = True

    def __init__(self, tui: Tui) -> None:
        self.tui = tui
        # The keys this screen handles beyond those of its focused widget.
        self.bindings: KeyBindingsBase | None = None
        # Where the focus was when another screen covered this one.
        self.last_focus: Window | None = None
        self._frame: AnyContainer | None = None

    @property
    def frame(self) -> AnyContainer:
        """Return the screen's heading above its body, built once."""
        if self._frame is None:
            heading = Window(
                FormattedTextControl([("class:heading", self.title)]), height=2
            )
            self._frame = self.arrange(heading)

        return self._frame

    def arrange(self, heading: Window) -> AnyContainer:
        """Return ``heading`` above the body, both a column in from the edge."""
        # The empty window takes the rows the screen does not need, so that
        # the footer stays at the bottom of the terminal.
        return indented(HSplit([heading, self.build(), Window()]))

    def build(self) -> AnyContainer:
        """Return the container drawn below the heading (called once)."""
        raise NotImplementedError

    def hints(self) -> list[Hint]:
        """Return the (key, what it does) pairs the footer shows."""
        return [("esc", "back")]

    def focus(self) -> FocusableElement | None:
        """Return what should have the keyboard focus when the screen shows."""
        return None

    def escape(self) -> None:
        """Go back; screens with a step inside them first undo that step."""
        self.tui.back()


def indented(container: AnyContainer) -> VSplit:
    """Return ``container`` a column in from the terminal's left edge."""
    return VSplit([Window(width=1), container])


class Tui:
    """The running app: its screens, its chrome and the tasks it started."""

    def __init__(
        self,
        session: Session,
        *,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.session = session
        self.stack: list[Screen] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.application: Application[int] = Application(
            layout=Layout(self._root()),
            key_bindings=merge_key_bindings(
                [
                    self._global_bindings(),
                    DynamicKeyBindings(self._screen_bindings),
                ]
            ),
            style=STYLE,
            full_screen=True,
            mouse_support=Condition(lambda: bool(self.stack) and self.screen.mouse),
            input=input,
            output=output,
        )
        # Esc alone must act at once, not wait for a possible alt-key sequence.
        self.application.ttimeoutlen = 0.05
        self.application.timeoutlen = 0.3

    @property
    def screen(self) -> Screen:
        """Return the screen on top of the stack."""
        return self.stack[-1]

    def push(self, screen: Screen) -> None:
        """Show ``screen``; esc comes back to the one showing now."""
        if self.stack:
            self.screen.last_focus = self.application.layout.current_window
        self.stack.append(screen)
        self._show()

    def replace(self, screen: Screen) -> None:
        """Show ``screen`` in place of the current one (esc skips the current one)."""
        self.stack[-1] = screen
        self._show()

    def back(self) -> None:
        """Return to the previous screen; from the main menu, do nothing."""
        if len(self.stack) > 1:
            self.stack.pop()
            self._show()

    def home(self) -> None:
        """Return to the main menu."""
        del self.stack[1:]
        self._show()

    def quit(self, code: int = EXIT_OK) -> None:
        """Leave the app with exit code ``code``."""
        app = self.application
        if app.is_running and not app.is_done:
            app.exit(result=code)

    def start(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` as a task; its errors are shown as an error screen.

        DeploydErrors carry a message meant for the user. Anything else is a bug
        in deployd; it is logged and shown with its type rather than crashing
        the terminal.
        """
        task = asyncio.ensure_future(self._guarded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self) -> int:
        """Run the app until the user leaves; return the exit code."""
        from .screens.menu import MenuScreen

        self.push(MenuScreen(self))
        self.start(self._probe_engine)
        try:
            return await self.application.run_async()
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def refresh(self) -> None:
        """Redraw the screen (after a task changed what it shows)."""
        self.application.invalidate()

    def show_error(self, title: str, lines: list[str]) -> None:
        """Show an error screen; esc or enter returns to the screen before it."""
        from .screens.message import MessageScreen

        self.push(MessageScreen(self, title, lines, error=True))

    async def _guarded(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except DeploydError as exc:
            self.show_error("Something went wrong", [exc.message])
        except Exception as exc:
            log.exception("tui_task_failed")
            self.show_error(
                "Something went wrong inside deployd",
                [f"{type(exc).__name__}: {exc}", "", "Please report this as a bug."],
            )
        finally:
            self.refresh()

    async def _probe_engine(self) -> None:
        try:
            async with self.session.docker() as docker:
                await docker.system.ping()
        except DeploydError:
            self.session.engine_state = "not reachable"
        else:
            self.session.engine_state = "connected"

    def _show(self) -> None:
        screen = self.screen
        layout = self.application.layout
        target: FocusableElement | None = screen.focus()
        if screen.last_focus in list(layout.find_all_windows()):
            target = screen.last_focus
        screen.last_focus = None
        if target is not None:
            layout.focus(target)
        self.refresh()

    def _root(self) -> HSplit:
        return HSplit(
            [
                Window(
                    FormattedTextControl(self._titlebar),
                    height=1,
                    style="class:titlebar",
                ),
                DynamicContainer(self._body),
                Window(
                    FormattedTextControl(self._footer),
                    height=1,
                    style="class:footer",
                ),
            ]
        )

    def _body(self) -> AnyContainer:
        if not self.stack:
            return Window()

        return self.screen.frame

    def _titlebar(self) -> StyleAndTextTuples:
        engine = f"engine {self.session.engine_address} ({self.session.engine_state}) "

        return [
            ("class:titlebar.name", f" deployd {__version__} "),
            ("class:titlebar", " | "),
            ("class:titlebar", engine),
        ]

    def _footer(self) -> StyleAndTextTuples:
        if not self.stack:
            return []
        result: StyleAndTextTuples = [("class:footer", " ")]
        hints = self.screen.hints()
        hints.append(("q", "quit") if self._may_type_q() else ("ctrl-c", "quit"))
        for key, label in hints:
            result.append(("class:footer.key", key))
            result.append(("class:footer", f" {label}  "))

        return result

    def _screen_bindings(self) -> KeyBindingsBase | None:
        return self.screen.bindings if self.stack else None

    def _may_type_q(self) -> bool:
        """Return whether q quits here: yes, unless a text field has the focus."""
        return not isinstance(self.application.layout.current_control, BufferControl)

    def _global_bindings(self) -> KeyBindings:
        kb = KeyBindings()

        @kb.add("c-c")
        def _interrupt(_: KeyPressEvent) -> None:
            self.quit(EXIT_INTERRUPTED)

        @kb.add("q", filter=Condition(self._may_type_q))
        def _quit(_: KeyPressEvent) -> None:
            self.quit(EXIT_OK)

        @kb.add("escape", eager=True)
        def _back(_: KeyPressEvent) -> None:
            self.screen.escape()

        kb.add("tab")(focus_next)
        kb.add("s-tab")(focus_previous)

        return kb
