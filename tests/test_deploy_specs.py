"""Unit tests of the recreate spec: what is kept, what is left to the new image."""

from __future__ import annotations

from typing import Any

from deployd.docker import REPLACES_LABEL, Container, Image, recreate_spec

OLD_ID = "a" * 64
IMAGE_CONFIG: dict[str, Any] = {
    "Env": ["PATH=/bin", "FOO=1"],
    "Cmd": ["/busybox", "sleep", "3600"],
    "Entrypoint": None,
    "Labels": {"org.image": "yes"},
    "ExposedPorts": {"80/tcp": {}},
    "Volumes": {"/data": {}},
    "WorkingDir": "/srv",
    "User": "",
    "StopSignal": "SIGQUIT",
}


def inspected(
    config: dict[str, Any] | None = None,
    host_config: dict[str, Any] | None = None,
    networks: dict[str, Any] | None = None,
    mounts: list[dict[str, Any]] | None = None,
) -> Container:
    base_config = {
        "Hostname": OLD_ID[:12],
        "Image": "127.0.0.1:5000/app:1",
        "Env": ["PATH=/bin", "FOO=1", "USERVAR=x"],
        "Cmd": ["/busybox", "sleep", "3600"],
        "Entrypoint": None,
        "Labels": {"org.image": "yes", "mine": "1"},
        "ExposedPorts": {"80/tcp": {}, "9000/tcp": {}},
        "Volumes": {"/data": {}},
        "WorkingDir": "/srv",
        "StopSignal": "SIGQUIT",
        **(config or {}),
    }
    return Container.from_engine(
        {
            "Id": OLD_ID,
            "Name": "/web",
            "Image": "sha256:" + "b" * 64,
            "State": {"Running": True},
            "Config": base_config,
            "HostConfig": {"NetworkMode": "net1", **(host_config or {})},
            "NetworkSettings": {"Networks": networks or {}},
            "Mounts": mounts or [],
        }
    )


def spec_for(container: Container, api: tuple[int, int] = (1, 41)) -> dict[str, Any]:
    image = Image.from_engine({"Id": "sha256:" + "b" * 64, "Config": IMAGE_CONFIG})
    spec = recreate_spec(
        container, image, network_mode=container.network_mode, api_version=api
    )
    return spec.body


def test_image_defaults_are_left_to_the_new_image() -> None:
    body = spec_for(inspected())

    assert body["Env"] == ["USERVAR=x"], "env: only the user-set variable is pinned"
    assert "Cmd" not in body, "cmd equal to the image's is left to the new image"
    assert "WorkingDir" not in body, "working dir equal to the image's is not pinned"
    assert "StopSignal" not in body, "stop signal equal to the image's is not pinned"
    assert body["ExposedPorts"] == {"9000/tcp": {}}, "only user-exposed ports kept"
    assert "Volumes" not in body, "image-declared volumes are not pinned"
    assert body["Labels"] == {"mine": "1", REPLACES_LABEL: OLD_ID}, "labels"


def test_user_values_that_differ_from_the_image_are_kept() -> None:
    body = spec_for(
        inspected({"Cmd": ["/busybox", "httpd"], "User": "65534", "WorkingDir": "/x"})
    )

    assert body["Cmd"] == ["/busybox", "httpd"], "user cmd kept"
    assert body["User"] == "65534", "user kept"
    assert body["WorkingDir"] == "/x", "working dir kept"


def test_user_entrypoint_keeps_a_cmd_equal_to_the_image_default() -> None:
    body = spec_for(inspected({"Entrypoint": ["/busybox"]}))

    assert body["Entrypoint"] == ["/busybox"], "user entrypoint kept"
    assert body["Cmd"] == ["/busybox", "sleep", "3600"], "cmd given with it is kept"


def test_default_hostname_is_not_pinned_but_a_chosen_one_is() -> None:
    assert "Hostname" not in spec_for(inspected()), "short-id hostname dropped"
    chosen = spec_for(inspected({"Hostname": "web01"}))
    assert chosen["Hostname"] == "web01", "chosen hostname kept"


def test_image_reference_is_the_configured_name() -> None:
    assert spec_for(inspected())["Image"] == "127.0.0.1:5000/app:1", "image ref"


def test_anonymous_volumes_are_mounted_again_by_name() -> None:
    mounts = [
        {"Type": "volume", "Name": "anon1", "Destination": "/data", "RW": True},
        {"Type": "volume", "Name": "named", "Destination": "/named", "RW": True},
        {"Type": "bind", "Source": "/host", "Destination": "/host", "RW": False},
    ]
    host = {"Binds": ["named:/named", "/host:/host:ro"]}
    body = spec_for(inspected(host_config=host, mounts=mounts))

    binds = body["HostConfig"]["Binds"]
    assert "anon1:/data" in binds, "anonymous volume carried over by name"
    assert binds.count("named:/named") == 1, "named volume not doubled"


def test_read_only_anonymous_volume_stays_read_only() -> None:
    mounts = [{"Type": "volume", "Name": "v", "Destination": "/ro", "RW": False}]
    body = spec_for(inspected(mounts=mounts))

    assert body["HostConfig"]["Binds"] == ["v:/ro:ro"], "read-only kept"


def test_links_are_turned_back_into_create_form() -> None:
    body = spec_for(inspected(host_config={"Links": ["/db:/web/database"]}))

    assert body["HostConfig"]["Links"] == ["db:database"], "link form"


def test_networks_keep_aliases_without_the_container_id_alias() -> None:
    networks = {
        "net1": {"Aliases": ["web", OLD_ID[:12]], "IPAMConfig": None},
        "net2": {
            "Aliases": ["second"],
            "IPAMConfig": {"IPv4Address": "10.9.0.5"},
            "DriverOpts": {"k": "v"},
        },
    }
    container = inspected(networks=networks)
    image = Image.from_engine({"Id": "x", "Config": IMAGE_CONFIG})

    old_api = recreate_spec(container, image, network_mode="net1", api_version=(1, 41))
    new_api = recreate_spec(container, image, network_mode="net1", api_version=(1, 44))

    create = old_api.body["NetworkingConfig"]["EndpointsConfig"]
    assert create == {"net1": {"Aliases": ["web"]}}, "one network at create before 1.44"
    assert old_api.later_networks == {
        "net2": {
            "Aliases": ["second"],
            "IPAMConfig": {"IPv4Address": "10.9.0.5"},
            "DriverOpts": {"k": "v"},
        }
    }, "the rest connected before start, with static IP and driver options"
    assert set(new_api.body["NetworkingConfig"]["EndpointsConfig"]) == {
        "net1",
        "net2",
    }, "all networks at create from 1.44"
    assert not new_api.later_networks, "nothing left to connect from 1.44"


def test_no_aliases_on_the_default_bridge_and_no_networks_for_host_mode() -> None:
    bridge = inspected(
        host_config={"NetworkMode": "default"},
        networks={"bridge": {"Aliases": ["x"]}},
    )
    host = inspected(host_config={"NetworkMode": "host"}, networks={"host": {}})

    bridge_body = spec_for(bridge)
    assert bridge_body["NetworkingConfig"]["EndpointsConfig"] == {"bridge": {}}, (
        "no aliases on the default bridge"
    )
    assert spec_for(host)["NetworkingConfig"]["EndpointsConfig"] == {}, "host mode"
    assert spec_for(host)["HostConfig"]["NetworkMode"] == "host", "mode kept"


def test_old_image_gone_keeps_every_value() -> None:
    container = inspected()
    spec = recreate_spec(container, None, network_mode="net1", api_version=(1, 41))

    assert spec.body["Env"] == ["PATH=/bin", "FOO=1", "USERVAR=x"], "env all kept"
    assert spec.body["Cmd"] == ["/busybox", "sleep", "3600"], "cmd kept"


def test_previous_replaces_label_is_not_carried_over() -> None:
    body = spec_for(inspected({"Labels": {REPLACES_LABEL: "f" * 64}}))

    assert body["Labels"] == {REPLACES_LABEL: OLD_ID}, "only the new replaces label"
