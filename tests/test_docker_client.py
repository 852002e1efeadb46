"""The engine client's pure parts: error translation and image references."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployd.docker import Docker, is_image_id, normalise_registry, parse
from deployd.docker.client import error_from_response
from deployd.errors import Conflict, EngineError, EngineUnreachable, NotFound


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, EngineError), (404, NotFound), (409, Conflict), (500, EngineError)],
)
def test_every_engine_status_maps_to_a_typed_error(
    status: int, kind: type[EngineError]
) -> None:
    error = error_from_response(status, json.dumps({"message": "boom"}).encode(), "/x")

    assert type(error) is kind, f"HTTP {status} becomes {kind.__name__}"
    assert error.status == status, "the engine's status is kept"
    assert error.message == "boom", "the engine's own message is kept"


def test_an_engine_answer_without_json_keeps_its_text() -> None:
    error = error_from_response(500, b"plain failure\n", "/x")

    assert error.message == "plain failure", "text body becomes the message"


def test_an_empty_engine_answer_names_the_status_and_path() -> None:
    assert error_from_response(502, b"", "/p").message == "HTTP 502 on /p"


@pytest.mark.parametrize(
    ("text", "registry", "name", "version"),
    [
        ("busybox", "docker.io", "library/busybox", "latest"),
        ("team/app:1.2", "docker.io", "team/app", "1.2"),
        ("127.0.0.1:5000/app:v2", "127.0.0.1:5000", "127.0.0.1:5000/app", "v2"),
        ("localhost/app", "localhost", "localhost/app", "latest"),
        (
            "ghcr.io/o/r@sha256:" + "a" * 64,
            "ghcr.io",
            "ghcr.io/o/r",
            "sha256:" + "a" * 64,
        ),
        ("registry-1.docker.io/team/app", "docker.io", "team/app", "latest"),
    ],
)
def test_references_split_into_registry_name_and_version(
    text: str, registry: str, name: str, version: str
) -> None:
    ref = parse(text)

    assert (ref.registry, ref.name, ref.version) == (registry, name, version), text


@pytest.mark.parametrize(
    "host",
    [
        "",
        "docker.io",
        "index.docker.io",
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
    ],
)
def test_docker_hub_has_one_name(host: str) -> None:
    assert normalise_registry(host) == "docker.io", f"{host!r} is Docker Hub"


def test_image_ids_are_told_from_names() -> None:
    assert is_image_id("sha256:" + "0" * 64), "full id"
    assert is_image_id("0" * 64), "bare 64 hex"
    assert not is_image_id("busybox"), "a name"
    assert not is_image_id("deadbeef"), "short hex is a possible name"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_/:@", max_size=60))
def test_parse_never_fails_on_reference_like_text(text: str) -> None:
    ref = parse(text)

    assert ref.version, "there is always something to pull"


async def test_a_missing_socket_is_named_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    async with Docker(f"unix://{path}") as docker:
        with pytest.raises(EngineUnreachable) as caught:
            await docker.system.ping()

    assert caught.value.message == (
        f"there is no Docker socket at {path}; start dockerd, or set DOCKER_HOST "
        "to the engine's socket"
    ), "a missing socket is said plainly"


async def test_a_socket_nobody_listens_on_is_a_refused_connection(
    tmp_path: Path,
) -> None:
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))  # bound but never listening: connections are refused
        async with Docker(f"unix://{path}") as docker:
            with pytest.raises(EngineUnreachable, match=f"nothing answers at {path}"):
                await docker.system.ping()


async def test_an_engine_that_never_answers_times_out(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(str(path))
        silent.listen()
        async with Docker(f"unix://{path}", timeout=0.5) as docker:
            with pytest.raises(EngineUnreachable, match="did not answer in time"):
                await docker.system.ping()
