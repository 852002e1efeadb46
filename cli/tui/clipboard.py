"""Copying text to the user's clipboard with the OSC 52 terminal sequence.

OSC 52 asks the terminal itself to set its clipboard, so it works where the
CLI runs on a remote host over SSH, inside ``docker exec``, or in tmux with
``set-clipboard on``. Terminals that do not support it ignore the sequence.
"""

from __future__ import annotations

import base64

from prompt_toolkit.output import Output


def osc52(text: str) -> str:
    """Return the escape sequence that asks the terminal to copy ``text``."""
    encoded = base64.b64encode(text.encode()).decode("ascii")

    return f"\x1b]52;c;{encoded}\x07"


def copy_to_clipboard(output: Output, text: str) -> None:
    """Write the OSC 52 sequence for ``text`` straight to the terminal."""
    output.write_raw(osc52(text))
    output.flush()
