"""Defences: the client address, the failure limit, and summed-up rejection logs."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request
from structlog.testing import capture_logs

from deployd.web.guard import (
    OTHER_CLIENTS,
    FailureLimiter,
    RefusedTokens,
    RejectionLog,
    client_address,
    token_from,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request_from(peer: str, forwarded: str | None = None) -> object:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = make_mocked_request("GET", "/", headers=headers)
    request._transport_peername = (peer, 5000)

    return request


def address(peer: str, forwarded: str | None, behind_proxy: bool) -> str:
    return client_address(request_from(peer, forwarded), behind_proxy)  # type: ignore[arg-type]


def test_forwarded_for_is_ignored_unless_behind_a_proxy() -> None:
    assert address("1.2.3.4", "9.9.9.9", False) == "1.2.3.4", (
        "without BEHIND_PROXY the peer is the client"
    )


def test_behind_a_proxy_the_nearest_public_hop_is_the_client() -> None:
    assert address("127.0.0.1", "5.6.7.8", True) == "5.6.7.8", (
        "a local proxy's X-Forwarded-For names the client"
    )
    assert address("10.0.0.2", "6.6.6.6, 5.6.7.8, 10.0.0.1", True) == ("5.6.7.8"), (
        "a forged leftmost entry is skipped past the first public hop"
    )


def test_a_public_peer_cannot_forge_its_address() -> None:
    assert address("1.2.3.4", "10.1.1.1", True) == "1.2.3.4", (
        "only proxies on private or loopback addresses are believed"
    )


def test_garbage_in_forwarded_for_falls_back_to_the_peer() -> None:
    assert address("127.0.0.1", "not-an-ip", True) == "127.0.0.1", "junk is ignored"


def test_the_token_comes_from_either_header() -> None:
    deploy = make_mocked_request("POST", "/", headers={"X-Deploy-Token": " t1 "})
    bearer = make_mocked_request("POST", "/", headers={"Authorization": "Bearer t2"})
    basic = make_mocked_request("POST", "/", headers={"Authorization": "Basic t3"})

    assert token_from(deploy) == "t1", "X-Deploy-Token is read and trimmed"
    assert token_from(bearer) == "t2", "a bearer token is read"
    assert token_from(basic) is None, "other schemes carry no deploy token"


def test_a_client_is_blocked_after_too_many_failures_and_freed_later() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window=60, block=30, clock=clock)
    for _ in range(2):
        limiter.fail("a")
    assert limiter.blocked_for("a") == 0, "below the limit nobody is blocked"

    limiter.fail("a")
    assert limiter.blocked_for("a") == 30, "the limit blocks for the block time"
    assert limiter.blocked_for("b") == 0, "other clients are not affected"

    clock.now += 31
    assert limiter.blocked_for("a") == 0, "the block ends"


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window=10, block=30, clock=clock)
    for _ in range(5):
        limiter.fail("a")
        clock.now += 6

    assert limiter.blocked_for("a") == 0, "spread-out failures never reach the limit"


def test_the_failure_table_is_bounded() -> None:
    limiter = FailureLimiter(max_clients=100)
    for n in range(10_000):
        limiter.fail(f"10.0.{n // 256}.{n % 256}")

    assert len(limiter._clients) == 100, "a flood from many addresses stays bounded"


def test_a_burst_of_rejections_is_logged_once_then_summed_up() -> None:
    clock = Clock()
    rejections = RejectionLog(interval=10, clock=clock)
    with capture_logs() as logged:
        for _ in range(500):
            rejections.record("1.2.3.4", 401, path="/v1/deploy")
        clock.now += 11
        rejections.flush()

    assert [line["event"] for line in logged] == [
        "request_rejected",
        "requests_rejected",
    ], "one line for the first rejection and one summary"
    assert logged[1]["count"] == 499, "the summary counts the rest"


def test_rejections_from_too_many_clients_share_one_summary() -> None:
    rejections = RejectionLog(max_clients=10)
    with capture_logs() as logged:
        for n in range(1000):
            rejections.record(f"198.51.100.{n % 250}", 401)
            rejections.record(f"192.0.2.{n % 250}", 401)
        rejections.flush()

    named = {line["client"] for line in logged if line["event"] == "request_rejected"}
    summed = [line["client"] for line in logged if line["event"] == "requests_rejected"]
    assert len(named) == 10, "only as many clients as the table holds are named"
    assert summed.count(OTHER_CLIENTS) == 1, "the overflow is summed up as other"
    assert len(summed) == 11, "one summary per named client, one for the rest"


def test_refused_tokens_are_remembered_as_hashes_in_a_bounded_set() -> None:
    refused = RefusedTokens(max_tokens=100)
    for n in range(1000):
        refused.add(f"v4.public.bad{n}")

    assert len(refused) == 100, "a flood of distinct tokens stays bounded"
    assert "v4.public.bad999" in refused, "the newest are remembered"
    assert "v4.public.bad0" not in refused, "the oldest are forgotten"
    assert not any("bad999" in repr(key) for key in refused._hashes), (
        "only hashes are kept"
    )
