"""Every error deployd raises on purpose, under one root.

    DeploydError
    ├── EngineError             the engine answered with an error (status, message)
    │   ├── EngineUnreachable   no engine answered on DOCKER_HOST
    │   ├── NotFound            404: no such container, image or network
    │   ├── Conflict            409: name in use, container already running ...
    │   └── PullFailed          the pull stream carried an error object
    ├── DeployFailed            a deploy step failed (container, step, rolled back?)
    ├── DeployRefused           a container deployd will not touch (the one it runs in)
    ├── TokenError              a deploy token was refused
    │   ├── TokenMalformed      not a v4.public token, or unreadable claims
    │   ├── TokenBadSignature   not signed by this daemon's key
    │   ├── TokenExpired        its exp is in the past
    │   ├── TokenRevoked        listed in revoked-tokens.json
    │   └── ClaimsInvalid       well signed, but the claims do not describe a deploy
    └── ConfigError             a setting, file or directory deployd cannot use

Foreign exceptions (aiohttp, OSError, pyseto) are translated into these at one
boundary each, with ``raise ... from exc``. Messages are one sentence that names
the thing and says what to do; they never carry a token, key or password.
"""

from __future__ import annotations


class DeploydError(Exception):
    """Root of every error deployd raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EngineError(DeploydError):
    """The Docker engine answered a request with an error."""

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class EngineUnreachable(EngineError):
    """No Docker engine answered at the configured address."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503)


class NotFound(EngineError):
    """The engine has no such container, image or network."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


class Conflict(EngineError):
    """The engine refused because of the object's state (name taken, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=409)


class PullFailed(EngineError):
    """An image pull failed, either at once or inside its progress stream.

    ``reason`` is the engine's or registry's own words, without the context
    that ``message`` adds.
    """

    def __init__(self, message: str, *, status: int = 500, reason: str = "") -> None:
        super().__init__(message, status=status)
        self.reason = reason or message


class DeployFailed(DeploydError):
    """A deploy step failed; ``rolled_back`` tells whether the old container is back."""

    def __init__(
        self, message: str, *, container: str, step: str, rolled_back: bool
    ) -> None:
        super().__init__(message)
        self.container = container
        self.step = step
        self.rolled_back = rolled_back


class DeployRefused(DeploydError):
    """The deploy names a container deployd will not touch, such as its own."""


class TokenError(DeploydError):
    """A deploy token was refused."""


class TokenMalformed(TokenError):
    """The token is not a PASETO v4.public token with readable claims."""


class TokenBadSignature(TokenError):
    """The token was not signed by this daemon's key."""


class TokenExpired(TokenError):
    """The token's expiry time has passed."""


class TokenRevoked(TokenError):
    """The token, or its id, has been revoked."""


class ClaimsInvalid(TokenError):
    """The token is genuine but its claims do not describe a deploy."""


class ConfigError(DeploydError):
    """A setting, file or directory that deployd cannot use."""
