"""Log output: JSON lines, bound context, and no token or password in any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from deployd import logs

TOKEN = "v4.public.eyJjb250YWluZXJOYW1lcyI6WyJ3ZWIiXX0aGVsbG8td29ybGQ"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers = []
        structlog.contextvars.clear_contextvars()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_events_are_json_lines_with_level_logger_and_time(output: io.StringIO) -> None:
    structlog.get_logger("deployd.test").info("thing_happened", count=3)

    [line] = lines(output)
    assert line["event"] == "thing_happened", "the event name is kept"
    assert line["count"] == 3, "data stays a typed key"
    assert line["level"] == "info", "the level is named"
    assert line["logger"] == "deployd.test", "the module is named"
    assert str(line["timestamp"]).endswith("Z"), "the time is UTC"


def test_context_bound_in_contextvars_joins_each_line(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="abc123")
    structlog.get_logger("deployd.test").info("thing_happened")

    assert lines(output)[0]["request_id"] == "abc123", "the request id is on the line"


def test_standard_library_loggers_come_out_as_json_too(output: io.StringIO) -> None:
    logging.getLogger("aiohttp.server").error("Error handling request")

    assert lines(output)[0]["event"] == "Error handling request", (
        "foreign log records share the JSON shape"
    )


def test_the_level_filters_lower_events() -> None:
    stream = io.StringIO()
    logs.configure("warning", "json", stream)
    try:
        structlog.get_logger("deployd.test").info("quiet")
        structlog.get_logger("deployd.test").warning("loud")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers = []

    assert [line["event"] for line in lines(stream)] == ["loud"], "info is dropped"


def test_a_token_anywhere_in_a_line_is_blanked(output: io.StringIO) -> None:
    log = structlog.get_logger("deployd.test")
    log.warning("token_rejected", detail=f"got {TOKEN} from ci", tokens=[TOKEN])
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        log.exception("request_failed")
    logging.getLogger("aiohttp.server").warning("header %s", TOKEN)

    assert TOKEN not in output.getvalue(), "no line carries the token"
    assert output.getvalue().count(logs.REDACTED) >= 4, "each place is marked"


def test_secret_keys_are_blanked(output: io.StringIO) -> None:
    structlog.get_logger("deployd.test").info(
        "login_checked", password="hunter2", authorization="Bearer x"
    )

    line = lines(output)[0]
    assert line["password"] == logs.REDACTED, "a password value is blanked"
    assert line["authorization"] == logs.REDACTED, "an Authorization value is blanked"


def test_console_format_is_readable_text() -> None:
    stream = io.StringIO()
    logs.configure("info", "console", stream)
    try:
        structlog.get_logger("deployd.test").info("thing_happened", count=3)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers = []

    text = stream.getvalue()
    assert "thing_happened" in text and "count" in text, "the event and data show"
    assert not text.lstrip().startswith("{"), "console output is not JSON"


def test_a_stream_that_is_not_a_terminal_gets_json() -> None:
    stream = io.StringIO()
    logs.configure("info", None, stream)
    try:
        structlog.get_logger("deployd.test").info("thing_happened")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers = []

    assert json.loads(stream.getvalue())["event"] == "thing_happened", "JSON by default"
