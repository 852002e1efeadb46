"""``deployd-cli registry ...``: logins in, usernames out, passwords never."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployd.registries import RegistryLogins
from tests.cli_run import run_cli
from tests.sandbox import Sandbox


@pytest.fixture(autouse=True)
def environment(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    # No engine unless a test names the sandbox's: never the machine's own.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    result = run_cli(capsys, monkeypatch, *argv, stdin=stdin)

    return result.status, result.out, result.err


def test_add_reads_the_password_from_stdin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
) -> None:
    status, out, err = run(
        capsys,
        monkeypatch,
        "registry", "add", "https://index.docker.io/v1/", "--username", "bob",
        "--password-stdin", "--no-verify",
        stdin="s3cret\n",
    )  # fmt: skip

    assert (status, out, err) == (0, "Saved the login for docker.io.\n", "")
    logins = RegistryLogins(data_dir)
    assert logins.get("docker.io") == ("bob", "s3cret"), "one trailing newline dropped"

    status, out, _ = run(
        capsys,
        monkeypatch,
        "registry", "add", "docker.io", "--username", "alice", "--password-stdin",
        "--no-verify",
        stdin="other",
    )  # fmt: skip
    assert (status, out) == (0, "Replaced the login for docker.io.\n")


def test_add_saves_a_login_only_after_the_registry_accepted_it(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    sandbox: Sandbox,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", sandbox.docker_host)
    host, user = sandbox.auth_registry, sandbox.auth_user

    status, out, err = run(
        capsys,
        monkeypatch,
        "registry", "add", host, "--username", user, "--password-stdin",
        stdin="wrongpass\n",
    )  # fmt: skip
    assert (status, out) == (1, ""), "a refused login fails"
    assert err.startswith(f"deployd-cli: the registry {host} refused the login"), err
    assert err.count("\n") == 1, "one line on stderr"
    assert "nothing was saved" in err
    assert "wrongpass" not in err, "the password is never shown"
    assert RegistryLogins(data_dir).get(host) is None, "a refused login is not saved"

    status, out, err = run(
        capsys,
        monkeypatch,
        "registry", "add", host, "--username", user, "--password-stdin",
        stdin=sandbox.auth_password + "\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out == f"Saved the login for {host}, which the registry accepted.\n"
    assert RegistryLogins(data_dir).get(host) == (user, sandbox.auth_password)


def test_add_without_an_engine_fails_naming_docker_host_and_no_verify(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    status, out, err = run(
        capsys,
        monkeypatch,
        "registry", "add", "ghcr.io", "--username", "bob", "--password-stdin",
        stdin="pw\n",
    )  # fmt: skip

    assert (status, out) == (1, "")
    assert f"unix://{tmp_path}/no-engine.sock (DOCKER_HOST)" in err, "names the engine"
    assert "--no-verify" in err, "suggests skipping the check"
    assert err.count("\n") == 1, "one line on stderr"
    assert not (data_dir / "registry-auth.json").exists(), "nothing was saved"

    status, out, _ = run(
        capsys,
        monkeypatch,
        "registry", "add", "ghcr.io", "--username", "bob", "--password-stdin",
        "--no-verify",
        stdin="pw\n",
    )  # fmt: skip
    assert (status, out) == (0, "Saved the login for ghcr.io.\n"), "--no-verify saves"
    assert RegistryLogins(data_dir).get("ghcr.io") == ("bob", "pw")


@pytest.mark.parametrize("host", ["", " "])
def test_add_with_an_empty_host_is_a_usage_error_naming_docker_io(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    host: str,
) -> None:
    status, out, err = run(
        capsys,
        monkeypatch,
        "registry", "add", host, "--username", "bob", "--password-stdin",
        "--no-verify",
        stdin="pw\n",
    )  # fmt: skip

    assert (status, out) == (2, ""), "an empty host is a usage error"
    assert "docker.io for Docker Hub" in err, "Docker Hub must be named"
    assert not (data_dir / "registry-auth.json").exists(), "nothing was saved"


def test_add_without_password_stdin_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, err = run(
        capsys, monkeypatch, "registry", "add", "ghcr.io", "--username", "bob"
    )

    assert status == 2
    assert "--password-stdin" in err


def test_add_with_an_empty_password_fails_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, err = run(
        capsys,
        monkeypatch,
        "registry", "add", "ghcr.io", "--username", "bob", "--password-stdin",
        stdin="\n",
    )  # fmt: skip

    assert status == 1
    assert err == "deployd-cli: the password is empty; pass it on stdin\n"


def test_list_shows_hosts_and_usernames_never_passwords(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
) -> None:
    logins = RegistryLogins(data_dir)
    logins.add("ghcr.io", "gh-user", "gh-password")
    logins.add("127.0.0.1:5000", "local", "local-password")

    status, out, _ = run(capsys, monkeypatch, "registry", "list")

    assert status == 0
    assert [line.split() for line in out.splitlines()] == [
        ["HOST", "USERNAME"],
        ["127.0.0.1:5000", "local"],
        ["ghcr.io", "gh-user"],
    ]
    assert "password" not in out, "passwords must never be listed"


def test_list_says_when_there_are_no_logins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run(capsys, monkeypatch, "registry", "list")

    assert status == 0
    assert "No registry logins stored" in out


def test_remove_forgets_the_login_and_fails_when_there_is_none(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
) -> None:
    RegistryLogins(data_dir).add("ghcr.io", "bob", "pw")

    status, out, _ = run(capsys, monkeypatch, "registry", "remove", "ghcr.io")
    assert (status, out) == (0, "Removed the login for ghcr.io.\n")

    status, out, err = run(capsys, monkeypatch, "registry", "remove", "ghcr.io")
    assert (status, out) == (1, "")
    assert err == "deployd-cli: no login is stored for ghcr.io; nothing was removed\n"
