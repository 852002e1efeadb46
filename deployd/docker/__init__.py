"""The Docker Engine API client: the only code that speaks HTTP to the engine."""

from .auth import Credentials
from .client import Docker
from .models import Container, ContainerSummary, Image, PullProgress
from .references import Reference, is_image_id, normalise_registry, parse
from .selfid import own_container_id
from .specs import REPLACES_LABEL, ContainerSpec, recreate_spec

__all__ = [
    "REPLACES_LABEL",
    "Container",
    "ContainerSpec",
    "ContainerSummary",
    "Credentials",
    "Docker",
    "Image",
    "PullProgress",
    "Reference",
    "is_image_id",
    "normalise_registry",
    "own_container_id",
    "parse",
    "recreate_spec",
]
