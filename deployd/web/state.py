"""The services the request handlers share, kept on the application."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from ..config import Settings
from ..deploy import Deployer
from ..docker import Docker
from ..tokens import Tokens
from .deploys import Deploys
from .guard import FailureLimiter, RejectionLog


@dataclass
class Services:
    """What the handlers work with, built once by the daemon (or a test)."""

    settings: Settings
    tokens: Tokens
    docker: Docker
    deployer: Deployer
    deploys: Deploys
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    rejections: RejectionLog = field(default_factory=RejectionLog)
    # Set once the swaps a previous run left half-done have been repaired.
    recovered: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False


SERVICES = web.AppKey("services", Services)
# What the middlewares and handlers note on each request.
CLIENT = web.RequestKey("client", str)
REQUEST_ID = web.RequestKey("request_id", str)
REASON = web.RequestKey("reason", str)
STREAM = web.RequestKey("stream", web.StreamResponse)


def services(request: web.Request) -> Services:
    """Return the services of the application that serves ``request``."""
    return request.app[SERVICES]
