"""The Tokens facade on a real DATA_DIR: keys, minting, verifying and revoking."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyseto
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deployd.errors import (
    ClaimsInvalid,
    ConfigError,
    TokenBadSignature,
    TokenError,
    TokenExpired,
    TokenMalformed,
    TokenRevoked,
)
from deployd.tokens import Action, RevokeOutcome, Tokens
from deployd.tokens.claims import digest, format_time
from deployd.tokens.revocations import RECHECK_SECONDS, Revocations

UNPRIVILEGED = 65534


def original_key_file(data_dir: Path) -> Ed25519PrivateKey:
    """Write key.pem as the Node tool does: base64 of the 32-byte seed + public key."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    (data_dir / "key.pem").write_bytes(base64.b64encode(seed + public) + b"\n")

    return key


def sign_as_original(key: Ed25519PrivateKey, payload: dict[str, Any]) -> str:
    """Sign ``payload`` as compact JSON into a v4.public token, as Node paseto does."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    body = json.dumps(payload, separators=(",", ":")).encode()

    return bytes(pyseto.encode(pyseto.Key.new(4, "public", pem), body)).decode()


def original_payload(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "containerNames": ["web", "db"],
        "action": 0,
        "cleanup": True,
        "iat": format_time(now),
        "exp": format_time(now + timedelta(hours=1)),
    }
    payload.update(changes)

    return payload


@pytest.fixture
def tokens(data_dir: Path) -> Tokens:
    return Tokens(data_dir)


def test_minted_token_verifies_with_the_claims_it_was_made_with(
    tokens: Tokens,
) -> None:
    token, issued = tokens.mint(
        ["web", "db"], Action.PULL_AND_RECREATE, True, timedelta(hours=1)
    )
    claims = tokens.verify(token)

    assert token.startswith("v4.public."), "tokens must be PASETO v4.public"
    assert claims.containers == ("web", "db")
    assert claims.action is Action.PULL_AND_RECREATE
    assert claims.cleanup is True
    assert claims.token_id == issued.token_id == claims.fingerprint
    assert claims.expires_at == issued.expires_at
    assert claims.issued_at == issued.created_at


def test_minted_payload_is_in_the_original_form(tokens: Tokens) -> None:
    token, issued = tokens.mint(["web"], Action.RECREATE, True, timedelta(days=7))
    raw = base64.urlsafe_b64decode(token.split(".")[2] + "==")[:-64]
    payload = json.loads(raw)

    assert payload == {
        "containerNames": ["web"],
        "action": 1,
        "cleanup": False,
        "iat": format_time(issued.created_at),
        "exp": format_time(issued.created_at + timedelta(days=7)),
        "jti": issued.token_id,
    }, "payload must use the original keys, and cleanup only for pull-recreate"
    assert payload["iat"].endswith("Z") and len(payload["iat"]) == 24, "JS form"


def test_a_token_that_never_expires_has_no_exp(tokens: Tokens) -> None:
    token, issued = tokens.mint(["web"], Action.RESTART, False, None)

    assert issued.expires_at is None
    assert tokens.verify(token).expires_at is None, "no exp means never"


def test_a_token_signed_by_the_original_tool_verifies(data_dir: Path) -> None:
    key = original_key_file(data_dir)
    token = sign_as_original(key, original_payload())

    claims = Tokens(data_dir).verify(token)

    assert claims.containers == ("web", "db"), "the original's token must deploy"
    assert claims.token_id is None
    assert claims.fingerprint == digest(token)[:12]


def test_a_pkcs8_pem_key_file_is_accepted(data_dir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (data_dir / "key.pem").write_bytes(pem)

    claims = Tokens(data_dir).verify(sign_as_original(key, original_payload()))

    assert claims.action is Action.PULL_AND_RECREATE, "a PEM key must work too"


def test_the_created_key_file_has_the_original_layout_and_mode(
    data_dir: Path,
) -> None:
    tokens = Tokens(data_dir)
    path = data_dir / "key.pem"
    raw = base64.b64decode(path.read_bytes(), validate=True)
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])

    assert len(raw) == 64, "seed and public key, 64 bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "key.pem must be private"
    token = sign_as_original(key, original_payload())
    assert tokens.verify(token).containers == ("web", "db"), "seed must be ours"
    assert Tokens(data_dir).public_key_fingerprint() == (
        tokens.public_key_fingerprint()
    ), "a second start must load the same key"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not base64 at all!", "not base64"),
        (base64.b64encode(bytes(32)), "32 bytes"),
        (base64.b64encode(bytes(64)), "does not match"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PEM"),
    ],
)
def test_an_unusable_key_file_is_a_config_error_naming_it(
    data_dir: Path, content: bytes, reason: str
) -> None:
    (data_dir / "key.pem").write_bytes(content)

    with pytest.raises(ConfigError, match=reason) as caught:
        Tokens(data_dir)
    assert str(data_dir / "key.pem") in caught.value.message, "must name the file"


def test_a_missing_data_dir_is_a_config_error_naming_path_and_uid(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(ConfigError) as caught:
        Tokens(missing)
    assert str(missing) in caught.value.message, "must name DATA_DIR"
    assert f"uid {os.getuid()}" in caught.value.message, "must name the user"


def test_an_unwritable_data_dir_is_a_config_error_naming_path_and_uid() -> None:
    # Root writes anywhere, so the check runs in a child with an ordinary uid.
    data_dir = Path(tempfile.mkdtemp(prefix="deployd-test-"))
    data_dir.chmod(0o555)
    try:
        message = refusal_in_unprivileged_child(data_dir)
    finally:
        data_dir.chmod(0o700)
        shutil.rmtree(data_dir)

    assert str(data_dir) in message, f"must name DATA_DIR: {message}"
    assert "not writable" in message, f"must say it is not writable: {message}"
    assert f"uid {UNPRIVILEGED if os.getuid() == 0 else os.getuid()}" in message


def refusal_in_unprivileged_child(data_dir: Path) -> str:
    """Return the ConfigError message Tokens gives in a child without root."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        message = "no error"
        try:
            if os.getuid() == 0:
                os.setgid(UNPRIVILEGED)
                os.setuid(UNPRIVILEGED)
            Tokens(data_dir)
        except ConfigError as exc:
            message = exc.message
        finally:
            os.write(write_end, message.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        message = stream.read()
    os.waitpid(pid, 0)

    return message


def test_an_expired_token_is_refused(data_dir: Path) -> None:
    key = original_key_file(data_dir)
    past = datetime.now(UTC) - timedelta(minutes=5)
    token = sign_as_original(
        key, original_payload(iat=format_time(past), exp=format_time(past))
    )
    tokens = Tokens(data_dir)

    with pytest.raises(TokenExpired, match="expired at"):
        tokens.verify(token)
    assert tokens.inspect(token).expired is True, "inspect must say expired"


def test_an_exp_in_another_offset_is_read_correctly(data_dir: Path) -> None:
    key = original_key_file(data_dir)
    soon = datetime.now(UTC) + timedelta(minutes=30)
    offset = soon.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    token = sign_as_original(key, original_payload(exp=offset))

    assert Tokens(data_dir).verify(token).expires_at is not None


def test_a_token_from_another_key_has_a_bad_signature(
    tokens: Tokens, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    token, _ = Tokens(other).mint(["web"], Action.RESTART, False, None)

    with pytest.raises(TokenBadSignature, match="not signed by this deployd"):
        tokens.verify(token)
    with pytest.raises(TokenBadSignature):
        tokens.inspect(token)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "v4.public.",
        "v4.local.AAAA",
        "v2.public.eyJ9",
        "v4.public.AAAA",
        "v4.public.ab!cd",
        "v4.public.A",
        "v4.public.äöü",
    ],
)
def test_malformed_strings_are_token_malformed(tokens: Tokens, text: str) -> None:
    with pytest.raises(TokenMalformed):
        tokens.verify(text)


def test_a_payload_that_is_not_a_json_object_is_malformed(data_dir: Path) -> None:
    key = original_key_file(data_dir)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    secret = pyseto.Key.new(4, "public", pem)
    tokens = Tokens(data_dir)

    for body in (b"[1, 2]", b"not json", b"\xff\xfe"):
        token = bytes(pyseto.encode(secret, body)).decode()
        with pytest.raises(TokenMalformed, match="claims"):
            tokens.verify(token)


def test_a_genuine_token_with_bad_claims_is_claims_invalid(data_dir: Path) -> None:
    key = original_key_file(data_dir)
    token = sign_as_original(key, original_payload(action=7))

    with pytest.raises(ClaimsInvalid, match="action 7"):
        Tokens(data_dir).verify(token)


def test_a_non_canonical_copy_of_a_revoked_token_is_still_refused(
    tokens: Tokens,
) -> None:
    token, _ = tokens.mint(["web"], Action.RESTART, False, None)
    tokens.revoke(token)
    # pyseto's decoder would skip a stray character and verify the rest.
    padded = token[:20] + "!" + token[20:]

    with pytest.raises(TokenMalformed):
        tokens.verify(padded)


def test_revoking_by_token_writes_the_original_digest_list(
    data_dir: Path, tokens: Tokens
) -> None:
    token, issued = tokens.mint(["web"], Action.RESTART, False, None)

    assert tokens.revoke(token) is RevokeOutcome.REVOKED
    assert tokens.revoke(token) is RevokeOutcome.ALREADY_REVOKED, "second is a no-op"
    assert tokens.revoke(issued.token_id) is RevokeOutcome.ALREADY_REVOKED
    listed = json.loads((data_dir / "revoked-tokens.json").read_text())
    assert listed == [digest(token)], "revoked-tokens.json: sha512 hex of the token"
    mode = stat.S_IMODE((data_dir / "revoked-tokens.json").stat().st_mode)
    assert mode == 0o600, "revocation files must be private"
    with pytest.raises(TokenRevoked):
        tokens.verify(token)


def test_revoking_by_id_also_lists_the_digest_for_the_original_tool(
    data_dir: Path, tokens: Tokens
) -> None:
    token, issued = tokens.mint(["web"], Action.RESTART, False, None)

    assert tokens.revoke(issued.token_id) is RevokeOutcome.REVOKED
    ids = json.loads((data_dir / "revoked-ids.json").read_text())
    digests = json.loads((data_dir / "revoked-tokens.json").read_text())
    assert ids == [issued.token_id], "the id must be listed in deployd's own file"
    assert digests == [digest(token)], "the digest must be listed for the original"
    assert tokens.inspect(token).revoked is True
    assert [t.revoked for t in tokens.issued()] == [True], "list must say revoked"


def test_a_record_without_a_digest_is_revoked_by_id_until_the_token_is_pasted(
    data_dir: Path, tokens: Tokens
) -> None:
    token, issued = tokens.mint(["web"], Action.RESTART, False, None)
    record = data_dir / "issued-tokens.json"
    entries = json.loads(record.read_text())
    record.write_text(json.dumps([{**entries[0], "digest": None}]))

    assert tokens.revoke(issued.token_id) is RevokeOutcome.REVOKED
    assert not (data_dir / "revoked-tokens.json").exists(), (
        "without a digest only deployd's id list can name the token"
    )
    assert tokens.revoke(token) is RevokeOutcome.ALREADY_REVOKED
    digests = json.loads((data_dir / "revoked-tokens.json").read_text())
    assert digests == [digest(token)], (
        "pasting the token lists its digest for the original tool, even when "
        "deployd already refused it by id"
    )


def test_revoking_an_unknown_id_is_a_token_error_naming_it(tokens: Tokens) -> None:
    with pytest.raises(TokenError, match="'0123456789abcdef'"):
        tokens.revoke("0123456789abcdef")


def test_revoking_a_foreign_token_is_refused(tokens: Tokens, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    token, _ = Tokens(other).mint(["web"], Action.RESTART, False, None)

    with pytest.raises(TokenBadSignature):
        tokens.revoke(token)
    with pytest.raises(TokenMalformed):
        tokens.revoke("v4.public.garbage!")


def test_a_running_instance_honours_a_revocation_within_a_second(
    data_dir: Path,
) -> None:
    daemon = Tokens(data_dir)
    cli = Tokens(data_dir)
    by_token, _ = cli.mint(["web"], Action.RESTART, False, None)
    by_id, issued = cli.mint(["db"], Action.RESTART, False, None)
    daemon.verify(by_token)
    daemon.verify(by_id)

    cli.revoke(by_token)
    cli.revoke(issued.token_id)

    assert refused_within(daemon, by_token, 1.0), "revocation by token not seen in 1s"
    assert refused_within(daemon, by_id, 1.0), "revocation by id not seen in 1s"


def test_a_revocation_written_by_the_original_tool_is_honoured(
    data_dir: Path,
) -> None:
    key = original_key_file(data_dir)
    token = sign_as_original(key, original_payload())
    daemon = Tokens(data_dir)
    daemon.verify(token)

    (data_dir / "revoked-tokens.json").write_text(json.dumps([digest(token)]))

    assert refused_within(daemon, token, 1.0), "the original's revocation not seen"


def refused_within(tokens: Tokens, token: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            tokens.verify(token)
        except TokenRevoked:
            return True
        time.sleep(0.05)

    return False


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_revocation_files_are_looked_at_at_most_every_half_second(
    data_dir: Path,
) -> None:
    clock = FakeClock()
    revocations = Revocations(data_dir, clock=clock)
    (data_dir / "revoked-ids.json").write_text('["abc"]')

    clock.now += RECHECK_SECONDS / 2
    assert not revocations.is_revoked(None, "abc"), "must not stat before the period"
    clock.now += RECHECK_SECONDS
    assert revocations.is_revoked(None, "abc"), "must reload after the period"


def test_a_half_written_revocation_file_keeps_the_previous_list(
    data_dir: Path,
) -> None:
    clock = FakeClock()
    (data_dir / "revoked-ids.json").write_text('["abc"]')
    revocations = Revocations(data_dir, clock=clock)

    (data_dir / "revoked-ids.json").write_text('["abc", "de')
    clock.now += RECHECK_SECONDS * 2
    assert revocations.is_revoked(None, "abc"), "a broken file must not unrevoke"

    (data_dir / "revoked-ids.json").write_text('["abc", "def"]')
    clock.now += RECHECK_SECONDS * 2
    assert revocations.is_revoked(None, "def"), "the fixed file must be read"


def test_a_malformed_revocation_file_at_start_is_a_config_error(
    data_dir: Path,
) -> None:
    (data_dir / "revoked-tokens.json").write_text('{"not": "a list"}')

    with pytest.raises(ConfigError, match=r"revoked-tokens\.json"):
        Tokens(data_dir)


def test_issued_records_describe_tokens_without_holding_them(
    data_dir: Path, tokens: Tokens
) -> None:
    first, _ = tokens.mint(["web"], Action.PULL_AND_RECREATE, True, timedelta(hours=2))
    second, _ = tokens.mint(["db"], Action.RESTART, True, None)
    records = Tokens(data_dir).issued()
    text = (data_dir / "issued-tokens.json").read_text()

    assert [r.containers for r in records] == [("web",), ("db",)], "oldest first"
    assert [r.cleanup for r in records] == [True, False], "cleanup only on pull"
    assert records[1].expires_at is None
    assert first not in text and second not in text, "the record must not hold tokens"
    mode = stat.S_IMODE((data_dir / "issued-tokens.json").stat().st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(
    ("containers", "expires_in", "reason"),
    [
        ([], None, "no container"),
        (["bad name"], None, "not a Docker container name"),
        (["web"], timedelta(0), "longer than zero"),
        (["web"], timedelta(days=365 * 101), "100 years"),
    ],
)
def test_mint_refuses_what_no_deploy_could_use(
    tokens: Tokens,
    containers: list[str],
    expires_in: timedelta | None,
    reason: str,
) -> None:
    with pytest.raises(ClaimsInvalid, match=reason):
        tokens.mint(containers, Action.RESTART, False, expires_in)


def test_logs_never_contain_the_token(data_dir: Path) -> None:
    key = original_key_file(data_dir)
    original = sign_as_original(key, original_payload())
    with structlog.testing.capture_logs() as logs:
        tokens = Tokens(data_dir)
        token, issued = tokens.mint(["web"], Action.RESTART, False, None)
        tokens.verify(token)
        tokens.verify(original)
        tokens.revoke(token)
        tokens.revoke(original)
        for refused in (token, original, token[:-3] + "AAA", "v4.public.x!"):
            with pytest.raises(TokenError):
                tokens.verify(refused)
    rendered = repr(logs)

    assert {entry["event"] for entry in logs} >= {
        "token_minted",
        "token_verified",
        "token_revoked",
        "token_rejected",
    }, "the token events must be logged"
    for secret in (token, original, token[10:60], original[10:60]):
        assert secret not in rendered, "a token (or part of one) leaked into the logs"
    assert issued.token_id in rendered, "logs should name tokens by id"
