"""Registry logins in registry-auth.json, in the original tool's format."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import structlog

from deployd.docker import Docker
from deployd.errors import ConfigError, EngineError, EngineUnreachable
from deployd.registries import (
    RegistryLogin,
    RegistryLogins,
    check_and_add,
    normalise_host,
)
from tests.sandbox import Sandbox


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("https://Registry.Example.com/v2/", "registry.example.com"),
        ("registry.example.com:5000", "registry.example.com:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("", "docker.io"),
    ],
)
def test_normalise_host_files_every_spelling_under_one_host(
    text: str, host: str
) -> None:
    assert normalise_host(text) == host, f"{text!r} should be filed as {host}"


def auth_file(data_dir: Path) -> Path:
    return data_dir / "registry-auth.json"


def test_added_login_is_written_in_the_original_auth_form(data_dir: Path) -> None:
    logins = RegistryLogins(data_dir)

    assert logins.add("https://GHCR.io/", "bob", "s3:cr:et") is False, "a new login"
    stored = json.loads(auth_file(data_dir).read_text())

    assert stored == {"ghcr.io": {"auth": base64.b64encode(b"bob:s3:cr:et").decode()}}
    assert stat.S_IMODE(auth_file(data_dir).stat().st_mode) == 0o600, "private file"
    assert logins.get("ghcr.io") == ("bob", "s3:cr:et"), "a colon in passwords is kept"


def test_docker_hub_aliases_find_the_docker_hub_login(data_dir: Path) -> None:
    logins = RegistryLogins(data_dir)
    logins.add("https://index.docker.io/v1/", "bob", "pw")

    for alias in ("docker.io", "index.docker.io", "registry-1.docker.io", ""):
        assert logins.get(alias) == ("bob", "pw"), f"{alias!r} must match Docker Hub"
    assert logins.get("ghcr.io") is None, "another host must not match"


def test_adding_again_replaces_the_login(data_dir: Path) -> None:
    logins = RegistryLogins(data_dir)
    logins.add("docker.io", "bob", "old")

    assert logins.add("index.docker.io", "alice", "new") is True, "must say replaced"
    assert logins.list() == [RegistryLogin("docker.io", "alice")]
    assert logins.get("docker.io") == ("alice", "new")


def test_both_stored_forms_are_read_and_other_entries_kept(data_dir: Path) -> None:
    original = {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
        "ghcr.io": {"username": "gh", "password": "token"},
        "broken.example": {"auth": "%%%"},
    }
    auth_file(data_dir).write_text(json.dumps(original))
    logins = RegistryLogins(data_dir)

    with structlog.testing.capture_logs() as logs:
        listed = logins.list()
    assert listed == [RegistryLogin("docker.io", "hub"), RegistryLogin("ghcr.io", "gh")]
    assert [entry["event"] for entry in logs] == ["registry_login_unreadable"]
    assert logins.get("ghcr.io") == ("gh", "token"), "username/password form is read"

    logins.add("quay.io", "q", "pw")
    stored = json.loads(auth_file(data_dir).read_text())
    assert {k: v for k, v in stored.items() if k != "quay.io"} == original, (
        "entries deployd did not touch must stay as they were"
    )


def test_remove_forgets_a_login_and_says_whether_there_was_one(
    data_dir: Path,
) -> None:
    logins = RegistryLogins(data_dir)
    logins.add("ghcr.io", "bob", "pw")

    assert logins.remove("https://ghcr.io") is True
    assert logins.remove("ghcr.io") is False, "nothing left to remove"
    assert logins.list() == []


def test_no_file_means_no_logins(data_dir: Path) -> None:
    logins = RegistryLogins(data_dir)

    assert logins.list() == []
    assert logins.get("docker.io") is None
    assert logins.remove("docker.io") is False


@pytest.mark.parametrize(
    ("host", "username", "password", "reason"),
    [
        ("not a host", "bob", "pw", "not a registry host"),
        ("ghcr.io", "", "pw", "username"),
        ("ghcr.io", "bo:b", "pw", "colon"),
        ("ghcr.io", "bob", "", "password is empty"),
        ("", "bob", "pw", "host is empty.*docker.io"),
        ("  ", "bob", "pw", "host is empty"),
    ],
)
def test_add_refuses_logins_that_cannot_be_stored(
    data_dir: Path, host: str, username: str, password: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        RegistryLogins(data_dir).add(host, username, password)
    assert not auth_file(data_dir).exists(), "nothing must be written"


def test_a_file_that_is_not_an_object_is_a_config_error_naming_it(
    data_dir: Path,
) -> None:
    auth_file(data_dir).write_text("[]")

    with pytest.raises(ConfigError, match=r"registry-auth\.json"):
        RegistryLogins(data_dir).list()


def test_a_missing_data_dir_is_a_config_error_on_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="uid"):
        RegistryLogins(tmp_path / "missing").add("ghcr.io", "bob", "pw")


def test_logs_never_contain_the_password(data_dir: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        logins = RegistryLogins(data_dir)
        logins.add("ghcr.io", "bob", "hunter2-secret")
        logins.add("ghcr.io", "bob", "hunter2-secret")
        logins.remove("ghcr.io")

    assert logs, "saving and removing must be logged"
    assert "hunter2-secret" not in repr(logs), "a password leaked into the logs"
    assert base64.b64encode(b"bob:hunter2-secret").decode() not in repr(logs)


async def test_check_and_add_stores_a_login_the_registry_accepts(
    sandbox: Sandbox, data_dir: Path
) -> None:
    logins = RegistryLogins(data_dir)
    async with Docker.from_env(sandbox.docker_host) as docker:
        replaced = await check_and_add(
            logins,
            docker,
            f"http://{sandbox.auth_registry}/",
            sandbox.auth_user,
            sandbox.auth_password,
        )

    assert replaced is False, "there was no login to replace"
    assert logins.get(sandbox.auth_registry) == (
        sandbox.auth_user,
        sandbox.auth_password,
    ), "an accepted login is stored under the normalised host"


async def test_check_and_add_stores_nothing_the_registry_refuses(
    sandbox: Sandbox, data_dir: Path
) -> None:
    async with Docker.from_env(sandbox.docker_host) as docker:
        with pytest.raises(EngineError) as raised:
            await check_and_add(
                RegistryLogins(data_dir),
                docker,
                sandbox.auth_registry,
                sandbox.auth_user,
                "wrong-password",
            )

    assert not isinstance(raised.value, EngineUnreachable), "the engine answered"
    assert "wrong-password" not in raised.value.message, "the password is not shown"
    assert not auth_file(data_dir).exists(), "a refused login is not stored"


async def test_check_and_add_refuses_an_unstorable_login_before_the_engine(
    data_dir: Path, tmp_path: Path
) -> None:
    # No engine listens there: reaching it would raise EngineUnreachable instead.
    async with Docker.from_env(f"unix://{tmp_path}/docker.sock") as docker:
        with pytest.raises(ConfigError, match="host is empty"):
            await check_and_add(RegistryLogins(data_dir), docker, "", "bob", "pw")
        with pytest.raises(EngineUnreachable):
            await check_and_add(RegistryLogins(data_dir), docker, "a.io", "bob", "pw")

    assert not auth_file(data_dir).exists(), "nothing is stored"


async def test_check_and_add_without_an_engine_stores_the_login_unchecked(
    data_dir: Path,
) -> None:
    logins = RegistryLogins(data_dir)

    assert await check_and_add(logins, None, "ghcr.io", "bob", "pw") is False
    assert logins.get("ghcr.io") == ("bob", "pw"), "stored without a check"
