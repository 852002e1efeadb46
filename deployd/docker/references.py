"""Image references: which registry an image lives on, and how to ask for it."""

from __future__ import annotations

from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset(
    {
        "",
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "registry.hub.docker.com",
    }
)


@dataclass(frozen=True)
class Reference:
    """A parsed image reference such as ``registry:5000/team/app:1.2``."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The repository with its registry, as the engine's pull wants it."""
        if self.registry == DOCKER_HUB:
            return self.repository
        return f"{self.registry}/{self.repository}"

    @property
    def version(self) -> str:
        """The digest when there is one, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"


def is_image_id(text: str) -> bool:
    """Tell whether ``text`` names an image by id rather than by reference."""
    body = text.removeprefix("sha256:")
    is_hex = all(char in "0123456789abcdef" for char in body)
    return is_hex and (text.startswith("sha256:") or len(body) == 64)


def parse(text: str) -> Reference:
    """Split an image reference into registry, repository, tag and digest."""
    rest, _, digest = text.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    repository, tag = path, None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = path.rpartition(":")
    registry = normalise_registry(registry)
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"

    return Reference(registry, repository, tag, digest or None)


def normalise_registry(host: str) -> str:
    """Return the registry host in the form credentials are filed under."""
    host = host.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    host = host.split("/", 1)[0]

    return DOCKER_HUB if host in _HUB_ALIASES else host
