"""Rendering deploy logs: text lines, NDJSON and server-sent events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from deployd.deploy import DeployEvent, DeployPlan, DeployResult
from deployd.tokens import Action
from deployd.web import render
from deployd.web.deploys import Deploy, Status
from deployd.web.render import Format

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
STEP = DeployEvent("container_created", "Created web", container="web", time=WHEN)


def finished(ok: bool, message: str) -> Deploy:
    deploy = Deploy(
        id="0123456789abcdef",
        plan=DeployPlan(("web",), Action.RECREATE, False),
        client="c",
        token="t",
    )
    deploy.events.append(STEP)
    deploy._finish(
        DeployResult(ok=ok, message=message, deployed=("web",) if ok else ())
    )

    return deploy


def test_accept_headers_choose_the_format() -> None:
    assert render.negotiate("") is Format.TEXT, "no Accept means text"
    assert render.negotiate("*/*") is Format.TEXT, "anything means text"
    assert render.negotiate("application/x-ndjson") is Format.NDJSON, "NDJSON"
    assert render.negotiate("text/event-stream") is Format.SSE, "SSE"
    assert render.negotiate("text/html, application/json;q=0.9") is Format.NDJSON, (
        "JSON counts as NDJSON"
    )


def test_a_text_line_is_an_rfc3339_utc_time_and_the_message() -> None:
    assert render.event(Format.TEXT, STEP, 0) == (
        b"2026-01-02T03:04:05.678Z Created web\n"
    ), "time with milliseconds and Z, one space, the message"


def test_warnings_and_errors_say_so_and_stay_on_one_line() -> None:
    warning = DeployEvent("x", "first\nsecond", level="warning", time=WHEN)

    assert render.event(Format.TEXT, warning, 0).endswith(
        b" Warning: first second\n"
    ), "a warning is marked and a multi-line message is joined"


def test_pull_progress_names_its_container() -> None:
    progress = DeployEvent(
        "pull_progress",
        "abc123: Downloading 40%",
        container="web",
        time=WHEN,
        data={"layer": "abc123", "status": "Downloading", "current": 4, "total": 10},
    )

    assert b" web: abc123: Downloading 40%" in render.event(Format.TEXT, progress, 0)
    body = json.loads(render.event(Format.NDJSON, progress, 0))
    assert body["data"]["current"] == 4, "NDJSON carries the numbers"


def test_the_last_text_line_starts_with_the_verdict() -> None:
    assert render.result(Format.TEXT, finished(True, "Deploy succeeded: web")) == (
        b"Deploy succeeded: web\n"
    ), "a success says so first"
    assert render.result(Format.TEXT, finished(False, "web broke")) == (
        b"Deploy failed: web broke\n"
    ), "a failure says so first, with the reason"


def test_ndjson_events_carry_time_event_and_container() -> None:
    body = json.loads(render.event(Format.NDJSON, STEP, 0))

    assert body == {
        "time": "2026-01-02T03:04:05.678Z",
        "event": "container_created",
        "level": "info",
        "message": "Created web",
        "container": "web",
    }, "one JSON object per event"


def test_the_ndjson_result_says_ok_and_why() -> None:
    body = json.loads(render.result(Format.NDJSON, finished(False, "Deploy failed: x")))

    assert body["event"] == "result", "the last object is the result"
    assert body["ok"] is False, "it says whether the deploy succeeded"
    assert body["status"] == Status.FAILED.value, "and the status"
    assert body["message"] == "Deploy failed: x", "and why"


def test_sse_frames_name_the_event_and_carry_json() -> None:
    frame = render.event(Format.SSE, STEP, 7).decode()

    assert frame.startswith("id: 7\nevent: container_created\ndata: {"), "SSE fields"
    assert frame.endswith("\n\n"), "a blank line ends the frame"
    assert json.loads(frame.split("data: ", 1)[1])["container"] == "web", "JSON data"
    assert render.SSE_KEEPALIVE.startswith(b":"), "keep-alive is an SSE comment"


def test_the_lag_notice_points_at_the_whole_log() -> None:
    deploy = finished(True, "Deploy succeeded: web")
    url = "https://d.example/v1/deploys/0123456789abcdef/log"

    assert url.encode() in render.lagged(Format.TEXT, deploy, url), "text notice"
    assert json.loads(render.lagged(Format.NDJSON, deploy, url))["log_url"] == url
