"""A bearer token is verified in full once per process; after that only its expiry is checked, and a
logout, a changed signature or another key still refuse it."""

from __future__ import annotations

import time

import jwt as pyjwt
from flask_jwt_extended import create_access_token

from merit_bank.extensions import jwt
from tests.factories import PASSWORD, make_user, make_village


def _me(client, token: str):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _token(app, user_id: int, **kwargs) -> str:
    with app.app_context():
        return create_access_token(identity=str(user_id), **kwargs)


def test_a_remembered_token_still_expires(app, client, monkeypatch):
    clerk = make_user(app, "clerk", make_village(app), username="wenshu")
    token = _token(app, clerk)
    assert _me(client, token).status_code == 200
    assert _me(client, token).status_code == 200  # served from memory
    later = time.time() + 3600 * 24 * 365
    monkeypatch.setattr(time, "time", lambda: later)

    class _Later(pyjwt.api_jwt.datetime):  # PyJWT's clock too
        @classmethod
        def now(cls, tz=None):
            return pyjwt.api_jwt.datetime.fromtimestamp(later, tz)

    monkeypatch.setattr(pyjwt.api_jwt, "datetime", _Later)
    refused = _me(client, token)
    assert refused.status_code == 401 and refused.json["type"] == "token-expired"


def test_a_remembered_token_with_another_signature_or_key_is_refused(app, client):
    clerk = make_user(app, "clerk", make_village(app), username="wenshu")
    token = _token(app, clerk)
    assert _me(client, token).status_code == 200
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert _me(client, forged).status_code == 401
    app.config["JWT_SECRET_KEY"] = "another-secret-that-is-long-enough-0123456789"
    assert _me(client, token).status_code == 401


def test_a_remembered_token_is_still_revoked_by_logout(app, client):
    make_user(app, "clerk", make_village(app), username="wenshu")
    tokens = client.post("/api/v1/auth/login", json={"username": "wenshu", "password": PASSWORD}).json
    access = tokens["access_token"]
    assert _me(client, access).status_code == 200
    logout = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"})
    assert logout.status_code in (200, 204)
    refused = _me(client, access)
    assert refused.status_code == 401 and refused.json["type"] == "token-revoked"
    assert any(key[0] == access for key in jwt._verified)
