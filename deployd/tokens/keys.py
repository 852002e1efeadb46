"""The daemon's Ed25519 signing key in DATA_DIR/key.pem, in the original tool's layout.

The original Node tool stores the key as base64 of the 64 bytes that the
``paseto`` library's V4 ``keyObjectToBytes`` returns: the 32-byte private seed
followed by the 32-byte public key. deployd reads that layout, or a PKCS8 PEM,
and writes the original layout when it creates a key, so either tool can use
the other's DATA_DIR.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

import pyseto
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pyseto import KeyInterface

from deployd.errors import ConfigError
from deployd.tokens.jsonfiles import write_private

log = structlog.get_logger(__name__)

KEY_FILE = "key.pem"
_SEED_BYTES = 32
_PUBLIC_BYTES = 32


@dataclass(frozen=True)
class SigningKey:
    """The key pair as pyseto uses it: ``secret`` signs, ``public`` verifies."""

    secret: KeyInterface
    public: KeyInterface

    @property
    def fingerprint(self) -> str:
        """Return the PASERK id of the public key (``k4.pid....``), safe to show."""
        return str(self.public.to_paserk_id())


def load_or_create(data_dir: Path) -> SigningKey:
    """Return the key in ``data_dir``, creating it (mode 0600) when there is none.

    Raises ConfigError naming the file when it cannot be read or written, or
    holds something other than an Ed25519 key.
    """
    path = data_dir / KEY_FILE
    if not path.exists():
        created = Ed25519PrivateKey.generate()
        if write_private(path, encode_original(created), replace=False):
            log.info("signing_key_created", path=str(path))
            return _signing_key(created)

    return _signing_key(decode(_read(path), path))


def encode_original(key: Ed25519PrivateKey) -> bytes:
    """Return ``key`` as the original tool writes key.pem: base64 of seed + public."""
    seed = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )

    return base64.b64encode(seed + _public_bytes(key.public_key()))


def decode(content: bytes, path: Path) -> Ed25519PrivateKey:
    """Return the private key in key.pem's ``content``: the original layout or PEM.

    Raises ConfigError naming ``path`` when the content is neither.
    """
    text = content.strip()
    if text.startswith(b"-----BEGIN"):
        return _decode_pem(text, path)
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ConfigError(_not_a_key(path, "it is not base64 or PEM")) from exc
    if len(raw) != _SEED_BYTES + _PUBLIC_BYTES:
        raise ConfigError(_not_a_key(path, f"it holds {len(raw)} bytes, not 64"))
    key = Ed25519PrivateKey.from_private_bytes(raw[:_SEED_BYTES])
    if _public_bytes(key.public_key()) != raw[_SEED_BYTES:]:
        raise ConfigError(_not_a_key(path, "its public half does not match its seed"))

    return key


def _decode_pem(text: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(text, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(_not_a_key(path, "its PEM is not readable")) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(_not_a_key(path, "its PEM holds another kind of key"))

    return key


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {(exc.strerror or str(exc)).lower()}; "
            f"make it readable for uid {os.getuid()}"
        ) from exc


def _signing_key(key: Ed25519PrivateKey) -> SigningKey:
    secret_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    return SigningKey(
        secret=pyseto.Key.new(4, "public", secret_pem),
        public=pyseto.Key.new(4, "public", public_pem),
    )


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _not_a_key(path: Path, why: str) -> str:
    return (
        f"{path} is not an Ed25519 signing key ({why}); restore it from a backup, "
        "or move it away to create a new key and new tokens"
    )
