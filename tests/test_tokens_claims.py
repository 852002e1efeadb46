"""Claims: the payload in the original tool's form, and what a deploy may ask for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployd.errors import ClaimsInvalid
from deployd.tokens import Action
from deployd.tokens.claims import (
    build_payload,
    digest,
    format_time,
    parse_claims,
    parse_time,
)

MOMENT = datetime(2026, 12, 3, 15, 47, 10, 436000, tzinfo=UTC)


def payload(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "containerNames": ["web"],
        "action": 0,
        "cleanup": True,
        "iat": "2026-12-03T15:47:10.436Z",
    }
    base.update(changes)

    return {key: value for key, value in base.items() if value is not None}


def test_format_time_writes_javascript_to_iso_string_form() -> None:
    assert format_time(MOMENT) == "2026-12-03T15:47:10.436Z", "millis and Z expected"


def test_format_time_converts_other_offsets_to_utc() -> None:
    local = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))

    assert format_time(local) == "2026-12-03T15:47:10.436Z", "must be written in UTC"


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-03T15:47:10.436Z",
        "2026-12-03T15:47:10.436000Z",
        "2026-12-03T15:47:10.436123456Z",
        "2026-12-03t15:47:10.436z",
        "2026-12-03 15:47:10.436Z",
        "2026-12-03T16:47:10.436+01:00",
        "2026-12-03T10:17:10.436-05:30",
        "2026-12-03T15:47:10.436+00:00",
    ],
)
def test_parse_time_reads_every_rfc3339_form(text: str) -> None:
    assert parse_time(text) - MOMENT < timedelta(milliseconds=1), f"{text} misread"


def test_parse_time_reads_times_without_fraction_and_leap_seconds() -> None:
    assert parse_time("2026-12-03T15:47:10Z") == MOMENT.replace(microsecond=0)
    assert parse_time("2016-12-31T23:59:60Z") == datetime(
        2016, 12, 31, 23, 59, 59, tzinfo=UTC
    ), "a leap second should read as the last second of its minute"


@pytest.mark.parametrize(
    "text",
    ["2026-12-03", "2026-12-03T15:47:10", "2026-13-03T15:47:10Z", "1733241230", ""],
)
def test_parse_time_refuses_what_rfc3339_does_not_allow(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 1)))
def test_written_times_read_back_to_the_millisecond(moment: datetime) -> None:
    read = parse_time(format_time(moment))

    assert read == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_build_payload_uses_the_original_keys_and_omits_exp_for_never() -> None:
    built = build_payload(["web"], Action.RESTART, False, MOMENT, None, "abc")

    assert built == {
        "containerNames": ["web"],
        "action": 2,
        "cleanup": False,
        "iat": "2026-12-03T15:47:10.436Z",
        "jti": "abc",
    }, "payload keys must be the original tool's, without exp"


def test_parse_claims_reads_a_payload_without_jti_as_the_original_wrote_it() -> None:
    claims = parse_claims(payload(exp="2026-12-04T15:47:10.436Z"), "v4.public.x")

    assert claims.containers == ("web",)
    assert claims.action is Action.PULL_AND_RECREATE
    assert claims.cleanup is True
    assert claims.issued_at == MOMENT
    assert claims.expires_at == MOMENT + timedelta(days=1)
    assert claims.token_id is None, "the original's tokens carry no id"
    assert claims.fingerprint == digest("v4.public.x")[:12], "fingerprint from digest"


def test_parse_claims_ignores_unknown_claims_and_strips_the_leading_slash() -> None:
    claims = parse_claims(
        payload(containerNames=["/web", "db", "web"], kid="x", nbf="y"), "t"
    )

    assert claims.containers == ("web", "db"), "names normalised and de-duplicated"


def test_parse_claims_reads_a_missing_cleanup_as_false() -> None:
    claims = parse_claims(payload(action=1, cleanup=None), "t")

    assert claims.cleanup is False, "no cleanup claim means keep the image"


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"containerNames": []}, "no container"),
        ({"containerNames": None}, "no container"),
        ({"containerNames": "web"}, "^containerNames must be a list of container"),
        ({"containerNames": {"web": 1}}, "^containerNames must be a list"),
        ({"containerNames": ["-web"]}, "'-web' is not a Docker container name"),
        ({"containerNames": ["a b"]}, "'a b' is not a Docker container name"),
        ({"containerNames": [7]}, "7 is not a Docker container name"),
        ({"action": 3}, "action 3"),
        ({"action": "0"}, "action '0'"),
        ({"action": True}, "action True"),
        ({"action": None}, "action None"),
        ({"cleanup": "yes"}, "cleanup"),
        ({"iat": "yesterday"}, "iat"),
        ({"exp": 1733241230}, "exp"),
        ({"jti": 5}, "jti"),
    ],
)
def test_parse_claims_says_which_claim_is_invalid(
    changes: dict[str, Any], names: str
) -> None:
    with pytest.raises(ClaimsInvalid, match=names):
        parse_claims(payload(**changes), "t")


@pytest.mark.parametrize(
    ("action", "label", "slug"),
    [
        (Action.PULL_AND_RECREATE, "Pull and recreate", "pull-recreate"),
        (Action.RECREATE, "Recreate", "recreate"),
        (Action.RESTART, "Restart", "restart"),
    ],
)
def test_actions_have_labels_and_slugs_that_read_back(
    action: Action, label: str, slug: str
) -> None:
    assert action.label == label
    assert action.slug == slug
    assert Action.from_slug(slug) is action, "from_slug must invert slug"


def test_from_slug_names_the_choices_when_unknown() -> None:
    with pytest.raises(ValueError, match="pull-recreate, recreate, restart"):
        Action.from_slug("redeploy")
