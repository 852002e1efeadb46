"""A flood of refused deploy requests, run as its own process by bench.run.

``python -m bench.flood URL TOKEN SUBNET SECONDS`` keeps 50 connections, each
from its own address 127.0.SUBNET.N, sending the token until SECONDS pass,
then prints one JSON object: the answers' statuses and when they came (in
seconds from the start). A process of its own keeps the prober's event loop
free, so the prober measures deployd and not the flood's client.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

CONNECTIONS = 50


async def worker(
    url: str, token: str, source: str, began: float, seconds: float
) -> list[tuple[int, float]]:
    answers: list[tuple[int, float]] = []
    connector = aiohttp.TCPConnector(limit=1, local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        while time.monotonic() - began < seconds:
            async with session.post(
                f"{url}/v1/deploy", headers={"X-Deploy-Token": token}
            ) as response:
                await response.read()
                answers.append((response.status, time.monotonic() - began))

    return answers


async def flood(url: str, token: str, subnet: int, seconds: float) -> None:
    began = time.monotonic()
    results = await asyncio.gather(
        *(
            worker(url, token, f"127.0.{subnet}.{n + 1}", began, seconds)
            for n in range(CONNECTIONS)
        )
    )
    answers = [answer for result in results for answer in result]
    statuses: dict[int, int] = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    sys.stdout.write(
        json.dumps({"statuses": statuses, "times": [t for _, t in answers]}) + "\n"
    )


def main() -> int:
    url, token, subnet, seconds = sys.argv[1:5]
    asyncio.run(flood(url, token, int(subnet), float(seconds)))

    return 0


if __name__ == "__main__":
    sys.exit(main())
