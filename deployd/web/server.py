"""Running the daemon: build the services, serve, and shut down without cutting deploys.

``serve`` checks DATA_DIR (through ``Tokens``), locks it against a second
daemon (``DataDirLock``), connects to the engine (an
engine that does not answer yet is a warning, not a reason to stop), repairs
half-done swaps once the engine answers, and serves until SIGTERM or SIGINT.
Then it refuses new deploys (503), gives running deploys
``settings.shutdown_grace`` seconds to finish (cancelling, and so rolling
back, the rest), stops listening and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

import structlog
from aiohttp import web

from .. import __version__
from ..config import Settings
from ..deploy import Deployer, Timing
from ..docker import Credentials, Docker
from ..errors import EngineError
from ..tokens import Tokens
from .app import create_app
from .deploys import Deploys
from .history import History
from .lock import DataDirLock
from .protocol import LIMITS, Runner
from .state import Services

log = structlog.get_logger(__name__)

RECOVERY_RETRY_SECONDS = 5.0
# Once the deploys have ended, streams need only moments to write their end.
CLOSE_TIMEOUT = 5.0


def build_services(settings: Settings) -> Services:
    """Return the services for ``settings``, holding the DATA_DIR lock.

    Raises ConfigError for a DATA_DIR that cannot be used or that another
    daemon holds. ``Services.close`` releases the lock.
    """
    tokens = Tokens(settings.data_dir)
    # Before anything reads the journal or the history another daemon writes.
    lock = DataDirLock.take(settings.data_dir)
    try:
        return _services(settings, tokens, lock)
    except BaseException:
        lock.release()
        raise


def _services(settings: Settings, tokens: Tokens, lock: DataDirLock) -> Services:
    docker = Docker.from_env(
        settings.docker_host, credentials=Credentials(settings.data_dir)
    )
    deployer = Deployer(
        docker,
        settings.data_dir,
        timing=Timing(
            start_wait=settings.start_wait, health_timeout=settings.health_timeout
        ),
        max_parallel=settings.max_engine_operations,
    )

    return Services(
        settings=settings,
        tokens=tokens,
        docker=docker,
        deployer=deployer,
        deploys=Deploys(deployer, history=History(settings.data_dir)),
        lock=lock,
    )


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set or a SIGTERM or SIGINT arrives.

    Raises ConfigError when DATA_DIR cannot be used or another daemon holds
    it, OSError when the port cannot be bound.
    """
    state = build_services(settings)
    stop = stop or asyncio.Event()
    _announce(settings)
    recovery = asyncio.create_task(recover(state))
    runner = Runner(
        create_app(state),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=CLOSE_TIMEOUT,
        **LIMITS,
    )
    with _signals_set(stop):
        try:
            await runner.setup()
            site = web.TCPSite(runner, settings.ip, settings.port)
            await site.start()
            log.info("deployd_listening", ip=settings.ip, port=settings.port)
            await stop.wait()
            await _shut_down(state, site)
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery
            await runner.cleanup()
            await state.close()
            log.info("deployd_stopped")


async def recover(state: Services) -> None:
    """Repair the swaps a killed run left half-done; retry until the engine answers.

    The deploys that run never finished are then recorded as failed.
    """
    while True:
        try:
            repaired = await state.deployer.recover()
        except EngineError as exc:
            log.warning("engine_unreachable", reason=exc.message)
            await asyncio.sleep(RECOVERY_RETRY_SECONDS)
            continue
        state.deploys.settle(repaired)
        state.recovered.set()
        log.info("engine_connected", host=state.docker.host, repaired=repaired)
        return


def _announce(settings: Settings) -> None:
    log.info(
        "deployd_started",
        version=__version__,
        url=settings.url,
        data_dir=str(settings.data_dir),
        docker_host=settings.docker_host,
    )
    if not settings.url_set:
        log.warning(
            "url_unset",
            url=settings.url,
            hint="set URL to deployd's public address; the /s and /pwsh helpers "
            "and the index page show it",
        )
    if settings.workers != 1:
        log.info(
            "workers_ignored",
            workers=settings.workers,
            reason="deployd serves from one async process; WORKERS is accepted "
            "for compatibility and has no effect",
        )


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    """Let SIGTERM and SIGINT set ``stop`` while the body runs, shutdown included.

    A signal during the shutdown is only logged: the grace period still
    applies, and SIGKILL remains for an operator who cannot wait.
    """
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, _stopper(stop, signum))
            handled.append(signum)
    try:
        yield
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _stopper(stop: asyncio.Event, signum: signal.Signals) -> Callable[[], None]:
    def handle() -> None:
        log.info("signal_received", signal=signum.name, stopping=stop.is_set())
        stop.set()

    return handle


async def _shut_down(state: Services, site: web.TCPSite) -> None:
    """Let running deploys finish, then stop listening.

    Until they end, the port stays open and new deploys are answered 503
    with Retry-After: behind a proxy a caller then reads why, where a closed
    port would give it the proxy's bare 502.
    """
    state.closing = True
    running = state.deploys.running()
    if running:
        log.info(
            "deploys_draining",
            deploys=[deploy.id for deploy in running],
            grace_s=state.settings.shutdown_grace,
        )
    if not await state.deploys.drain(state.settings.shutdown_grace):
        log.warning("deploys_cancelled", grace_s=state.settings.shutdown_grace)
    await site.stop()
