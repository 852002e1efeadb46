"""The HTTP API in process, against the sandbox engine: refusals, streams, reads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pyseto
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner
from structlog.testing import capture_logs

from deployd.config import Settings
from deployd.deploy.journal import Entry, Journal
from deployd.tokens import Action, Claims, Tokens
from deployd.tokens.keys import load_or_create
from deployd.web.app import create_app
from deployd.web.protocol import LIMITS, Runner
from deployd.web.server import build_services
from deployd.web.state import Services
from tests.factories import ContainerFactory, ImageFactory, StartedContainer
from tests.sandbox import Sandbox

# Long enough that a deploy's first line and its end are far apart.
START_WAIT = 2.0
PUBLIC_URL = "https://deployd.example"


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    state: Services

    @property
    def tokens(self) -> Tokens:
        return self.state.tokens

    def mint(
        self, *names: str, action: Action = Action.RECREATE, cleanup: bool = False
    ) -> str:
        token, _ = self.tokens.mint(names, action, cleanup, None)
        return token

    async def deploy(
        self, token: str, *, query: str = "", accept: str = "text/plain"
    ) -> ClientResponse:
        return await self.client.post(
            f"/v1/deploy{query}", headers={"X-Deploy-Token": token, "Accept": accept}
        )


class DeploydTestServer(TestServer):
    """aiohttp's test server, serving through the daemon's own runner."""

    async def _make_runner(self, **kwargs: object) -> BaseRunner:
        return Runner(self.app, **kwargs)  # type: ignore[arg-type]


def client_for(state: Services) -> TestClient[web.Request, web.Application]:
    """Return a client of the app for ``state``, served as the daemon serves it."""
    return TestClient(DeploydTestServer(create_app(state), host="127.0.0.1", **LIMITS))


async def serve(settings: Settings) -> AsyncIterator[Api]:
    state = build_services(settings)
    state.recovered.set()
    client = client_for(state)
    await client.start_server()
    try:
        yield Api(client, state)
    finally:
        await client.close()
        await state.deploys.drain(30)
        await state.close()


def settings_for(sandbox: Sandbox, data_dir: Path) -> Settings:
    return Settings(
        url=PUBLIC_URL,
        url_set=True,
        data_dir=data_dir,
        docker_host=sandbox.docker_host,
        start_wait=START_WAIT,
        health_timeout=20,
    )


@pytest.fixture
async def api(sandbox: Sandbox, data_dir: Path) -> AsyncIterator[Api]:
    async for served in serve(settings_for(sandbox, data_dir)):
        yield served


@pytest.fixture
def container(
    image_factory: ImageFactory, container_factory: ContainerFactory
) -> StartedContainer:
    return container_factory(image_factory())


def auth(token: str) -> dict[str, str]:
    return {"X-Deploy-Token": token}


def container_id(sandbox: Sandbox, name: str) -> str:
    return sandbox.cli("inspect", "-f", "{{.Id}}", name).stdout.strip()


async def refusal(response: ClientResponse) -> str:
    text = await response.text()
    assert text.startswith("Error: ") and text.count("\n") == 1, (
        "a refusal is one line that starts with Error:"
    )

    return text


# Refusals before any work


async def test_a_request_without_a_token_is_401(api: Api) -> None:
    response = await api.client.post("/v1/deploy")

    assert response.status == 401, "no token, no deploy"
    assert "missing token" in await refusal(response), "the message says what is wrong"


@pytest.mark.parametrize(
    "token", ["nonsense", "v4.public.abc", "v4.public.ab!cd" * 20, "v2.local.xyz"]
)
async def test_a_malformed_token_is_401_and_never_echoed(api: Api, token: str) -> None:
    response = await api.deploy(token)
    text = await refusal(response)

    assert response.status == 401, "a malformed token is refused"
    assert "malformed token" in text, "the message says it is malformed"
    assert token not in text, "the token is not repeated"


async def test_a_token_signed_by_another_key_is_401_wrongly_signed(
    api: Api, tmp_path: Path, container: StartedContainer
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    token, _ = Tokens(other).mint([container.name], Action.RECREATE, False, None)
    response = await api.deploy(token)
    text = await refusal(response)

    assert response.status == 401, "a foreign token is refused"
    assert "wrongly signed token" in text, "the message says it is wrongly signed"
    assert token not in text, "the token is not repeated"


async def test_an_expired_token_is_401_expired(
    api: Api, container: StartedContainer
) -> None:
    token, _ = api.tokens.mint(
        [container.name], Action.RESTART, False, timedelta(milliseconds=5)
    )
    await asyncio.sleep(0.05)
    response = await api.deploy(token)

    assert response.status == 401, "an expired token is refused"
    assert "expired token" in await refusal(response), "the message says expired"


async def test_a_revoked_token_is_401_revoked(
    api: Api, container: StartedContainer
) -> None:
    token = api.mint(container.name, action=Action.RESTART)
    api.tokens.revoke(token)
    response = await api.deploy(token)

    assert response.status == 401, "a revoked token is refused"
    assert "revoked token" in await refusal(response), "the message says revoked"


async def test_claims_that_describe_no_deploy_are_400(api: Api, data_dir: Path) -> None:
    payload = json.dumps({"containerNames": [], "action": 7}).encode()
    token = bytes(pyseto.encode(load_or_create(data_dir).secret, payload)).decode()
    response = await api.deploy(token)

    assert response.status == 400, "a genuine token with unusable claims is a 400"
    assert "invalid claims" in await refusal(response), "the message says claims"


async def test_an_unknown_container_is_404(api: Api) -> None:
    response = await api.deploy(api.mint("deployd-test-does-not-exist"))

    assert response.status == 404, "a container that does not exist is a 404"
    assert "deployd-test-does-not-exist" in await refusal(response), "it is named"


async def test_the_container_deployd_runs_in_is_403(
    api: Api, sandbox: Sandbox, container: StartedContainer
) -> None:
    api.state.deployer.own_id = container_id(sandbox, container.name)
    response = await api.deploy(api.mint(container.name))

    assert response.status == 403, "deployd refuses to replace itself"
    assert container.name in await refusal(response), "the container is named"


async def test_a_client_that_keeps_failing_gets_429_with_retry_after(api: Api) -> None:
    statuses = [(await api.deploy("v4.public.bad")).status for _ in range(12)]
    response = await api.deploy("v4.public.bad")

    assert statuses[:9] == [401] * 9, "the first failures are answered 401"
    assert statuses[-1] == 429, "past the limit the client is told to slow down"
    assert int(response.headers["Retry-After"]) > 0, "and for how long"
    assert "too many failed authentications" in await refusal(response), "and why"


async def test_a_blocked_address_still_gets_its_valid_tokens_through(
    api: Api, container: StartedContainer
) -> None:
    for _ in range(12):
        await api.deploy("v4.public.bad")
    token = api.mint(container.name, action=Action.RESTART)
    valid = [
        (await api.client.get(f"/v1/deploys/{n:016x}", headers=auth(token))).status
        for n in range(20)
    ]
    deploy = await api.deploy(token, query="?stream=false")
    missing = await api.client.post("/v1/deploy")
    bad = await api.deploy("v4.public.bad")

    assert valid == [404] * 20, "valid tokens pass a blocked address, uncounted"
    assert deploy.status == 200, "and deploy"
    assert "Deploy succeeded" in await deploy.text(), "to the end"
    assert missing.status == 429, "a request without a token is still slowed down"
    assert bad.status == 429, "and so is a bad token"


async def test_a_blocked_client_repeating_a_refused_token_skips_the_check(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(12):
        await api.deploy("v4.public.bad")
    checks = 0
    verify = api.state.tokens.verify

    def counted(token: str) -> Claims:
        nonlocal checks
        checks += 1
        return verify(token)

    monkeypatch.setattr(api.state.tokens, "verify", counted)
    statuses = {(await api.deploy("v4.public.bad")).status for _ in range(20)}

    assert statuses == {429}, "the blocked client is slowed down"
    assert checks == 0, "without checking a token already refused"


async def test_a_request_that_breaks_unexpectedly_is_a_one_line_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(token: str) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(api.state.tokens, "verify", broken)
    response = await api.deploy("v4.public.x")
    text = await refusal(response)

    assert response.status == 500, "an unexpected exception is a 500"
    assert "internal detail" not in text and "Traceback" not in text, (
        "no exception text or stack trace reaches the client"
    )


async def test_an_oversized_header_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/v1/deploy", headers={"X-Deploy-Token": "v4.public." + "A" * 20_000}
    )

    assert 400 <= response.status < 500, "a huge header is a client error"


# Accepted deploys


async def test_the_text_stream_starts_long_before_the_deploy_ends(
    api: Api, sandbox: Sandbox, container: StartedContainer
) -> None:
    old_id = container_id(sandbox, container.name)
    started = time.monotonic()
    response = await api.deploy(api.mint(container.name))
    first = await response.content.readline()
    first_at = time.monotonic() - started
    rest = (await response.read()).decode().splitlines()
    total = time.monotonic() - started

    assert response.status == 200, "an accepted deploy is answered 200"
    assert len(response.headers["X-Deploy-Id"]) == 16, "the deploy id is a header"
    assert first_at < 1.0 and total >= START_WAIT, (
        f"the first line came after {first_at:.2f} s of a {total:.2f} s deploy"
    )
    assert first.decode()[:4].isdigit() and b"Z " in first, "lines start with a time"
    assert rest[-1].startswith("Deploy succeeded"), "the last line is the verdict"
    assert container_id(sandbox, container.name) != old_id, "the container is new"


async def test_ndjson_carries_every_event_and_a_result(
    api: Api, container: StartedContainer
) -> None:
    response = await api.deploy(
        api.mint(container.name, action=Action.RESTART), accept="application/x-ndjson"
    )
    objects = [json.loads(line) for line in (await response.text()).splitlines()]

    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    assert all("time" in item and "event" in item for item in objects), (
        "every object has a time and an event"
    )
    assert any(item.get("container") == container.name for item in objects), (
        "container events name their container"
    )
    assert objects[-1]["event"] == "result" and objects[-1]["ok"] is True, (
        "the last object is a successful result"
    )


async def test_server_sent_events_carry_the_same_events(
    api: Api, container: StartedContainer
) -> None:
    response = await api.deploy(
        api.mint(container.name, action=Action.RESTART), accept="text/event-stream"
    )
    frames = [frame for frame in (await response.text()).split("\n\n") if frame]
    names = [frame.split("event: ", 1)[1].split("\n", 1)[0] for frame in frames]

    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert names[0] == "deploy_started" and names[-1] == "result", "SSE event names"
    assert json.loads(frames[-1].split("data: ", 1)[1])["ok"] is True, "JSON data"


async def test_stream_false_answers_the_whole_log_with_200_on_success(
    api: Api, container: StartedContainer
) -> None:
    token = api.mint(container.name, action=Action.RESTART)
    response = await api.client.post(
        "/v1/deploy?stream=false", headers={"Authorization": f"Bearer {token}"}
    )
    lines = (await response.text()).splitlines()

    assert response.status == 200, "a successful deploy is a 200, as the original"
    assert lines[-1].startswith("Deploy succeeded"), "the whole log, verdict last"
    assert len(lines) >= 3, "with every step before it"


async def test_stream_false_answers_500_when_the_deploy_fails(
    api: Api, image_factory: ImageFactory, container_factory: ContainerFactory
) -> None:
    local_only = container_factory(image_factory(push=False))
    token = api.mint(local_only.name, action=Action.PULL_AND_RECREATE)
    response = await api.deploy(token, query="?stream=false")
    lines = (await response.text()).splitlines()

    assert response.status == 500, "a failed deploy is a 500, as the original"
    assert lines[-1].startswith("Deploy failed"), "the reason comes last"
    assert "pull failed" in lines[-1], "and names the step"


async def test_a_client_that_drops_mid_stream_leaves_the_deploy_running(
    api: Api, sandbox: Sandbox, container: StartedContainer
) -> None:
    old_id = container_id(sandbox, container.name)
    token = api.mint(container.name)
    response = await api.deploy(token)
    deploy_id = response.headers["X-Deploy-Id"]
    await response.content.readline()
    response.close()

    status: dict[str, object] = {}
    async with asyncio.timeout(START_WAIT + 30):
        while status.get("status") not in ("succeeded", "failed"):
            await asyncio.sleep(0.2)
            answer = await api.client.get(
                f"/v1/deploys/{deploy_id}", headers={"X-Deploy-Token": token}
            )
            status = await answer.json()

    assert status["status"] == "succeeded", "the deploy finished without its caller"
    assert status["containers"] == [container.name], "the record names the container"
    assert status["action"] == "recreate" and status["finished_at"], "and how and when"
    assert container_id(sandbox, container.name) != old_id, "the container was replaced"


async def test_the_log_of_a_deploy_can_be_read_again_from_the_start(
    api: Api, container: StartedContainer
) -> None:
    token = api.mint(container.name, action=Action.RESTART)
    first = await api.deploy(token)
    original = await first.text()
    again = await api.client.get(
        f"/v1/deploys/{first.headers['X-Deploy-Id']}/log",
        headers={"X-Deploy-Token": token},
    )

    assert await again.text() == original, "the log endpoint replays the same log"


async def test_a_deploy_is_only_shown_to_tokens_that_cover_its_containers(
    api: Api, container: StartedContainer, container_factory: ContainerFactory
) -> None:
    response = await api.deploy(api.mint(container.name, action=Action.RESTART))
    await response.read()
    path = f"/v1/deploys/{response.headers['X-Deploy-Id']}"
    other = api.mint(container_factory(container.image).name)

    unrelated = await api.client.get(path, headers={"X-Deploy-Token": other})
    anonymous = await api.client.get(path)
    unknown = await api.client.get(
        "/v1/deploys/0000000000000000", headers={"X-Deploy-Token": other}
    )

    assert unrelated.status == 404, "a token for other containers does not see it"
    assert anonymous.status == 401, "a request without a token is refused"
    assert unknown.status == 404, "an unknown id is a 404"


# The pages around the API


async def test_the_helper_scripts_and_index_page_carry_the_public_url(api: Api) -> None:
    script = await (await api.client.get("/s")).text()
    pwsh = await (await api.client.get("/pwsh")).text()
    index = await api.client.get("/")

    assert f'base_url="{PUBLIC_URL}"' in script, "the bash helper knows the URL"
    assert 'timeout="${DEPLOYD_TIMEOUT:-300}"' in script, "and SCRIPT_TIMEOUT"
    assert f"{PUBLIC_URL}/v1/deploy?stream=false" in pwsh, "so does the PowerShell one"
    assert "-TimeoutSec 300" in pwsh, "with the timeout"
    assert index.content_type == "text/html", "the index page is HTML"
    assert f"{PUBLIC_URL}/s" in await index.text(), "and shows how to call it"


async def test_robots_txt_keeps_crawlers_out(api: Api) -> None:
    text = await (await api.client.get("/robots.txt")).text()

    assert "Disallow: /" in text, "robots are asked to stay away"


async def test_a_disabled_index_page_is_204(sandbox: Sandbox, data_dir: Path) -> None:
    settings = replace(settings_for(sandbox, data_dir), disable_index_page=True)
    async for served in serve(settings):
        response = await served.client.get("/")
        assert response.status == 204, "DISABLE_INDEX_PAGE answers 204"


async def test_cors_allows_any_origin_and_the_token_header(api: Api) -> None:
    response = await api.client.options(
        "/v1/deploy",
        headers={
            "Origin": "https://ci.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-deploy-token",
        },
    )

    assert response.status == 204, "a preflight is answered 204"
    assert response.headers["Access-Control-Allow-Origin"] == "*", "any origin"
    assert "X-Deploy-Token" in response.headers["Access-Control-Allow-Headers"]
    assert "X-Deploy-Id" in response.headers["Access-Control-Expose-Headers"]


async def test_an_oversized_header_is_431_in_one_line_that_repeats_none_of_it(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with capture_logs() as logged:
        for _ in range(30):
            response = await api.client.post(
                "/v1/deploy", headers={"X-Deploy-Token": "a" * 20_000}
            )
            text = await refusal(response)
            assert response.status == 431, "a header over the limit is refused"

    assert "8190 bytes" in text, "the message says what the limit is"
    assert "aaa" not in text, "and repeats nothing of the request"
    assert response.headers["Access-Control-Allow-Origin"] == "*", "CORS as always"
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")], (
        "aiohttp logs no traceback for it"
    )
    rejected = [line for line in logged if line["event"] == "request_rejected"]
    assert len(rejected) == 1, "30 such requests from one client log one line"
    assert rejected[0]["status"] == 431 and rejected[0]["reason"] == "HeaderTooLarge"


async def test_bytes_that_are_not_http_get_a_400_line(api: Api) -> None:
    assert api.client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", api.client.port)
    writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n")
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")

    assert head.split(b" ")[1] == b"400", "garbage is a bad request"
    assert body.startswith(b"Error: this is not an HTTP request"), "said in one line"
    assert b"hello" not in body, "repeating nothing of what was sent"


async def test_a_preflight_on_a_deploy_path_is_204(api: Api) -> None:
    response = await api.client.options(
        "/v1/deploys/0123456789abcdef/log",
        headers={
            "Origin": "https://ci.example",
            "Access-Control-Request-Method": "GET",
        },
    )

    assert response.status == 204, "every endpoint answers a preflight"
    assert response.headers["Access-Control-Allow-Origin"] == "*", "for any origin"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing"),
        ("GET", "/v1/deploys/nonexist/log"),
        ("POST", "/v2/deploy"),
        ("OPTIONS", "/nowhere"),
    ],
)
async def test_an_unknown_path_is_404_in_one_line(
    api: Api, method: str, path: str
) -> None:
    response = await api.client.request(method, path)

    assert response.status == 404, "a path no endpoint serves is not found"
    assert "no such endpoint" in await refusal(response), "the message says so"
    assert "Allow" not in response.headers, "and offers no methods"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/deploy", "POST"),
        ("GET", "/v1/deploy", "POST"),
        ("DELETE", "/v1/deploys/0123456789abcdef", "GET,HEAD"),
        ("POST", "/healthz", "GET,HEAD"),
    ],
)
async def test_a_method_the_path_does_not_take_is_405_with_allow(
    api: Api, method: str, path: str, allowed: str
) -> None:
    response = await api.client.request(method, path)
    text = await refusal(response)

    assert response.status == 405, "a known path with a wrong method is 405"
    assert response.headers["Allow"] == allowed, "Allow names the methods it takes"
    assert f"does not take {method}" in text, "the message names the method"
    assert response.headers["Access-Control-Allow-Origin"] == "*", "CORS as always"


async def test_before_recovery_a_deploy_hears_the_engine_is_unreachable(
    sandbox: Sandbox, data_dir: Path, tmp_path: Path
) -> None:
    settings = replace(
        settings_for(sandbox, data_dir), docker_host=f"unix://{tmp_path}/none.sock"
    )
    async for served in serve(settings):
        served.state.recovered.clear()
        response = await served.deploy(served.mint("web"))
        text = await refusal(response)

    assert response.status == 503, "no engine, no deploy for now"
    assert f"{tmp_path}/none.sock" in text, "the message names the socket"
    assert "start dockerd" in text, "and what to do"
    assert "half" not in text, "an empty journal is not called half-done deploys"
    assert response.headers["Retry-After"] == "5", "the caller is told when to retry"


async def test_before_recovery_a_deploy_hears_which_swaps_wait_for_repair(
    sandbox: Sandbox, data_dir: Path, tmp_path: Path
) -> None:
    Journal(data_dir).open(Entry("web", "0" * 64, was_running=True))
    settings = replace(
        settings_for(sandbox, data_dir), docker_host=f"unix://{tmp_path}/none.sock"
    )
    async for served in serve(settings):
        served.state.recovered.clear()
        text = await refusal(await served.deploy(served.mint("api")))

    assert "none.sock" in text, "the engine is named"
    assert "half-swapped (web)" in text, "and the container left half-swapped"


async def test_healthz_is_200_while_the_engine_answers(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert response.status == 200, "a live engine is healthy"
    assert (await response.json())["status"] == "ok", "and says so"


async def test_healthz_is_503_with_the_reason_without_an_engine(
    sandbox: Sandbox, data_dir: Path, tmp_path: Path
) -> None:
    settings = replace(
        settings_for(sandbox, data_dir), docker_host=f"unix://{tmp_path}/none.sock"
    )
    async for served in serve(settings):
        response = await served.client.get("/healthz")
        body = await response.json()
        assert response.status == 503, "no engine, not healthy"
        assert "none.sock" in body["reason"], "the reason names the socket"
