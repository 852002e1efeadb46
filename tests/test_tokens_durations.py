"""Token lifetimes: what operators may type, and the reasons given when it is wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployd.tokens import format_duration, parse_duration, parse_expiry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("4w", timedelta(weeks=4)),
        ("1y", timedelta(days=365)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_parse_duration_reads_each_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected, f"{text!r} should mean {expected}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a duration"),
        ("10", "not a duration"),
        ("h", "not a duration"),
        ("5 minutes", "not a duration"),
        ("-5m", "not a duration"),
        ("1.5h", "not a duration"),
        ("0s", "zero"),
        ("101y", "longer than 100 years"),
        ("9" * 60 + "y", "not a duration"),
    ],
)
def test_parse_duration_refuses_with_a_readable_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


def test_parse_expiry_reads_never_as_no_expiry() -> None:
    assert parse_expiry("never") is None, "'never' should mean a token that never ends"
    assert parse_expiry("Never ") is None, "'never' should be read in any case"
    assert parse_expiry("2h") == timedelta(hours=2), "a duration should pass through"


@given(st.text(max_size=40))
def test_parse_duration_raises_only_value_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError:
        return
    assert timedelta() < result <= timedelta(days=36500), "a result must be in range"


@given(st.integers(min_value=1, max_value=100 * 365 * 86400))
def test_format_duration_reads_back_as_the_same_duration(seconds: int) -> None:
    delta = timedelta(seconds=seconds)

    assert parse_duration(format_duration(delta)) == delta, "format must round-trip"
