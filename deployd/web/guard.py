"""Defences against hostile clients: who asks, how often they fail, what is logged.

``client_address`` names the caller, believing ``X-Forwarded-For`` only behind
a proxy. ``FailureLimiter`` blocks a client that keeps failing to
authenticate for a while: its failures are answered 429 (its valid tokens
still pass). ``RefusedTokens`` remembers the tokens refused lately, so that
a blocked client repeating one costs a lookup, not a signature check.
``RejectionLog`` logs the first rejection of a client in each interval and
sums up the rest, so that a flood of bad requests costs a few log lines. All
three keep bounded tables, so a flood from many addresses cannot grow memory
either.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
BLOCK_SECONDS = 60.0
MAX_CLIENTS = 10_000
SUMMARY_INTERVAL = 10.0
OTHER_CLIENTS = "other"


def token_from(request: web.Request) -> str | None:
    """Return the deploy token a request carries, or None when it has none.

    ``X-Deploy-Token`` is read first, then ``Authorization: Bearer``.
    """
    token = request.headers.get("X-Deploy-Token", "").strip()
    if token:
        return token
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()

    return None


def client_address(request: web.Request, behind_proxy: bool) -> str:
    """Return the address of the client that sent ``request``.

    Behind a proxy, ``X-Forwarded-For`` is read from the right, past the
    addresses of private and loopback proxies, and only when the connection
    itself comes from such an address; otherwise the peer address is used.
    """
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    if not behind_proxy or not forwarded or not _is_proxy(peer):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",")]
    for hop in reversed(hops):
        if not _is_ip(hop):
            return peer
        if not _is_proxy(hop):
            return hop

    return hops[0]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False

    return True


def _is_proxy(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False

    return address.is_private or address.is_loopback or address.is_link_local


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class FailureLimiter:
    """Counts failed authentications per client and blocks the persistent ones."""

    def __init__(
        self,
        *,
        limit: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        block: float = BLOCK_SECONDS,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.block = block
        self._max_clients = max_clients
        self._clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    def blocked_for(self, client: str) -> float:
        """Return how many seconds ``client`` stays blocked; 0 when it is not."""
        entry = self._clients.get(client)
        if entry is None:
            return 0.0

        return max(0.0, entry.blocked_until - self._clock())

    def fail(self, client: str) -> None:
        """Count one failed authentication of ``client``; block it past the limit."""
        now = self._clock()
        entry = self._clients.pop(client, None) or _Failures()
        entry.times = [t for t in entry.times if now - t < self.window] + [now]
        if len(entry.times) >= self.limit:
            entry.blocked_until = now + self.block
            entry.times = []
        self._clients[client] = entry
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)


class RefusedTokens:
    """A bounded set of tokens refused lately, kept as hashes.

    A refusal for a malformed, foreign, expired or revoked token is final,
    so a token seen here would be refused again.
    """

    def __init__(self, *, max_tokens: int = MAX_CLIENTS) -> None:
        self._max_tokens = max_tokens
        self._hashes: OrderedDict[bytes, None] = OrderedDict()

    def add(self, token: str) -> None:
        """Remember that ``token`` was refused, forgetting the oldest past the bound."""
        self._hashes[_digest(token)] = None
        while len(self._hashes) > self._max_tokens:
            self._hashes.popitem(last=False)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and _digest(token) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)


def _digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode(errors="replace"), digest_size=16).digest()


@dataclass
class _Burst:
    count: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class RejectionLog:
    """Logs rejected requests, one line per client and interval plus a summary."""

    def __init__(
        self,
        *,
        interval: float = SUMMARY_INTERVAL,
        max_clients: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._max_clients = max_clients
        self._clock = clock
        self._started = clock()
        self._bursts: dict[str, _Burst] = {}

    def record(self, client: str, status: int, **fields: object) -> None:
        """Note one rejected request; log it when it is the client's first lately."""
        if self._clock() - self._started >= self.interval:
            self.flush()
        burst = self._bursts.get(client)
        if burst is None:
            if len(self._bursts) >= self._max_clients:
                client = OTHER_CLIENTS
                burst = self._bursts.setdefault(client, _Burst())
            else:
                self._bursts[client] = _Burst()
                log.warning("request_rejected", client=client, status=status, **fields)
                return
        burst.count += 1
        burst.statuses[status] = burst.statuses.get(status, 0) + 1

    def flush(self) -> None:
        """Log the count of each client's further rejections, and start afresh."""
        for client, burst in self._bursts.items():
            if burst.count:
                log.warning(
                    "requests_rejected",
                    client=client,
                    count=burst.count,
                    statuses={str(k): v for k, v in sorted(burst.statuses.items())},
                    interval_s=self.interval,
                )
        self._bursts.clear()
        self._started = self._clock()
