"""Identity numbers (身份证号): validated, fingerprinted for lookups, encrypted under a keyring, shown masked.

The keys that protect identity numbers form a keyring with key ids, so they can be rotated without making
stored numbers unreadable:

- `IDENTITY_KEYS="2:<key>,1:<key>"` (or the same entries, one per line, in the file named by
  `IDENTITY_KEYS_FILE`) lists the keys, the one new writes use first. A key is the URL-safe base64 of
  32 random bytes, e.g. from
  `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
- Key id 0 is the key derived from `SECRET_KEY`, which every deployment used before the keyring existed.
  With no keys configured the keyring is just key 0, so an existing deployment keeps working untouched; a
  bare `0` entry (`IDENTITY_KEYS="1:<key>,0"`) keeps it readable while `rotate-keys` moves numbers off it.

Each key gives both the Fernet key of the stored ciphertext and the HMAC key of the lookup fingerprint, and
the member row records the key id of both (`members.id_number_key_id`). Retiring a key is therefore: make a
new key the first entry, run `flask --app merit_bank rotate-keys` (it re-encrypts and re-hashes every number
under the newest key), then remove the old entry. Lookups try the fingerprint under every configured key, so
they keep working while a rotation is half done. A number stored under a key id that is no longer configured
is never silently skipped or misread: decrypting it raises `UnknownIdentityKey` naming the key id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FORMAT = re.compile(r"^\d{17}[\dX]$")

LEGACY_KEY_ID = 0
_MAX_KEY_ID = 2**31 - 1  # the key id is stored in an INTEGER column


def normalize(raw: str) -> str:
    return raw.strip().upper()


def is_valid(number: str) -> bool:
    """GB 11643: 17 digits and an ISO 7064 MOD 11-2 check character."""
    if not _FORMAT.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17]


def with_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + _CHECK[total % 11]


def mask(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# --- the keyring -----------------------------------------------------------------------------------------


class IdentityKeyError(RuntimeError):
    """The identity keys are misconfigured, or a stored number cannot be read with them."""


class UnknownIdentityKey(IdentityKeyError):
    """A stored number names a key id that the keyring does not hold (a retired or missing key)."""

    def __init__(self, key_id: int, configured: list[int]) -> None:
        self.key_id = key_id
        super().__init__(
            f"identity number stored under key id {key_id}, which is not configured "
            f"(configured key ids: {', '.join(map(str, configured))}); add key {key_id} back to "
            "IDENTITY_KEYS (or IDENTITY_KEYS_FILE) and run `flask --app merit_bank rotate-keys` "
            "before retiring it"
        )


@dataclass(frozen=True)
class IdentityKey:
    key_id: int
    fernet: Fernet
    hmac_key: bytes


@dataclass(frozen=True)
class Keyring:
    keys: tuple[IdentityKey, ...]  # the key new writes use first

    @property
    def current(self) -> IdentityKey:
        return self.keys[0]

    @property
    def key_ids(self) -> list[int]:
        return [key.key_id for key in self.keys]

    def get(self, key_id: int) -> IdentityKey:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise UnknownIdentityKey(key_id, self.key_ids)


def _subkey(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, b"merit-bank:" + purpose.encode(), hashlib.sha256).digest()


def _legacy_key(secret_key: str) -> IdentityKey:
    # Exactly the derivation used before the keyring, so numbers stored then still decrypt as key 0.
    secret = secret_key.encode()
    encryption = hmac.new(secret, b"merit-bank:id-number-encryption", hashlib.sha256).digest()
    lookup = hmac.new(secret, b"merit-bank:id-number-hmac", hashlib.sha256).digest()
    return IdentityKey(LEGACY_KEY_ID, Fernet(base64.urlsafe_b64encode(encryption)), lookup)


def _configured_key(key_id: int, material: str) -> IdentityKey:
    try:
        raw = base64.urlsafe_b64decode(material.encode() + b"=" * (-len(material) % 4))
    except (binascii.Error, ValueError) as exc:
        raise IdentityKeyError(f"identity key {key_id} is not base64") from exc
    if len(raw) != 32:
        raise IdentityKeyError(f"identity key {key_id} must be 32 bytes of base64 (got {len(raw)} bytes)")
    encryption = _subkey(raw, "id-number-encryption")
    return IdentityKey(key_id, Fernet(base64.urlsafe_b64encode(encryption)), _subkey(raw, "id-number-hmac"))


def parse_keyring(spec: str, secret_key: str) -> Keyring:
    """The keyring of an `IDENTITY_KEYS` value: `id:key` entries split by commas or lines, newest first."""
    entries = [e.strip() for e in re.split(r"[,\n]", spec) if e.strip() and not e.strip().startswith("#")]
    if not entries:
        return Keyring((_legacy_key(secret_key),))
    keys: list[IdentityKey] = []
    for entry in entries:
        key_part, _, material = entry.partition(":")
        if not key_part.strip().isdigit() or int(key_part) > _MAX_KEY_ID:
            raise IdentityKeyError(f"identity key entry {entry[:12]!r}…: the key id must be a whole number")
        key_id = int(key_part)
        if key_id in [k.key_id for k in keys]:
            raise IdentityKeyError(f"identity key id {key_id} is listed twice")
        if key_id == LEGACY_KEY_ID:
            if material.strip():
                raise IdentityKeyError(
                    "identity key id 0 is the key derived from SECRET_KEY: write it as `0` alone"
                )
            keys.append(_legacy_key(secret_key))
        elif not material.strip():
            raise IdentityKeyError(f"identity key {key_id} has no key after the colon")
        else:
            keys.append(_configured_key(key_id, material.strip()))
    return Keyring(tuple(keys))


def read_keyring(spec: str, path: str, secret_key: str) -> Keyring:
    """The keyring of the settings `IDENTITY_KEYS` (`spec`) or `IDENTITY_KEYS_FILE` (`path`)."""
    if spec and path:
        raise IdentityKeyError("set IDENTITY_KEYS or IDENTITY_KEYS_FILE, not both")
    if path:
        try:
            spec = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise IdentityKeyError(f"cannot read IDENTITY_KEYS_FILE {path}: {exc.strerror}") from exc
        if not spec.strip():
            raise IdentityKeyError(f"IDENTITY_KEYS_FILE {path} holds no keys")
    return parse_keyring(spec, secret_key)


def keyring() -> Keyring:
    """The app's keyring, read from its settings once per distinct setting."""
    config = current_app.config
    spec = config.get("IDENTITY_KEYS") or ""
    path = config.get("IDENTITY_KEYS_FILE") or ""
    signature = (spec, path, config["SECRET_KEY"])
    cached = current_app.extensions.get("merit_bank.identity_keyring")
    if cached is not None and cached[0] == signature:
        return cached[1]
    ring = read_keyring(spec, path, config["SECRET_KEY"])
    current_app.extensions["merit_bank.identity_keyring"] = (signature, ring)
    return ring


# --- protecting and reading numbers ----------------------------------------------------------------------


def _fingerprint(key: IdentityKey, number: str) -> str:
    return hmac.new(key.hmac_key, number.encode(), hashlib.sha256).hexdigest()


def fingerprint(number: str) -> str:
    """The lookup hash of a number under the newest key (what a new row stores)."""
    return _fingerprint(keyring().current, number)


def fingerprints(number: str) -> list[str]:
    """The number's lookup hash under every configured key: a stored row matches one of them."""
    return [_fingerprint(key, number) for key in keyring().keys]


def protect(number: str) -> dict[str, Any]:
    """The member columns that store a (valid, normalized) number, under the newest key."""
    key = keyring().current
    return {
        "id_number_hmac": _fingerprint(key, number),
        "id_number_encrypted": key.fernet.encrypt(number.encode()).decode(),
        "id_number_masked": mask(number),
        "id_number_key_id": key.key_id,
    }


def decrypt(token: str, key_id: int) -> str:
    """The number stored as `token` under `key_id`; fails loudly, never returns something else."""
    key = keyring().get(key_id)
    try:
        return key.fernet.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise IdentityKeyError(
            f"an identity number stored under key id {key_id} does not decrypt with the configured key "
            f"{key_id}: that key was changed (or, for key 0, SECRET_KEY was changed)"
        ) from exc
