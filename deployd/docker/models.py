"""Typed views of what the engine returns, for the layers above the engine client.

The engine's PascalCase dictionaries stop here: each model keeps the raw
answer in ``raw`` only so that the engine layer itself (the recreate spec) can
read fields the model does not name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ContainerSummary:
    """One row of the container list."""

    id: str
    name: str
    image: str
    state: str
    status: str
    labels: Mapping[str, str]
    network_mode: str = ""

    @classmethod
    def from_engine(cls, row: Mapping[str, Any]) -> ContainerSummary:
        names = row.get("Names") or ["/" + str(row.get("Id", ""))[:12]]
        return cls(
            id=str(row["Id"]),
            name=str(names[0]).lstrip("/"),
            image=str(row.get("Image", "")),
            state=str(row.get("State", "")),
            status=str(row.get("Status", "")),
            labels=dict(row.get("Labels") or {}),
            network_mode=str((row.get("HostConfig") or {}).get("NetworkMode", "")),
        )


@dataclass(frozen=True)
class Container:
    """An inspected container."""

    id: str
    name: str
    image_ref: str
    image_id: str
    running: bool
    restarting: bool
    status: str
    exit_code: int
    health: str | None
    labels: Mapping[str, str]
    network_mode: str
    networks: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_engine(cls, body: Mapping[str, Any]) -> Container:
        state = body.get("State") or {}
        config = body.get("Config") or {}
        host_config = body.get("HostConfig") or {}
        networks = (body.get("NetworkSettings") or {}).get("Networks") or {}
        health = state.get("Health") or {}
        return cls(
            id=str(body["Id"]),
            name=str(body.get("Name", "")).lstrip("/"),
            image_ref=str(config.get("Image", "")),
            image_id=str(body.get("Image", "")),
            running=bool(state.get("Running")),
            restarting=bool(state.get("Restarting")),
            status=str(state.get("Status", "")),
            exit_code=int(state.get("ExitCode") or 0),
            health=health.get("Status") or None,
            labels=dict(config.get("Labels") or {}),
            network_mode=str(host_config.get("NetworkMode", "")),
            networks=tuple(networks),
            raw=body,
        )

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def health_output(self) -> str:
        """Return the last healthcheck's output, shortened, or an empty string."""
        health = (self.raw.get("State") or {}).get("Health") or {}
        runs = health.get("Log") or ()
        output = " ".join(str(runs[-1].get("Output", "")).split()) if runs else ""
        return output[:200]

    @property
    def volumes_from(self) -> tuple[str, ...]:
        """Return the containers named in ``--volumes-from``, without their mode."""
        entries = (self.raw.get("HostConfig") or {}).get("VolumesFrom") or ()
        return tuple(entry.split(":", 1)[0] for entry in entries)

    @property
    def volume_names(self) -> frozenset[str]:
        """Return the names of the volumes mounted in this container."""
        mounts = self.raw.get("Mounts") or ()
        return frozenset(m["Name"] for m in mounts if m.get("Type") == "volume")

    @property
    def has_healthcheck(self) -> bool:
        check = (self.raw.get("Config") or {}).get("Healthcheck") or {}
        test = check.get("Test") or []
        return bool(test) and test[0] != "NONE"


@dataclass(frozen=True)
class Image:
    """An inspected image."""

    id: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_engine(cls, body: Mapping[str, Any]) -> Image:
        return cls(
            id=str(body["Id"]),
            tags=tuple(body.get("RepoTags") or ()),
            digests=tuple(body.get("RepoDigests") or ()),
            raw=body,
        )

    @property
    def config(self) -> Mapping[str, Any]:
        return self.raw.get("Config") or {}


@dataclass(frozen=True)
class PullProgress:
    """One event of an image pull's progress stream."""

    status: str
    layer: str | None
    current: int | None
    total: int | None

    @classmethod
    def from_engine(cls, event: Mapping[str, Any]) -> PullProgress:
        detail = event.get("progressDetail") or {}
        return cls(
            status=str(event.get("status", "")),
            layer=event.get("id"),
            current=detail.get("current"),
            total=detail.get("total"),
        )
