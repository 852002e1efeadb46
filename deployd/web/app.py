"""The aiohttp application: routes, middlewares and the services they share.

``create_app`` wires the handlers of ``api`` and ``pages`` to a ``Services``
object. Three middlewares wrap every request: the outer one names the request
(an id bound into every log line it causes) and logs how it ended, summing
up bursts of rejections; the next turns an unexpected exception into a 500
with a one-line message, keeping the traceback for the log; the inner one
answers what the router could not route: a CORS preflight on a known path
(204), an unknown path (404) and a method the path does not take (405, with
``Allow``), the refusals in the same one-line form as every other.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from . import api, pages
from .guard import client_address
from .state import CLIENT, REASON, REQUEST_ID, SERVICES, STREAM, Services

log = structlog.get_logger(__name__)

# Requests carry their token in a header; no endpoint needs a body.
MAX_BODY = 16 * 1024


def create_app(state: Services) -> web.Application:
    """Return the application that serves deployd's HTTP API with ``state``."""
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[log_requests, catch_errors, answer_unrouted],
    )
    app[SERVICES] = state
    app.on_response_prepare.append(_add_cors_headers)
    app.cleanup_ctx.append(_summarise_rejections)
    pages.add_routes(app, state.settings)
    api.add_routes(app.router)

    return app


@web.middleware
async def log_requests(
    request: web.Request, handler: api.Handler
) -> web.StreamResponse:
    """Name the request, bind it into the log context, and log how it ended."""
    state = request.app[SERVICES]
    request_id = secrets.token_hex(6)
    client = client_address(request, state.settings.behind_proxy)
    request[CLIENT] = client
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, client=client)
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        _log_outcome(request, state, status, time.monotonic() - started)
        structlog.contextvars.clear_contextvars()

    return response


def _log_outcome(
    request: web.Request, state: Services, status: int, seconds: float
) -> None:
    fields = {
        "method": request.method,
        "path": request.path,
        "duration_ms": round(seconds * 1000),
    }
    if 400 <= status < 500:
        reason = request.get(REASON)
        state.rejections.record(request[CLIENT], status, reason=reason, **fields)
        return
    log.info("request_finished", status=status, **fields)


@web.middleware
async def catch_errors(
    request: web.Request, handler: api.Handler
) -> web.StreamResponse:
    """Answer an unexpected exception with a one-line 500; log the traceback."""
    try:
        return await handler(request)
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("request_failed")
        if STREAM in request and request[STREAM].prepared:
            return request[STREAM]
        return web.Response(
            status=500,
            text="Error: deployd failed to answer this request; its log has the "
            "details\n",
        )


@web.middleware
async def answer_unrouted(
    request: web.Request, handler: api.Handler
) -> web.StreamResponse:
    """Answer preflights, unknown paths and unknown methods; pass the rest on.

    Raises HTTP 404 for a path no endpoint serves and 405 for a method the
    path does not take, each with a one-line message.
    """
    unrouted = request.match_info.http_exception
    if unrouted is None:
        return await handler(request)
    if not isinstance(unrouted, web.HTTPMethodNotAllowed):
        api.refuse(
            request,
            404,
            "deployd has no such endpoint; the API is POST /v1/deploy, "
            "GET /v1/deploys/{id} and GET /v1/deploys/{id}/log",
            reason="NoSuchEndpoint",
        )
    if request.method == "OPTIONS":
        return await pages.preflight(request)
    allowed = sorted(unrouted.allowed_methods)
    request[REASON] = "MethodNotAllowed"
    raise web.HTTPMethodNotAllowed(
        request.method,
        allowed,
        text=f"Error: {request.path} does not take {request.method}; use "
        f"{' or '.join(allowed)}\n",
    )


async def _add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(pages.CORS_HEADERS)
    if REQUEST_ID in request:
        response.headers["X-Request-Id"] = request[REQUEST_ID]
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


async def _summarise_rejections(app: web.Application) -> AsyncIterator[None]:
    rejections = app[SERVICES].rejections

    async def flush_now_and_then() -> None:
        while True:
            await asyncio.sleep(rejections.interval)
            rejections.flush()

    task = asyncio.create_task(flush_now_and_then())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    rejections.flush()
