"""The create body that reproduces a container on a new image.

What ``docker run`` with the old container's options would make from the new
image: everything the user set is kept, everything that only came from the old
image is left for the new image to supply, and anonymous volumes carry over
with their data. Pure functions over the engine's own dictionaries.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import Container, Image

REPLACES_LABEL = "deployd.replaces"
MULTI_NETWORK_CREATE = (1, 44)
# Networks on which the engine refuses user-chosen aliases.
_NO_ALIAS_NETWORKS = frozenset({"bridge", "host", "none", "default"})
# Config values that an image supplies when the container does not set them.
_WHOLE_DEFAULTS = (
    "WorkingDir",
    "User",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
)
_KEYED_DEFAULTS = ("ExposedPorts", "Volumes")


@dataclass(frozen=True)
class ContainerSpec:
    """A create body, plus the networks to connect before the first start."""

    body: dict[str, Any]
    later_networks: dict[str, dict[str, Any]] = field(default_factory=dict)


def recreate_spec(
    old: Container,
    old_image: Image | None,
    *,
    network_mode: str,
    api_version: tuple[int, int],
    shared_volumes: frozenset[str] = frozenset(),
) -> ContainerSpec:
    """Return the spec that recreates ``old`` from its image reference.

    ``old_image`` is the image the old container runs (None when it is gone:
    then every value is kept as set). ``network_mode`` is the old mode with a
    ``container:ID`` peer already turned into ``container:NAME``.
    ``shared_volumes`` names the volumes that come from the containers in
    ``--volumes-from``: those follow their owner, they are not pinned.
    """
    defaults = old_image.config if old_image is not None else {}
    config = _config(old.raw.get("Config") or {}, defaults, old.short_id)
    if network_mode == "host" or network_mode.startswith("container:"):
        # The host name comes from the host or the peer container here.
        config.pop("Hostname", None)
        config.pop("Domainname", None)
    config["Image"] = old.image_ref
    config["Labels"] = {**config.get("Labels", {}), REPLACES_LABEL: old.id}
    host_config = _host_config(old, network_mode, shared_volumes)
    endpoints = _endpoints(old, network_mode)
    primary = _primary_network(network_mode, endpoints)
    later: dict[str, dict[str, Any]] = {}
    if api_version < MULTI_NETWORK_CREATE:
        later = {name: ep for name, ep in endpoints.items() if name != primary}
        endpoints = {name: ep for name, ep in endpoints.items() if name == primary}
    config["HostConfig"] = host_config
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}

    return ContainerSpec(body=config, later_networks=later)


def _config(
    config: Mapping[str, Any], image: Mapping[str, Any], short_id: str
) -> dict[str, Any]:
    result = copy.deepcopy(dict(config))
    result.pop("Image", None)
    result.pop("ArgsEscaped", None)
    if result.get("Hostname") == short_id:
        result.pop("Hostname")
    if "Env" in result:
        inherited = set(image.get("Env") or ())
        result["Env"] = [item for item in result["Env"] or () if item not in inherited]
    labels = {
        key: value
        for key, value in (result.get("Labels") or {}).items()
        if key != REPLACES_LABEL and (image.get("Labels") or {}).get(key) != value
    }
    result["Labels"] = labels
    for key in _KEYED_DEFAULTS:
        inherited_keys = set(image.get(key) or ())
        own = {
            k: v for k, v in (result.get(key) or {}).items() if k not in inherited_keys
        }
        result[key] = own or None
    same_entrypoint = result.get("Entrypoint") == image.get("Entrypoint")
    if same_entrypoint and result.get("Cmd") == image.get("Cmd"):
        result.pop("Cmd", None)
    if same_entrypoint:
        result.pop("Entrypoint", None)
    for key in _WHOLE_DEFAULTS:
        if key in result and result[key] == image.get(key):
            result.pop(key)

    return {key: value for key, value in result.items() if value is not None}


def _host_config(
    old: Container, network_mode: str, shared_volumes: frozenset[str]
) -> dict[str, Any]:
    host_config = copy.deepcopy(dict(old.raw.get("HostConfig") or {}))
    host_config["NetworkMode"] = network_mode
    if host_config.get("Links"):
        host_config["Links"] = [_link(link) for link in host_config["Links"]]
    anonymous = [
        mount
        for mount in _anonymous_volumes(old.raw, host_config)
        if mount.get("Name") not in shared_volumes
    ]
    if anonymous:
        taken = {mount["Destination"] for mount in anonymous}
        host_config["Binds"] = list(host_config.get("Binds") or ()) + [
            _bind(mount) for mount in anonymous
        ]
        mounts = [
            mount
            for mount in host_config.get("Mounts") or ()
            if mount.get("Source") or mount.get("Target") not in taken
        ]
        host_config["Mounts"] = mounts or None

    return {key: value for key, value in host_config.items() if value is not None}


def _link(link: str) -> str:
    """Turn the inspected ``/db:/web/db`` form back into ``db:db``."""
    target, _, alias = link.partition(":")
    return f"{target.lstrip('/')}:{alias.rsplit('/', 1)[-1]}" if alias else link


def _anonymous_volumes(
    raw: Mapping[str, Any], host_config: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """Return the volume mounts that no bind or named mount keeps by name."""
    named = {_bind_destination(bind) for bind in host_config.get("Binds") or ()}
    named |= {
        mount.get("Target")
        for mount in host_config.get("Mounts") or ()
        if mount.get("Source")
    }

    return [
        mount
        for mount in raw.get("Mounts") or ()
        if mount.get("Type") == "volume" and mount.get("Destination") not in named
    ]


def _bind_destination(bind: str) -> str:
    parts = bind.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _bind(mount: Mapping[str, Any]) -> str:
    mode = "" if mount.get("RW", True) else ":ro"
    return f"{mount['Name']}:{mount['Destination']}{mode}"


def _endpoints(old: Container, network_mode: str) -> dict[str, dict[str, Any]]:
    if network_mode in ("host", "none") or network_mode.startswith("container:"):
        return {}
    networks = (old.raw.get("NetworkSettings") or {}).get("Networks") or {}
    return {name: _endpoint(name, endpoint, old) for name, endpoint in networks.items()}


def _endpoint(name: str, endpoint: Mapping[str, Any], old: Container) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    ipam = {k: v for k, v in (endpoint.get("IPAMConfig") or {}).items() if v}
    if ipam:
        settings["IPAMConfig"] = ipam
    if endpoint.get("Links"):
        settings["Links"] = list(endpoint["Links"])
    aliases = [
        alias
        for alias in endpoint.get("Aliases") or ()
        if alias not in (old.short_id, old.id)
    ]
    if aliases and name not in _NO_ALIAS_NETWORKS:
        settings["Aliases"] = aliases
    if endpoint.get("DriverOpts"):
        settings["DriverOpts"] = dict(endpoint["DriverOpts"])

    return settings


def _primary_network(network_mode: str, endpoints: Mapping[str, Any]) -> str | None:
    if network_mode in endpoints:
        return network_mode
    if network_mode == "default" and "bridge" in endpoints:
        return "bridge"
    return next(iter(endpoints), None)
