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
from .guard import FailureLimiter, RefusedTokens, RejectionLog
from .lock import DataDirLock


@dataclass
class Services:
    """What the handlers work with, built once by the daemon (or a test)."""

    settings: Settings
    tokens: Tokens
    docker: Docker
    deployer: Deployer
    deploys: Deploys
    # Held while the services run, so that one daemon uses a DATA_DIR.
    lock: DataDirLock | None = None
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    refused: RefusedTokens = field(default_factory=RefusedTokens)
    rejections: RejectionLog = field(default_factory=RejectionLog)
    # Set once the swaps a previous run left half-done have been repaired.
    recovered: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False

    async def close(self) -> None:
        """Close the engine client and give up the DATA_DIR lock."""
        await self.docker.close()
        if self.lock is not None:
            self.lock.release()


SERVICES = web.AppKey("services", Services)
# What the middlewares and handlers note on each request.
CLIENT = web.RequestKey("client", str)
REQUEST_ID = web.RequestKey("request_id", str)
REASON = web.RequestKey("reason", str)
STREAM = web.RequestKey("stream", web.StreamResponse)


def services(request: web.Request) -> Services:
    """Return the services of the application that serves ``request``."""
    return request.app[SERVICES]
