#!/usr/bin/env python3
"""The image's health check: exit 0 when deployd's /healthz answers 200.

deployd answers 200 there only while the Docker engine answers it, so an
unhealthy container means either deployd or its engine is down. The check
asks on the port and address deployd listens on (PORT and IP, where the
wildcard addresses mean loopback) and never through a proxy, whatever the
environment says. Only the standard library is used.
"""

from __future__ import annotations

import os
import sys
import urllib.request

TIMEOUT = 8.0


def health_url(env: dict[str, str]) -> str:
    """Return the /healthz URL of the deployd that ``env`` configures."""
    ip = env.get("IP", "").strip() or "0.0.0.0"
    port = env.get("PORT", "").strip() or "3000"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(ip, ip)
    if ":" in host:
        host = f"[{host}]"

    return f"http://{host}:{port}/healthz"


def main() -> int:
    """Return 0 when /healthz answers 200, 1 otherwise (the reason on stderr)."""
    url = health_url(dict(os.environ))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT) as response:
            status = response.status
    except OSError as exc:
        sys.stderr.write(f"deployd-healthcheck: {url}: {exc}\n")
        return 1
    if status != 200:
        sys.stderr.write(f"deployd-healthcheck: {url} answered {status}\n")
        return 1

    return 0


if __name__ == "__main__":
    sys.exit(main())
