"""Hostile input at the deploy endpoint: any token and headers get a 4xx, never 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployd.tokens import Action
from deployd.web.guard import FailureLimiter
from tests.sandbox import Sandbox
from tests.test_web_api import Api, serve, settings_for

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HEADER_TEXT = st.text(alphabet=PRINTABLE, max_size=300)
REFUSALS = {400, 401, 404, 429}
# A genuine token for a container that does not exist: when a mutation leaves
# it intact the answer is a 404 and nothing is deployed.
MISSING = "deployd-test-never-there"


@pytest.fixture
async def api(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    data_dir = tmp_path_factory.mktemp("data")
    async for served in serve(settings_for(sandbox, data_dir)):
        yield served


@st.composite
def mutated(draw: st.DrawFn, token: str) -> str:
    """Return ``token`` with one random edit: a changed, dropped or added run."""
    start = draw(st.integers(0, len(token)))
    end = draw(st.integers(start, min(len(token), start + 8)))
    inserted = draw(st.text(alphabet=PRINTABLE, max_size=8))

    return token[:start] + inserted + token[end:]


def headers_with(token: str, how: str, accept: str) -> dict[str, str]:
    headers = {"Accept": accept}
    if how == "x-deploy-token":
        headers["X-Deploy-Token"] = token
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["Authorization"] = token

    return headers


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.data(),
    how=st.sampled_from(["x-deploy-token", "bearer", "raw"]),
    accept=st.one_of(
        st.sampled_from(["text/event-stream", "application/x-ndjson"]), HEADER_TEXT
    ),
    query=st.sampled_from(["", "?stream=false", "?stream=" + "x" * 50]),
)
async def test_random_and_mutated_tokens_are_always_refused_with_a_4xx(
    api: Api, data: st.DataObject, how: str, accept: str, query: str
) -> None:
    genuine, _ = api.tokens.mint([MISSING], Action.RESTART, False, None)
    token = data.draw(st.one_of(HEADER_TEXT, mutated(genuine)), label="token")
    api.state.limiter = FailureLimiter()

    response = await api.client.post(
        f"/v1/deploy{query}", headers=headers_with(token, how, accept)
    )
    text = await response.text()

    assert response.status in REFUSALS, f"answered {response.status}: {text!r}"
    assert len(token.strip()) < 12 or token.strip() not in text, (
        "the token is not echoed"
    )
    assert "Traceback" not in text, "no stack trace reaches the client"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.text(alphabet=st.sampled_from("abcXYZ-_"), min_size=1, max_size=20),
    value=HEADER_TEXT,
)
async def test_random_extra_headers_never_break_a_request(
    api: Api, name: str, value: str
) -> None:
    response = await api.client.post(
        "/v1/deploy", headers={f"X-{name}": value, "X-Forwarded-For": value}
    )

    assert 400 <= response.status < 500, f"answered {response.status}"
