"""Token lifetimes as operators type them: ``30m``, ``24h``, ``4w``, ``1y``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, timedelta] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
_PART = re.compile(r"([0-9]+)([smhdwy])")
_WHOLE = re.compile(r"(?:[0-9]+[smhdwy])+")

# Far enough for any deploy token, near enough that adding it to now cannot overflow.
LONGEST = timedelta(days=100 * 365)

NEVER = "never"

# Longer text cannot name a duration within LONGEST; refusing it keeps int() cheap.
_LONGEST_TEXT = 40


def parse_duration(text: str) -> timedelta:
    """Return the lifetime ``text`` names, such as ``90s``, ``7d`` or ``1h30m``.

    Units are s, m, h, d, w and y (365 days). Raises ValueError with a readable
    reason when the text is not a positive duration of at most 100 years.
    """
    compact = text.strip().lower().replace(" ", "")
    if len(compact) > _LONGEST_TEXT or not _WHOLE.fullmatch(compact):
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, "
            "such as 30m, 24h, 7d, 4w or 1y"
        )
    seconds = sum(
        int(number) * int(_UNITS[unit].total_seconds())
        for number, unit in _PART.findall(compact)
    )
    if seconds == 0:
        raise ValueError(f"{text!r} is zero; a token must live longer than that")
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"{text!r} is longer than {LONGEST.days // 365} years")

    return timedelta(seconds=seconds)


def parse_expiry(text: str) -> timedelta | None:
    """Return the lifetime ``text`` names, or None when it says ``never``.

    Raises ValueError with a readable reason for anything else that is not a
    duration (see parse_duration).
    """
    if text.strip().lower() == NEVER:
        return None

    return parse_duration(text)


def format_duration(delta: timedelta) -> str:
    """Return ``delta`` in the largest units that fit it exactly, like ``1d12h``."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts: list[str] = []
    for unit in ("y", "w", "d", "h", "m", "s"):
        size = int(_UNITS[unit].total_seconds())
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")

    return "".join(parts)
