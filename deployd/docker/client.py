"""The one owner of the HTTP session that talks to the Docker engine.

``Docker`` opens an aiohttp session over the engine's Unix socket (or TCP),
negotiates the API version once, and turns every engine answer that is not a
success into a ``deployd.errors.EngineError``. The resource modules
(containers, images, networks, system) build on its request helpers.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from ..errors import ConfigError, Conflict, EngineError, EngineUnreachable, NotFound
from .auth import Credentials
from .containers import Containers
from .images import Images
from .networks import Networks
from .system import System

log = structlog.get_logger(__name__)

DEFAULT_HOST = "unix:///var/run/docker.sock"
# The newest Engine API whose fields this client knows; a newer engine is
# spoken to at this version, an older one at its own.
NEWEST_API = (1, 47)
OLDEST_API = (1, 41)

Params = Mapping[str, str | int | bool] | None


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


class Docker:
    """An open connection to one Docker engine.

    Use as ``async with Docker.from_env() as docker:``. The resources hang off
    it as ``docker.containers``, ``docker.images``, ``docker.networks`` and
    ``docker.system``.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        *,
        credentials: Credentials | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.credentials = credentials or Credentials()
        self.api_version = ""
        self._timeout = timeout
        self._base_url, self.socket_path = _parse_host(host)
        self._session: aiohttp.ClientSession | None = None
        self.containers = Containers(self)
        self.images = Images(self)
        self.networks = Networks(self)
        self.system = System(self)

    @classmethod
    def from_env(
        cls, host: str | None = None, *, credentials: Credentials | None = None
    ) -> Docker:
        """Return a client for ``host``, else DOCKER_HOST, else the default socket."""
        return cls(
            host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST,
            credentials=credentials,
        )

    async def __aenter__(self) -> Docker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def api_tuple(self) -> tuple[int, int]:
        return _version_tuple(self.api_version) if self.api_version else NEWEST_API

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self.socket_path:
                connector: aiohttp.BaseConnector = aiohttp.UnixConnector(
                    path=self.socket_path, limit=0
                )
            else:
                connector = aiohttp.TCPConnector(limit=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=10, sock_read=None
                ),
            )
        return self._session

    async def _negotiate(self) -> None:
        if self.api_version:
            return
        body = await self.request("GET", "/version", versioned=False)
        engine = _version_tuple(str(body.get("ApiVersion", "1.41")))
        chosen = min(engine, NEWEST_API)
        self.api_version = f"{chosen[0]}.{chosen[1]}"
        log.debug("engine_negotiated", api_version=self.api_version, host=self.host)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        versioned: bool = True,
    ) -> Any:
        """Send one request and return the decoded JSON answer (None when empty).

        ``versioned=False`` sends it without the API version prefix (and
        without negotiating one first). Raises EngineUnreachable, NotFound,
        Conflict or EngineError.
        """
        if versioned:
            await self._negotiate()
        async with self._send(
            method,
            path,
            params=params,
            body=body,
            headers=headers,
            versioned=versioned,
            timeout=timeout or self._timeout,
        ) as response:
            raw = await response.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the JSON objects of a newline-delimited JSON answer as they arrive.

        Raises EngineUnreachable, NotFound, Conflict or EngineError.
        """
        await self._negotiate()
        async with self._send(method, path, params=params, headers=headers) as response:
            async for line in response.content:
                if line.strip():
                    yield _decode_line(line)

    @asynccontextmanager
    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        versioned: bool = True,
        timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request and hold its answer open; the one place errors translate."""
        log.debug("engine_called", method=method, path=path)
        try:
            async with self._open_session().request(
                method,
                self._url(path, versioned),
                params=_query(params),
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                if response.status >= 400:
                    raw = await response.read()
                    raise error_from_response(response.status, raw, path)
                yield response
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from exc

    def _url(self, path: str, versioned: bool) -> str:
        prefix = f"/v{self.api_version}" if versioned and self.api_version else ""
        return f"{self._base_url}{prefix}{path}"

    def _unreachable(self, exc: BaseException) -> EngineUnreachable:
        where = self.socket_path or self.host
        cause = getattr(exc, "os_error", None) or exc
        if isinstance(cause, FileNotFoundError):
            what = f"there is no Docker socket at {where}"
            advice = "start dockerd, or set DOCKER_HOST to the engine's socket"
        elif isinstance(cause, PermissionError):
            what = f"this user may not use the Docker socket at {where}"
            advice = "add the user to the docker group, or run deployd as root"
        elif isinstance(cause, ConnectionRefusedError):
            what = f"nothing answers at {where}"
            advice = "start dockerd, or set DOCKER_HOST to where it listens"
        elif isinstance(cause, TimeoutError):
            what = f"the Docker engine at {where} did not answer in time"
            advice = "check that dockerd is not stuck or overloaded"
        else:
            what = f"the Docker engine at {where} did not answer ({cause})"
            advice = "check that dockerd runs and that DOCKER_HOST is right"

        return EngineUnreachable(f"{what}; {advice}")


def _parse_host(host: str) -> tuple[str, str | None]:
    parts = urlsplit(host)
    if parts.scheme == "unix":
        return "http://docker", parts.path
    if parts.scheme in ("tcp", "http"):
        return f"http://{parts.netloc}", None
    if parts.scheme == "https":
        return f"https://{parts.netloc}", None
    raise ConfigError(
        f"DOCKER_HOST {host!r} is not understood; use unix:///path/to/docker.sock "
        "or tcp://HOST:PORT"
    )


def _query(params: Params) -> dict[str, str] | None:
    if not params:
        return None
    return {
        key: ("1" if value is True else "0" if value is False else str(value))
        for key, value in params.items()
    }


def _decode_line(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {"message": line.decode(errors="replace").strip()}
    return value if isinstance(value, dict) else {"message": str(value)}


def error_from_response(status: int, raw: bytes, path: str) -> EngineError:
    """Return the typed error for an engine answer with a 4xx or 5xx status."""
    try:
        message = str(json.loads(raw).get("message", ""))
    except (ValueError, AttributeError):
        message = raw.decode(errors="replace").strip()
    message = message or f"HTTP {status} on {path}"
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    return EngineError(message, status=status)
