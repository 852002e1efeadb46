"""``deployd-cli token ...``: output, exit codes and the one-line failures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from deployd.tokens import Action, Tokens
from tests.cli_run import run_cli
from tests.factories import ContainerFactory
from tests.sandbox import Sandbox

Runner = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/deployd-test.sock")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    def run_argv(*argv: str) -> tuple[int, str, str]:
        result = run_cli(capsys, monkeypatch, *argv)
        return result.status, result.out, result.err

    return run_argv


def test_create_prints_only_the_token(run: Runner, data_dir: Path) -> None:
    status, out, err = run(
        "token", "create", "--container", "web", "--container", "db",
        "--action", "pull-recreate", "--expires", "24h", "--no-verify",
    )  # fmt: skip

    assert status == 0, err
    assert err == "", "nothing but the token may be printed"
    token = out.removesuffix("\n")
    assert "\n" not in token and token.startswith("v4.public."), "one token line"
    claims = Tokens(data_dir).verify(token)
    assert claims.containers == ("web", "db")
    assert claims.cleanup is True, "cleanup defaults on for pull-recreate"
    assert claims.expires_at is not None and claims.issued_at is not None
    assert claims.expires_at - claims.issued_at == timedelta(hours=24)


@pytest.mark.parametrize(
    ("options", "cleanup"),
    [
        (["--action", "pull-recreate", "--no-cleanup"], False),
        (["--action", "recreate"], False),
        (["--action", "restart"], False),
    ],
)
def test_cleanup_is_off_with_no_cleanup_or_other_actions(
    run: Runner,
    data_dir: Path,
    options: list[str],
    cleanup: bool,
) -> None:
    status, out, err = run(
        "token", "create", "--container", "web", "--no-verify", *options
    )

    assert status == 0, err
    claims = Tokens(data_dir).verify(out.strip())
    assert claims.cleanup is cleanup, f"cleanup must be {cleanup} for {options}"
    assert claims.expires_at is None, "tokens never expire by default"


def test_create_checks_the_engine_and_names_docker_host_when_unreachable(
    run: Runner,
) -> None:
    status, out, err = run(
        "token", "create", "--container", "web", "--action", "restart"
    )

    assert status == 1
    assert out == "", "no token when the check failed"
    assert err.count("\n") == 1, f"one line expected: {err!r}"
    assert "DOCKER_HOST" in err and "--no-verify" in err, err
    assert "Traceback" not in err


def test_create_on_the_engine_accepts_existing_and_names_missing_containers(
    run: Runner,
    monkeypatch: pytest.MonkeyPatch,
    sandbox: Sandbox,
    container_factory: ContainerFactory,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", sandbox.docker_host)
    present = container_factory(sandbox.base_image, start=False)

    status, out, err = run(
        "token", "create", "--container", present.name, "--action", "restart"
    )
    assert status == 0, err
    assert out.startswith("v4.public."), "an existing container must pass"

    missing = present.name + "-missing"
    status, out, err = run(
        "token", "create", "--container", present.name, "--container", missing,
        "--action", "restart",
    )  # fmt: skip
    assert status == 1, "a missing container must fail the command"
    assert out == ""
    assert missing in err and "--no-verify" in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "create", "--action", "restart"],
        ["token", "create", "--container", "web", "--action", "deploy"],
        ["token", "create", "--container", "web", "--action", "restart", "--expires",
         "soon"],
        ["token", "create", "--container", "web", "--action", "restart", "--expires",
         "0s"],
        ["token"],
        ["token", "revoke"],
        ["bogus"],
    ],
)  # fmt: skip
def test_usage_errors_exit_2(run: Runner, argv: list[str]) -> None:
    status, _, err = run(*argv)

    assert status == 2, f"{argv} is a usage error"
    assert "usage:" in err and "Traceback" not in err


def test_an_invalid_container_name_fails_with_one_line(
    run: Runner,
) -> None:
    status, _, err = run(
        "token", "create", "--container", "no spaces", "--action", "restart",
        "--no-verify",
    )  # fmt: skip

    assert status == 1
    assert err == (
        "deployd-cli: 'no spaces' is not a Docker container name: use letters, "
        "digits, '_', '.' and '-', starting with a letter or digit\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["token"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
        ["token", "inspect"],
        ["registry"],
        ["registry", "add"],
        ["registry", "list"],
        ["registry", "remove"],
    ],
)
def test_every_command_has_help(run: Runner, argv: list[str]) -> None:
    status, out, _ = run(*argv, "--help")

    assert status == 0, f"{argv} --help must succeed"
    assert out.startswith("usage: deployd-cli"), "help goes to stdout"


def test_list_shows_a_table_of_issued_tokens(run: Runner, data_dir: Path) -> None:
    tokens = Tokens(data_dir)
    token, first = tokens.mint(["web"], Action.PULL_AND_RECREATE, True, None)
    _, second = tokens.mint(["a", "b"], Action.RESTART, False, timedelta(hours=1))
    tokens.revoke(first.token_id)

    status, out, err = run("token", "list")

    assert status == 0, err
    header, *rows = out.splitlines()
    assert header.split() == [
        "ID", "CONTAINERS", "ACTION", "CLEANUP", "CREATED", "EXPIRES", "REVOKED"
    ]  # fmt: skip
    assert rows[0].split()[:4] == [first.token_id, "web", "pull-recreate", "yes"]
    assert "never" in rows[0] and rows[0].endswith("yes"), "never expires, revoked"
    assert rows[1].split()[:4] == [second.token_id, "a,b", "restart", "-"]
    assert rows[1].endswith("no"), "the second token is not revoked"
    assert token not in out, "the list must never show tokens"


def test_list_says_when_there_are_no_tokens(
    run: Runner,
) -> None:
    status, out, _ = run("token", "list")

    assert status == 0
    assert "No tokens issued yet" in out


def test_revoke_by_token_and_by_id(run: Runner, data_dir: Path) -> None:
    tokens = Tokens(data_dir)
    token, _ = tokens.mint(["web"], Action.RESTART, False, None)
    _, other = tokens.mint(["db"], Action.RESTART, False, None)

    assert run("token", "revoke", token)[:2] == (0, "Token revoked.\n")
    assert run("token", "revoke", token)[:2] == (0, "Token already revoked.\n")
    assert run("token", "revoke", other.token_id)[:2] == (0, "Token revoked.\n")
    assert [t.revoked for t in tokens.issued()] == [True, True]
    digests = json.loads((data_dir / "revoked-tokens.json").read_text())
    assert len(digests) == 2, (
        "a token minted here and revoked by id is listed by digest too, so the "
        "original tool refuses it as well"
    )


def test_revoke_of_an_unknown_id_or_foreign_token_fails_with_one_line(
    run: Runner,
) -> None:
    status, _, err = run("token", "revoke", "feedfacefeedface")
    assert status == 1
    assert err.startswith("deployd-cli: no token with id 'feedfacefeedface'")

    status, _, err = run("token", "revoke", "v4.public.bm9wZQ")
    assert status == 1
    assert err.count("\n") == 1 and "Traceback" not in err


def test_inspect_shows_claims_and_state(run: Runner, data_dir: Path) -> None:
    tokens = Tokens(data_dir)
    token, issued = tokens.mint(["web", "db"], Action.PULL_AND_RECREATE, True, None)
    tokens.revoke(token)

    status, out, err = run("token", "inspect", token)

    assert status == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines())
    shown = {key: value.strip() for key, value in fields.items()}
    assert shown["id"] == issued.token_id
    assert shown["containers"] == "web, db"
    assert shown["action"] == "Pull and recreate (pull-recreate)"
    assert shown["cleanup"] == "yes"
    assert shown["expires"] == "never"
    assert shown["expired"] == "no"
    assert shown["revoked"] == "yes"


def test_inspect_of_a_malformed_token_fails_with_one_line(
    run: Runner,
) -> None:
    status, out, err = run("token", "inspect", "hello")

    assert (status, out) == (1, "")
    assert err == (
        "deployd-cli: the token is not a PASETO v4.public token; "
        "copy it again in full\n"
    )


def test_a_missing_data_dir_fails_naming_it(
    run: Runner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setenv("DATA_DIR", str(missing))

    status, _, err = run("token", "list")

    assert status == 1
    assert str(missing) in err and err.count("\n") == 1, err


def test_the_module_runs_as_a_program_without_tracebacks(data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deployd.cli.main", "token", "inspect", "v4.public.x"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("deployd-cli: "), result.stderr
    assert "Traceback" not in result.stderr
