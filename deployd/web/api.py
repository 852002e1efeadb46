"""The deploy API: start a deploy with a token, follow its log, ask how it went.

Every check happens before a deploy is accepted, and each refusal is one
line that never repeats the token: 401 for a missing, malformed, foreign,
expired or revoked token, 400 for claims that do not describe a deploy, 404
for a container that does not exist, 403 for one deployd will not touch, 429
for a client that failed too often, 503 while the engine cannot be used. An
accepted deploy is answered 200 at once and its log streamed as it runs.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import structlog
from aiohttp import web

from ..deploy import DeployPlan
from ..errors import (
    ClaimsInvalid,
    ConfigError,
    DeployRefused,
    EngineError,
    EngineUnreachable,
    NotFound,
    TokenBadSignature,
    TokenError,
    TokenExpired,
    TokenMalformed,
    TokenRevoked,
)
from ..tokens import Claims
from . import render
from .deploys import Deploy, Follower
from .guard import token_from
from .pages import engine_problem
from .render import Format
from .state import CLIENT, REASON, STREAM, Services, services

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A stream that stays silent this long gets a keep-alive (SSE only).
KEEPALIVE_SECONDS = 15.0
DEPLOY_ID = "{deploy_id:[0-9a-f]{16}}"
# What a 503 asks the caller to wait before it tries again.
RETRY_SECONDS = 5
_TOKEN_KINDS: dict[type[TokenError], str] = {
    TokenMalformed: "malformed token",
    TokenBadSignature: "wrongly signed token",
    TokenExpired: "expired token",
    TokenRevoked: "revoked token",
}
_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    429: web.HTTPTooManyRequests,
    500: web.HTTPInternalServerError,
    503: web.HTTPServiceUnavailable,
}


def add_routes(router: web.UrlDispatcher) -> None:
    """Add the /v1 endpoints to ``router``."""
    router.add_post("/v1/deploy", post_deploy)
    router.add_get(f"/v1/deploys/{DEPLOY_ID}", get_deploy)
    router.add_get(f"/v1/deploys/{DEPLOY_ID}/log", get_log)


async def post_deploy(request: web.Request) -> web.StreamResponse:
    """Check the token and the containers, start the deploy, stream its log."""
    state = services(request)
    claims = authenticate(request, state)
    if state.closing:
        refuse(
            request,
            503,
            "deployd is shutting down; send the deploy again in a moment",
            reason="ShuttingDown",
            headers={"Retry-After": str(RETRY_SECONDS)},
        )
    if not state.recovered.is_set():
        refuse(
            request,
            503,
            await _not_ready(state),
            reason="NotReady",
            headers={"Retry-After": str(RETRY_SECONDS)},
        )
    plan = DeployPlan(claims.containers, claims.action, claims.cleanup)
    await _check(request, state, plan)
    deploy, joined = state.deploys.start(
        plan, client=request[CLIENT], token=claims.fingerprint
    )
    log.info(
        "deploy_joined" if joined else "deploy_accepted",
        deploy_id=deploy.id,
        containers=list(plan.containers),
        action=plan.action.slug,
        cleanup=plan.cleanup,
    )

    return await respond(request, deploy)


async def get_deploy(request: web.Request) -> web.Response:
    """Return what is known of one deploy, as JSON."""
    deploy = _find(request)

    return web.json_response(describe(deploy))


async def get_log(request: web.Request) -> web.StreamResponse:
    """Stream one deploy's log from its start, following it until it ends."""
    return await respond(request, _find(request))


def authenticate(request: web.Request, state: Services) -> Claims:
    """Return the claims of the request's token; refuse the request otherwise.

    Raises an HTTP 401 or 400 error, or 429 while the client is blocked.
    Failed authentications count towards the client's limit; a blocked
    client's token is still checked, and a valid one let through, because
    CI runners share addresses and one bad actor must not stop the others.
    """
    token = token_from(request)
    if token is None:
        _failed(
            request,
            state,
            401,
            "missing token: send it in the X-Deploy-Token header",
            reason="TokenMissing",
        )
    if token in state.refused:
        _slow_down_if_blocked(request, state)
    try:
        claims = state.tokens.verify(token)
    except ClaimsInvalid as exc:
        refuse(request, 400, f"invalid claims: {exc.message}", reason="ClaimsInvalid")
    except TokenError as exc:
        state.refused.add(token)
        kind = _TOKEN_KINDS.get(type(exc), "refused token")
        _failed(
            request, state, 401, f"{kind}: {exc.message}", reason=type(exc).__name__
        )
    except ConfigError as exc:
        log.error("token_check_failed", reason=exc.message)
        refuse(request, 500, f"deployd cannot check tokens now: {exc.message}")
    structlog.contextvars.bind_contextvars(
        token=claims.fingerprint,
        containers=list(claims.containers),
        action=claims.action.slug,
    )

    return claims


def _failed(
    request: web.Request, state: Services, status: int, message: str, *, reason: str
) -> NoReturn:
    """Refuse a failed authentication: 429 while its client is blocked, else 401."""
    _slow_down_if_blocked(request, state)
    state.limiter.fail(request[CLIENT])
    refuse(request, status, message, reason=reason)


def _slow_down_if_blocked(request: web.Request, state: Services) -> None:
    """Refuse the request 429 while its client is blocked; return otherwise."""
    client = request[CLIENT]
    wait = math.ceil(state.limiter.blocked_for(client))
    if wait > 0:
        refuse(
            request,
            429,
            f"too many failed authentications from {client}; try again in {wait} s",
            reason="rate_limited",
            headers={"Retry-After": str(wait)},
        )


def refuse(
    request: web.Request,
    status: int,
    message: str,
    *,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> NoReturn:
    """Raise the HTTP error ``status`` with a one-line ``message`` as its body."""
    request[REASON] = reason or message
    raise _ERRORS[status](
        text=f"Error: {' '.join(message.splitlines())}\n", headers=headers
    )


async def _check(request: web.Request, state: Services, plan: DeployPlan) -> None:
    try:
        await state.deployer.check(plan)
    except NotFound as exc:
        refuse(request, 404, exc.message, reason="ContainerNotFound")
    except DeployRefused as exc:
        refuse(request, 403, exc.message, reason="DeployRefused")
    except EngineUnreachable as exc:
        refuse(request, 503, exc.message, reason="EngineUnreachable")
    except EngineError as exc:
        refuse(
            request,
            503,
            f"the Docker engine failed to describe the containers: {exc.message}",
            reason="EngineError",
        )


async def _not_ready(state: Services) -> str:
    """Return why deploys must wait: the engine, the last run's swaps, or both."""
    problem = await engine_problem(state.docker)
    pending = ", ".join(sorted({e.name for e in state.deployer.journal.entries()}))
    if problem and pending:
        return (
            f"{problem}; once it answers, deployd first puts back the containers "
            f"its last run left half-swapped ({pending}), then takes deploys"
        )
    if problem:
        return problem
    if pending:
        return (
            "deployd is putting back the containers its last run left "
            f"half-swapped ({pending}); send the deploy again in a few seconds"
        )

    return "deployd is connecting to the Docker engine; send the deploy again soon"


def _find(request: web.Request) -> Deploy:
    state = services(request)
    claims = authenticate(request, state)
    deploy_id = request.match_info["deploy_id"]
    deploy = state.deploys.get(deploy_id)
    if deploy is None or not set(deploy.plan.containers) <= set(claims.containers):
        refuse(
            request,
            404,
            f"no deploy {deploy_id} that this token may see; deployd remembers "
            "its most recent deploys only",
            reason="DeployNotFound",
        )

    return deploy


def describe(deploy: Deploy) -> dict[str, Any]:
    """Return the JSON description of a deploy that GET /v1/deploys/{id} answers."""
    result = deploy.result
    times = {
        "created_at": deploy.created_at,
        "started_at": deploy.started_at,
        "finished_at": deploy.finished_at,
    }

    body: dict[str, Any] = {
        "id": deploy.id,
        "status": deploy.status.value,
        "containers": list(deploy.plan.containers),
        "action": deploy.plan.action.slug,
        "action_code": int(deploy.plan.action),
        "cleanup": deploy.plan.cleanup,
        **{key: render.stamp(value) if value else None for key, value in times.items()},
        "message": deploy.message,
        "deployed": list(result.deployed) if result else [],
        "failed": list(result.failed) if result else [],
        "untouched": list(result.untouched) if result else [],
        "events": len(deploy.events),
    }
    if not deploy.log_kept:
        body["log"] = "not kept across restarts"

    return body


async def respond(request: web.Request, deploy: Deploy) -> web.StreamResponse:
    """Answer with the deploy's log: streamed, or whole once it ends (?stream=false)."""
    fmt = render.negotiate(request.headers.get("Accept", ""))
    if request.query.get("stream", "").lower() in ("false", "0", "no"):
        return await _whole(deploy, fmt)

    return await _stream(request, deploy, fmt)


async def _whole(deploy: Deploy, fmt: Format) -> web.Response:
    await deploy.wait()
    lines = [render.event(fmt, item, seq) for seq, item in enumerate(deploy.events)]
    lines.append(render.result(fmt, deploy))
    ok = deploy.result is not None and deploy.result.ok

    return web.Response(
        status=200 if ok else 500,
        body=b"".join(lines),
        headers={"Content-Type": fmt.content_type, "X-Deploy-Id": deploy.id},
    )


async def _stream(
    request: web.Request, deploy: Deploy, fmt: Format
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": fmt.content_type,
            "X-Deploy-Id": deploy.id,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    request[STREAM] = response
    follower = deploy.follow()
    try:
        await response.prepare(request)
        await _copy(response, follower, fmt)
        if follower.lagged:
            log_url = f"{services(request).settings.url}/v1/deploys/{deploy.id}/log"
            await response.write(render.lagged(fmt, deploy, log_url))
            await deploy.wait()
        await response.write(render.result(fmt, deploy))
        await response.write_eof()
    except ConnectionResetError:
        log.info("deploy_reader_left", deploy_id=deploy.id)
    finally:
        deploy.unfollow(follower)

    return response


async def _copy(response: web.StreamResponse, follower: Follower, fmt: Format) -> None:
    seq = 0
    while True:
        try:
            item = await follower.next(KEEPALIVE_SECONDS)
        except StopAsyncIteration:
            return
        if item is None:
            if fmt is Format.SSE:
                await response.write(render.SSE_KEEPALIVE)
            continue
        await response.write(render.event(fmt, item, seq))
        seq += 1
