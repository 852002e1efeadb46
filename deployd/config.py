"""The daemon's settings, read once from the environment into a frozen object.

The names and defaults of the original Docker Deploy API are kept (``URL``,
``PORT``, ``IP``, ``BEHIND_PROXY``, ``DISABLE_INDEX_PAGE``, ``SCRIPT_TIMEOUT``,
``WORKERS``); deployd adds its own. An empty variable counts as unset, as it
did in the original. A value that cannot be used raises ConfigError naming the
variable and what it accepts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from .errors import ConfigError

T = TypeVar("T")

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "console")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
# Variables the original read that deployd accepts and does nothing with.
IGNORED = {
    "SENTRY_DSN": "deployd does not report errors to Sentry; its log has them",
}


@dataclass(frozen=True)
class Settings:
    """Everything the daemon is told by its environment."""

    url: str = "http://127.0.0.1:3000"
    url_set: bool = False
    port: int = 3000
    ip: str = "0.0.0.0"
    behind_proxy: bool = False
    disable_index_page: bool = False
    script_timeout: int = 300
    workers: int = 1
    data_dir: Path = Path("data")
    docker_host: str | None = None
    log_level: str = "info"
    log_format: str | None = None
    max_engine_operations: int = 8
    start_wait: float = 1.0
    health_timeout: float = 120.0
    shutdown_grace: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Return the settings ``env`` describes, defaults for what it leaves out.

        Raises ConfigError naming the first variable whose value is unusable.
        """
        values = {key: value.strip() for key, value in env.items() if value.strip()}
        port = _read(values, "PORT", _port, cls.port)

        return cls(
            url=_read(values, "URL", _url, f"http://127.0.0.1:{port}"),
            url_set="URL" in values,
            port=port,
            ip=_read(values, "IP", _ip, cls.ip),
            behind_proxy=_read(values, "BEHIND_PROXY", _bool, cls.behind_proxy),
            disable_index_page=_read(
                values, "DISABLE_INDEX_PAGE", _bool, cls.disable_index_page
            ),
            script_timeout=_read(
                values,
                "SCRIPT_TIMEOUT",
                _positive_int("whole number of seconds", cls.script_timeout),
                cls.script_timeout,
            ),
            workers=_read(
                values, "WORKERS", _positive_int("whole number", 1), cls.workers
            ),
            data_dir=Path(values.get("DATA_DIR", str(cls.data_dir))),
            docker_host=_read(values, "DOCKER_HOST", _docker_host, None),
            log_level=_read(values, "LOG_LEVEL", _choice(LOG_LEVELS), cls.log_level),
            log_format=_read(values, "LOG_FORMAT", _choice(LOG_FORMATS), None),
            max_engine_operations=_read(
                values,
                "MAX_ENGINE_OPERATIONS",
                _positive_int("whole number", cls.max_engine_operations),
                cls.max_engine_operations,
            ),
            start_wait=_read(
                values, "START_WAIT", _seconds(cls.start_wait), cls.start_wait
            ),
            # A zero wait for health would fail every container with a healthcheck.
            health_timeout=_read(
                values,
                "HEALTH_TIMEOUT",
                _seconds(cls.health_timeout, above_zero=True),
                cls.health_timeout,
            ),
            shutdown_grace=_read(
                values,
                "SHUTDOWN_GRACE",
                _seconds(cls.shutdown_grace),
                cls.shutdown_grace,
            ),
        )


def ignored(env: Mapping[str, str]) -> dict[str, str]:
    """Return the set variables deployd accepts but ignores, each with the reason."""
    return {name: why for name, why in IGNORED.items() if env.get(name, "").strip()}


def _read(
    values: Mapping[str, str], name: str, parse: Callable[[str], T], default: T
) -> T:
    if name not in values:
        return default
    try:
        return parse(values[name])
    except ValueError as exc:
        raise ConfigError(f"{name}={values[name]!r} is not usable: {exc}") from exc


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError("use a TCP port, a whole number from 1 to 65535")

    return int(text)


def _positive_int(what: str, example: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ValueError(f"use a positive {what}, such as {example}")

        return int(text)

    return parse


def _seconds(example: float, *, above_zero: bool = False) -> Callable[[str], float]:
    lowest = "above 0" if above_zero else "from 0"
    allowed = f"use a number of seconds {lowest} up to 86400, such as {example:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(allowed) from None
        if not 0 <= value <= 86400 or (above_zero and value == 0):
            raise ValueError(allowed)

        return value

    return parse


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("use true or false")


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(
            "use an IP address to listen on, such as 0.0.0.0, 127.0.0.1 or ::"
        ) from None


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "use the public base URL of deployd, such as https://deploy.example.com"
        )
    if parts.query or parts.fragment or any(c in text for c in "\"'`$\\ "):
        raise ValueError("use a plain base URL without query, quotes or spaces")

    return text.rstrip("/")


def _docker_host(text: str) -> str:
    if urlsplit(text).scheme not in ("unix", "tcp", "http", "https"):
        raise ValueError("use unix:///path/to/docker.sock or tcp://HOST:PORT")

    return text


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"use one of {', '.join(choices)}")

        return text.lower()

    return parse
