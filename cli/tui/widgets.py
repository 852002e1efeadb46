"""The few widgets the screens are made of: a choice list, a filtered checklist
and a text field that validates as the user types.

Every state is drawn with characters as well as style (``>`` for the cursor,
``[x]`` for a ticked row, ``!`` before an error), so the app reads the same on
a terminal without colour.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from prompt_toolkit.application import get_app
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import (
    ConditionalContainer,
    D,
    FormattedTextControl,
    HSplit,
    VSplit,
    Window,
)
from prompt_toolkit.layout.containers import Container
from prompt_toolkit.mouse_events import MouseEvent, MouseEventType
from prompt_toolkit.widgets import TextArea

T = TypeVar("T")

Hint = tuple[str, str]
MouseHandler = Callable[[MouseEvent], object]


def ellipsize(text: str, width: int) -> str:
    """Return ``text`` cut to ``width`` columns, ending in ``~`` when cut."""
    if len(text) <= width:
        return text

    return text[: max(width - 1, 0)] + "~"


def text_width() -> int:
    """Return the columns a screen's text may use: the terminal's, less margins."""
    return max(get_app().output.get_size().columns - 2, 20)


def wrap(line: str, width: int | None = None) -> list[str]:
    """Return ``line`` broken between words to fit ``width`` (default: the screen).

    Continuation lines keep the line's own indent, and hang under the text of
    a ``- `` list item; an empty line stays one.
    """
    width = width or text_width()
    indent = " " * (len(line) - len(line.lstrip(" ")))
    if line.lstrip(" ").startswith("- "):
        indent += "  "
    pieces = textwrap.wrap(
        line,
        width,
        subsequent_indent=indent,
        break_on_hyphens=False,
        drop_whitespace=True,
    )

    return pieces or [""]


def prose(
    lines: Sequence[str], style: str = "", *, first_style: str | None = None
) -> StyleAndTextTuples:
    """Return ``lines`` wrapped to the screen, the first in ``first_style``."""
    result: StyleAndTextTuples = []
    for index, line in enumerate(lines):
        line_style = first_style if index == 0 and first_style is not None else style
        result += [(line_style, piece + "\n") for piece in wrap(line)]
    if result:
        # A final newline would draw an empty line below the text.
        last_style, last_text = result[-1][:2]
        result[-1] = (last_style, last_text.removesuffix("\n"))

    return result


def error_text(lines: Sequence[str]) -> StyleAndTextTuples:
    """Return an error: its first line marked with ``!`` and styled, the rest plain."""
    if not lines:
        return []
    first, *rest = lines

    return prose([f"! {first}", *rest], first_style="class:error")


@dataclass(frozen=True)
class Option(Generic[T]):
    """One row of a ChoiceList: the value picked, its label and an explanation."""

    value: T
    label: str
    detail: str = ""


class ChoiceList(Generic[T]):
    """A vertical list of options; up/down move, enter or a click picks one."""

    def __init__(
        self,
        options: Sequence[Option[T]],
        on_pick: Callable[[T], None],
        *,
        current: T | None = None,
        numbered: bool = False,
        render: Callable[[Option[T]], str] | None = None,
    ) -> None:
        self.options = list(options)
        self.on_pick = on_pick
        self.numbered = numbered
        self.render = render
        self.cursor = 0
        if current is not None:
            self.select(current)
        self.control = FormattedTextControl(
            self._fragments, focusable=True, key_bindings=self._bindings()
        )
        self.window = Window(
            self.control, always_hide_cursor=True, dont_extend_height=True
        )

    @property
    def value(self) -> T:
        """Return the value under the cursor."""
        return self.options[self.cursor].value

    def select(self, value: T) -> None:
        """Move the cursor to the option holding ``value``."""
        for index, option in enumerate(self.options):
            if option.value == value:
                self.cursor = index

    def move(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows; one step past an end wraps around."""
        count = len(self.options)
        if not count:
            return
        if abs(delta) == 1:
            self.cursor = (self.cursor + delta) % count
        else:
            self.cursor = min(max(self.cursor + delta, 0), count - 1)

    def pick(self) -> None:
        """Hand the value under the cursor to ``on_pick``."""
        self.on_pick(self.value)

    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        kb.add("up")(lambda _: self.move(-1))
        kb.add("down")(lambda _: self.move(1))
        kb.add("home")(lambda _: self.move(-len(self.options)))
        kb.add("end")(lambda _: self.move(len(self.options)))
        kb.add("enter")(lambda _: self.pick())
        if self.numbered:
            for index in range(min(len(self.options), 9)):
                kb.add(str(index + 1))(partial(self._pick_number, index))

        return kb

    def _pick_number(self, index: int, _: KeyPressEvent) -> None:
        self.cursor = index
        self.pick()

    def _on_mouse(self, index: int, event: MouseEvent) -> object:
        if event.event_type == MouseEventType.MOUSE_UP:
            self.cursor = index
            self.pick()
        elif event.event_type == MouseEventType.SCROLL_UP:
            self.cursor = max(self.cursor - 1, 0)
        elif event.event_type == MouseEventType.SCROLL_DOWN:
            self.cursor = min(self.cursor + 1, len(self.options) - 1)
        else:
            return NotImplemented
        return None

    def _fragments(self) -> StyleAndTextTuples:
        result: StyleAndTextTuples = []
        for index, option in enumerate(self.options):
            current = index == self.cursor
            handler = partial(self._on_mouse, index)
            number = f"{index + 1}. " if self.numbered else ""
            label = self.render(option) if self.render else option.label
            if current:
                result.append(("[SetCursorPosition]", ""))
            result.append(
                (
                    "class:choice.current" if current else "class:choice",
                    f"{'>' if current else ' '} {number}{label} ",
                    handler,
                )
            )
            result.append(("", "\n"))
            if option.detail:
                indent = " " * (2 + len(number))
                for piece in wrap(indent + option.detail):
                    result.append(("class:detail", piece + "\n", handler))

        return result


@dataclass(frozen=True)
class Row:
    """One row of a Checklist: its key (what is returned) and its columns."""

    key: str
    columns: tuple[str, ...]


class Checklist:
    """Rows the user ticks with space, narrowed by the text typed into a filter."""

    def __init__(
        self,
        headings: tuple[str, ...],
        widths: Callable[[Sequence[Row]], tuple[int, ...]],
        rows: Sequence[Row],
    ) -> None:
        self.headings = headings
        # Column widths are worked out on every draw, from the rows and the screen.
        self.widths = widths
        self.rows = list(rows)
        self.ticked: list[str] = []
        self.cursor = 0
        self.filter = TextArea(multiline=False, prompt="Filter: ", focus_on_click=True)
        self.filter.buffer.on_text_changed += self._on_filter_changed
        # Drawing the cursor row scrolls the window to it; the tally below
        # reads which rows were drawn.
        self.rows_window = Window(
            FormattedTextControl(self._fragments),
            always_hide_cursor=True,
            height=D(min=3),
        )
        # The heading and the tally stay put while the rows scroll between them.
        self.container = HSplit(
            [
                self.filter,
                Window(height=1),
                Window(FormattedTextControl(self._heading), height=1),
                self.rows_window,
                # A preferred width keeps the layout from asking for the tally's
                # text before the rows are drawn (the text is cached per draw).
                Window(
                    FormattedTextControl(self._tally), height=1, width=D(preferred=0)
                ),
            ]
        )

    @property
    def visible(self) -> list[Row]:
        """Return the rows whose columns contain the filter text."""
        needle = self.filter.text.strip().lower()
        return [
            row
            for row in self.rows
            if not needle or any(needle in column.lower() for column in row.columns)
        ]

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the rows, keeping the ticks on rows that are still there."""
        self.rows = list(rows)
        keys = {row.key for row in self.rows}
        self.ticked = [key for key in self.ticked if key in keys]
        self.move(0)

    def move(self, delta: int) -> None:
        """Move the cursor by ``delta`` visible rows, stopping at either end."""
        last = max(len(self.visible) - 1, 0)
        self.cursor = min(max(self.cursor + delta, 0), last)

    def toggle(self) -> None:
        """Tick the row under the cursor, or untick it."""
        visible = self.visible
        if not visible:
            return
        key = visible[self.cursor].key
        if key in self.ticked:
            self.ticked.remove(key)
        else:
            self.ticked.append(key)

    def toggle_all(self) -> None:
        """Tick every visible row, or untick them all when all are ticked."""
        keys = [row.key for row in self.visible]
        if all(key in self.ticked for key in keys):
            self.ticked = [key for key in self.ticked if key not in keys]
        else:
            self.ticked += [key for key in keys if key not in self.ticked]

    def _on_filter_changed(self, _: Buffer) -> None:
        self.cursor = 0

    def _on_mouse(self, index: int, event: MouseEvent) -> object:
        if event.event_type == MouseEventType.MOUSE_UP:
            self.cursor = index
            self.toggle()
        elif event.event_type == MouseEventType.SCROLL_UP:
            self.move(-1)
        elif event.event_type == MouseEventType.SCROLL_DOWN:
            self.move(1)
        else:
            return NotImplemented
        return None

    def _line(self, columns: tuple[str, ...]) -> str:
        cells = [
            ellipsize(column, width).ljust(width)
            for column, width in zip(columns, self.widths(self.rows), strict=True)
        ]

        return "  ".join(cells).rstrip()

    def _heading(self) -> StyleAndTextTuples:
        return [("class:heading", "      " + self._line(self.headings))]

    def _tally(self) -> StyleAndTextTuples:
        shown, total = len(self.visible), len(self.rows)
        tally = f"{len(self.ticked)} selected"
        if shown < total:
            tally += f", {shown} of {total} shown"
        drawn = self.drawn_rows()
        if drawn is not None and drawn != (1, shown):
            first, last = drawn
            more = {(True, True): "up/down", (True, False): "up", (False, True): "down"}
            tally += f"; rows {first}-{last} of {shown}"
            tally += f", {more[first > 1, last < shown]} for more"

        return [("class:detail", f"      {tally}")]

    def drawn_rows(self) -> tuple[int, int] | None:
        """Return the first and last visible row drawn (from 1), None before a draw."""
        info = self.rows_window.render_info
        count = len(self.visible)
        if info is None or not count:
            return None
        lines = [line for line in info.displayed_lines if line < count]
        if not lines:
            return None

        return min(lines) + 1, max(lines) + 1

    def _fragments(self) -> StyleAndTextTuples:
        result: StyleAndTextTuples = []
        visible = self.visible
        if not visible:
            result.append(("class:detail", "      (no container matches the filter)\n"))
        for index, row in enumerate(visible):
            current = index == self.cursor
            box = "[x]" if row.key in self.ticked else "[ ]"
            if current:
                result.append(("[SetCursorPosition]", ""))
            result.append(
                (
                    "class:choice.current" if current else "class:choice",
                    f"{'>' if current else ' '} {box} {self._line(row.columns)}",
                    partial(self._on_mouse, index),
                )
            )
            result.append(("", "\n"))

        return result


class Field:
    """A one-line text entry with a label and an error line below it.

    ``validate`` returns the reason the text is unusable, or None; it runs as
    the user types (once there is text) and again on ``check``. A ``wrapped``
    field is for long text without blanks, such as a token: it shows its text
    over as many rows as it needs, and drops the line breaks and blanks a
    paste of wrapped text brings.
    """

    def __init__(
        self,
        label: str,
        *,
        validate: Callable[[str], str | None] | None = None,
        password: bool = False,
        label_width: int = 0,
        wrapped: bool = False,
    ) -> None:
        self.label = label
        self.validate = validate
        self.error: str | None = None
        self.wrapped = wrapped
        # Multiline only so that the window wraps; enter is the screen's to bind.
        self.area = TextArea(
            multiline=wrapped,
            wrap_lines=wrapped,
            dont_extend_height=True,
            password=password,
            focus_on_click=True,
        )
        self.area.buffer.on_text_changed += self._on_text_changed
        width = max(label_width, len(label) + 1)
        self.container: Container = HSplit(
            [
                VSplit(
                    [
                        Window(
                            FormattedTextControl(label),
                            width=width,
                            dont_extend_width=True,
                        ),
                        self.area,
                    ]
                ),
                ConditionalContainer(
                    Window(
                        FormattedTextControl(self._error_fragments),
                        dont_extend_height=True,
                    ),
                    filter=Condition(lambda: self.error is not None),
                ),
            ]
        )

    @property
    def text(self) -> str:
        """Return the text typed, without surrounding blanks."""
        return self.area.text.strip()

    def check(self) -> bool:
        """Run the validator on the text now and return whether it passed."""
        self.error = self.validate(self.area.text) if self.validate else None

        return self.error is None

    def _on_text_changed(self, buffer: Buffer) -> None:
        if self.wrapped and any(char.isspace() for char in buffer.text):
            # Setting the text calls this again, with nothing left to join.
            joined = "".join(buffer.text.split())
            buffer.document = Document(joined, len(joined))
            return
        if self.area.text:
            self.check()
        else:
            self.error = None

    def _error_fragments(self) -> StyleAndTextTuples:
        return error_text([self.error]) if self.error else []


def paragraph(*lines: str, style: str = "") -> Window:
    """Return a window showing ``lines`` wrapped to the screen, as tall as they are."""
    return Window(
        FormattedTextControl(lambda: prose(lines, style)), dont_extend_height=True
    )
