"""Short signed tokens for QR codes, and keys derived from the deployment secret.

QR codes stay at a low version (quick to scan on cheap phones) only while their payload is short and
fits QR's alphanumeric mode, so tokens here are upper-case base32 with a truncated HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app


def derived_key(purpose: str) -> bytes:
    """A key for one purpose, so that a leaked card MAC says nothing about the ID-number key."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"merit-bank:" + purpose.encode(), hashlib.sha256).digest()


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def mac(purpose: str, message: str, length: int = 10) -> str:
    """Base32 of an HMAC-SHA256 truncated to `length` bytes (10 bytes = 80 bits = 16 characters)."""
    digest = hmac.new(derived_key(purpose), message.encode(), hashlib.sha256).digest()
    return b32(digest[:length])


def mac_matches(purpose: str, message: str, candidate: str, length: int = 10) -> bool:
    return hmac.compare_digest(mac(purpose, message, length), candidate)
