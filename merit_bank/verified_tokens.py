"""flask-jwt-extended's JWTManager, remembering the tokens it has already verified."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config

MAX_REMEMBERED = 4096


class VerifyOnceJWTManager(JWTManager):
    """Checks each distinct token's signature and claims once per process, then only its expiry.

    flask-jwt-extended decodes the bearer token three times per request (claims unverified, header,
    then verified), and PyJWT checks every segment's base64 alphabet character by character in Python:
    about a fifth of a balance read's CPU (docs/benchmarks.md, "HTTP, issue #11"). A token that passed
    the full check is remembered, keyed by the token itself and everything it was checked against (the
    key, algorithms, audience, issuer, CSRF value), and is served again after checking only that it has
    not expired. Whether the token is revoked and whether its user is active are still asked on every
    request (auth_hooks), so a logout or a deactivation takes effect at once as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._verified: dict[tuple[Any, ...], dict[str, Any]] = {}

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict:
        if allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        leeway = config.leeway
        if isinstance(leeway, timedelta):
            leeway = leeway.total_seconds()
        key = (
            encoded_token,
            csrf_value,
            config.decode_key,
            repr((config.decode_algorithms, config.decode_audience, config.decode_issuer, leeway)),
            config.identity_claim_key,
            config.verify_sub,
        )
        claims = self._verified.get(key)
        if claims is not None:
            exp = claims.get("exp")
            if exp is None or exp > time.time() - leeway:
                return dict(claims)
            self._verified.pop(key, None)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if len(self._verified) >= MAX_REMEMBERED:
            self._verified.clear()
        self._verified[key] = dict(claims)
        return claims
