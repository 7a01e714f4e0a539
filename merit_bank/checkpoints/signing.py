"""The checkpoint signature: Ed25519 over `"{village_code}|{seq}|{hash}|{at}"` (see docs/ledger.md).

Kept free of Flask and the database on purpose: a witness on a villager's laptop needs only this module
and the published public key to check what a deployment signed.

The private key comes from `CHECKPOINT_SIGNING_KEY` (the base64 of 32 raw bytes) or from the file named by
`CHECKPOINT_SIGNING_KEY_FILE` (the same text), never from the database: whoever can write the database
must not also be able to sign. With neither set, development and tests derive a key from `SECRET_KEY`;
production refuses to start without one (config.Config.check_production_ready).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RAW = serialization.Encoding.Raw


class SigningKeyError(ValueError):
    """The configured signing key is missing or malformed; the message names the setting."""


def message(village_code: str, seq: int, hash_hex: str, at: str) -> bytes:
    """The exact bytes that are signed."""
    return f"{village_code}|{seq}|{hash_hex}|{at}".encode()


def _decode_raw_key(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningKeyError(f"{source} is not base64: {exc}") from exc
    if len(raw) != 32:
        raise SigningKeyError(f"{source} must be the base64 of 32 raw bytes, not {len(raw)} bytes")
    return raw


def development_key(secret_key: str) -> Ed25519PrivateKey:
    """The deterministic key of a deployment that configured none (development and tests only)."""
    seed = hashlib.sha256(b"merit-bank:checkpoint-signing:" + secret_key.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_private_key(setting: str, file_setting: str, secret_key: str) -> tuple[Ed25519PrivateKey, bool]:
    """The signing key and whether it is a configured one (False: derived from SECRET_KEY)."""
    if setting:
        return Ed25519PrivateKey.from_private_bytes(_decode_raw_key(setting, "CHECKPOINT_SIGNING_KEY")), True
    if file_setting:
        try:
            text = Path(file_setting).read_text(encoding="utf-8")
        except OSError as exc:
            raise SigningKeyError(
                f"CHECKPOINT_SIGNING_KEY_FILE {file_setting} cannot be read: {exc}"
            ) from exc
        raw = _decode_raw_key(text, f"CHECKPOINT_SIGNING_KEY_FILE {file_setting}")
        return Ed25519PrivateKey.from_private_bytes(raw), True
    return development_key(secret_key), False


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    return base64.b64encode(
        private_key.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    ).decode()


def sign(private_key: Ed25519PrivateKey, village_code: str, seq: int, hash_hex: str, at: str) -> str:
    """Base64 of the 64-byte Ed25519 signature."""
    return base64.b64encode(private_key.sign(message(village_code, seq, hash_hex, at))).decode()


def verify(public_key: str, checkpoint: dict) -> bool:
    """Whether `checkpoint` ({village_code, seq, hash, at, signature}) was signed by `public_key` (base64).

    Anything malformed (a missing field, bad base64, a wrong length) is simply "not signed by that key".
    """
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        signature = base64.b64decode(checkpoint["signature"], validate=True)
        seq = checkpoint["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            return False
        key.verify(
            signature,
            message(str(checkpoint["village_code"]), seq, str(checkpoint["hash"]), str(checkpoint["at"])),
        )
    except (InvalidSignature, KeyError, TypeError, ValueError, binascii.Error):
        return False
    return True


def fingerprint(hash_hex: str) -> str:
    """The first 16 characters of the base32 of the hash: 80 bits, short enough to copy by hand."""
    return base64.b32encode(bytes.fromhex(hash_hex)).decode()[:16]


def grouped(fingerprint_text: str) -> str:
    """ABCD EFGH IJKL MNOP: groups of four are easier to read aloud and to compare."""
    return " ".join(fingerprint_text[i : i + 4] for i in range(0, len(fingerprint_text), 4))
