"""The server's connections: aiohttp's, answering requests it cannot read in our form.

aiohttp refuses a request it cannot parse (a header or request line over the
size limit, too many headers, bytes that are not HTTP) in
``RequestHandler.handle_error``, before any middleware or signal can act:
its answer quotes the start of the offending line, and every such request
logs a traceback at error level. aiohttp has no setting for either
(aio-libs/aiohttp#3287): ``web.Server`` always builds a plain
``RequestHandler``, and ``Application`` always builds a plain ``web.Server``.

The narrowest way in is the one aiohttp's own test server uses: a runner
that overrides the factory ``BaseRunner`` declares for subclasses,
``_make_server``. ``Runner`` lets ``AppRunner`` start the application and
build its server as usual, then serves the same handler and settings
through ``Server``, whose connections are ``Protocol`` objects. Those answer
an unreadable request with one ``Error:`` line that repeats nothing of it,
and log it as a rejection like any other (summed up per client), without a
traceback. A logging filter alone would have hidden the traceback but kept
aiohttp's answer.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, LineTooLong
from aiohttp.web_request import BaseRequest

from . import pages
from .guard import RejectionLog
from .state import SERVICES

log = structlog.get_logger(__name__)

# Bounds on what a client may send before its request is read: the request
# line, each header, and how many headers.
MAX_LINE = 8190
MAX_HEADERS = 64
LIMITS: dict[str, Any] = {
    "max_line_size": MAX_LINE,
    "max_field_size": MAX_LINE,
    "max_headers": MAX_HEADERS,
}
FAILED = "deployd failed to answer this request; its log has the details"


class Protocol(web.RequestHandler):
    """One client connection; refuses what it cannot read in deployd's form."""

    def __init__(
        self, manager: web.Server, *, rejections: RejectionLog, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self.rejections = rejections

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Return the one-line answer to a request that could not be handled.

        ``message`` (aiohttp's, which may quote the request) is never used.
        """
        if status >= 500:
            log.error("request_failed", status=status, exc_info=exc)
            text = FAILED
        else:
            status, text, reason = unreadable(exc)
            self.rejections.record(request.remote or "unknown", status, reason=reason)
        if request.writer.output_size > 0:
            # Part of an answer is out: there is no way to send another.
            raise ConnectionError("the response had started; the connection is cut")
        response = web.Response(status=status, text=f"Error: {text}\n")
        response.headers.update(pages.CORS_HEADERS)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.force_close()

        return response


def unreadable(exc: BaseException | None) -> tuple[int, str, str]:
    """Return the status, message and log reason for a request aiohttp cannot read."""
    if isinstance(exc, LineTooLong):
        return (
            431,
            f"a header or the request line is longer than {MAX_LINE} bytes; a "
            "deploy token is far shorter, so check what the client sends",
            "HeaderTooLarge",
        )
    if isinstance(exc, BadStatusLine):
        return (
            400,
            "this is not an HTTP request deployd can read; check that the "
            "client speaks HTTP/1.1 to this port",
            "NotHttp",
        )

    return (
        400,
        f"deployd could not read this HTTP request; send at most {MAX_HEADERS} "
        f"headers, each under {MAX_LINE} bytes, with well-formed lines",
        "RequestUnreadable",
    )


class Server(web.Server):
    """aiohttp's low-level server, with ``Protocol`` for its connections."""

    def __init__(self, *args: Any, rejections: RejectionLog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rejections = rejections

    def __call__(self) -> web.RequestHandler:
        return Protocol(
            self, rejections=self.rejections, loop=self._loop, **self._kwargs
        )


class Runner(web.AppRunner):
    """``web.AppRunner`` for deployd's application, serving with ``Server``."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()

        return Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            rejections=self.app[SERVICES].rejections,
            **made._kwargs,
        )
