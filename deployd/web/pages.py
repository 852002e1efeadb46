"""The endpoints around the API: the index page, robots.txt, the helper scripts, health.

The index page and the two helper scripts are templates shipped in
``deployd/web/templates``; ``{{URL}}`` and ``{{TIMEOUT}}`` are filled in from
the settings once, when the routes are added.
"""

from __future__ import annotations

import asyncio
import html
from importlib import resources

from aiohttp import web

from ..config import Settings
from ..docker import Docker
from ..errors import EngineError
from .state import services

HEALTH_TIMEOUT = 5.0
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS, HEAD",
    "Access-Control-Allow-Headers": "X-Deploy-Token, Authorization, Accept",
    "Access-Control-Expose-Headers": "X-Deploy-Id, X-Request-Id",
    "Access-Control-Max-Age": "86400",
}
ROBOTS = "User-agent: *\nDisallow: /\n"
PAGES = web.AppKey("pages", dict[str, str])


def render_template(name: str, settings: Settings, *, escape: bool = False) -> str:
    """Return the template ``name`` with the public URL and script timeout filled in."""
    text = resources.files(__package__).joinpath("templates", name).read_text()
    url = html.escape(settings.url) if escape else settings.url

    return text.replace("{{URL}}", url).replace(
        "{{TIMEOUT}}", str(settings.script_timeout)
    )


def add_routes(app: web.Application, settings: Settings) -> None:
    """Add the index page, robots.txt, /s, /pwsh and /healthz to ``app``."""
    app[PAGES] = {
        "index.html": render_template("index.html", settings, escape=True),
        "request.sh": render_template("request.sh", settings),
        "request.ps1": render_template("request.ps1", settings),
    }
    router = app.router
    router.add_get("/", index)
    router.add_get("/robots.txt", robots)
    router.add_get("/s", bash_script)
    router.add_get("/pwsh", powershell_script)
    router.add_get("/healthz", healthz)


async def preflight(request: web.Request) -> web.Response:
    """Answer a CORS preflight; the CORS headers are added to every response."""
    return web.Response(status=204)


async def index(request: web.Request) -> web.Response:
    """Return the index page, or 204 when DISABLE_INDEX_PAGE is set."""
    if services(request).settings.disable_index_page:
        return web.Response(status=204)

    return web.Response(text=request.app[PAGES]["index.html"], content_type="text/html")


async def robots(request: web.Request) -> web.Response:
    """Return a robots.txt that asks crawlers to stay away."""
    return web.Response(text=ROBOTS)


async def bash_script(request: web.Request) -> web.Response:
    """Return the bash helper that sends a deploy and streams its log."""
    return web.Response(text=request.app[PAGES]["request.sh"])


async def powershell_script(request: web.Request) -> web.Response:
    """Return the PowerShell helper that sends a deploy and prints its log."""
    return web.Response(text=request.app[PAGES]["request.ps1"])


async def engine_problem(docker: Docker) -> str | None:
    """Return why the Docker engine cannot be used now, or None when it answers."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await docker.system.ping()
    except EngineError as exc:
        return exc.message
    except TimeoutError:
        return (
            f"the Docker engine at {docker.socket_path or docker.host} did not "
            f"answer within {HEALTH_TIMEOUT:g} s; check that dockerd runs and is "
            "not overloaded"
        )

    return None


async def healthz(request: web.Request) -> web.Response:
    """Return 200 while the Docker engine answers, else 503 with the reason.

    A shutdown counts as a reason, so a load balancer stops sending deploys.
    """
    state = services(request)
    if state.closing:
        return web.json_response(
            {"status": "stopping", "reason": "deployd is shutting down"}, status=503
        )
    problem = await engine_problem(state.docker)
    if problem is not None:
        return web.json_response(
            {"status": "unavailable", "reason": problem}, status=503
        )
    body = {
        "status": "ok",
        "engine_api": state.docker.api_version,
        "running_deploys": len(state.deploys.running()),
        "recovered": state.recovered.is_set(),
    }

    return web.json_response(body)
