"""Logins, tokens, logout, deactivation and throttling of failed logins."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.factories import PASSWORD, PIN, auth, make_household, make_user, make_village, make_villager


def _login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_returns_tokens_and_the_user(app, client):
    village = make_village(app)
    make_user(app, "clerk", village, username="wenshu", councils=["volunteer"])
    response = _login(client, "wenshu", PASSWORD)
    assert response.status_code == 200
    body = response.json
    assert body["user"]["role"] == "clerk"
    assert body["user"]["councils"] == ["volunteer"]
    assert "password" not in json.dumps(body) and "password_hash" not in json.dumps(body)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert set(me.json) >= {
        "id",
        "username",
        "role",
        "village_id",
        "shop_id",
        "household_id",
        "member_id",
        "councils",
    }


def test_villager_logs_in_with_phone_and_pin(app, client):
    village = make_village(app)
    household = make_household(app, village, members=[{"name": "李四", "phone": "13912345678"}])
    make_villager(app, household, username="13912345678")
    response = _login(client, "13912345678", PIN)
    assert response.status_code == 200
    assert response.json["user"]["household_id"] == household["id"]


def test_villager_pin_must_be_six_digits(app, client):
    village = make_village(app)
    household = make_household(app, village)
    admin = make_user(app, "admin", None, username="boss")
    response = client.post(
        "/api/v1/users",
        headers=auth(app, admin),
        json={
            "username": "13900000000",
            "password": "12ab56",
            "role": "villager",
            "member_id": household["member_ids"][0],
        },
    )
    assert response.status_code == 422
    assert "password" in response.json["errors"]


def test_wrong_password_is_401_invalid_credentials(app, client):
    make_user(app, "admin", None, username="boss")
    response = _login(client, "boss", "wrong-password")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == "invalid-credentials"
    assert _login(client, "nobody", "whatever-1").json["type"] == "invalid-credentials"


def test_sixth_failure_within_the_window_is_throttled_even_with_the_right_password(app, client):
    make_user(app, "admin", None, username="boss")
    statuses = [_login(client, "boss", f"wrong-{i}").status_code for i in range(5)]
    assert statuses == [401] * 5
    locked = _login(client, "boss", PASSWORD)
    assert locked.status_code == 429
    assert locked.json["type"] == "too-many-attempts"
    # Another username is not affected.
    make_user(app, "admin", None, username="other")
    assert _login(client, "other", PASSWORD).status_code == 200


def test_logout_revokes_the_access_token(app, client):
    make_user(app, "admin", None, username="boss")
    tokens = _login(client, "boss", PASSWORD).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.post(
        "/api/v1/auth/logout", headers=headers, json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 204
    after = client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.json["type"] == "token-revoked"
    refresh = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert refresh.status_code == 401


def test_refresh_gives_a_working_access_token(app, client):
    make_user(app, "admin", None, username="boss")
    tokens = _login(client, "boss", PASSWORD).json
    response = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert response.status_code == 200
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert me.json["username"] == "boss"
    # An access token is not a refresh token.
    wrong = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert wrong.status_code == 401


def test_deactivated_user_is_locked_out_on_the_next_request(app, client):
    village = make_village(app)
    clerk = make_user(app, "clerk", village, username="wenshu")
    admin = make_user(app, "admin", village, username="cunguan")
    tokens = _login(client, "wenshu", PASSWORD).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.patch(f"/api/v1/users/{clerk}", headers=auth(app, admin), json={"active": False})
    assert response.status_code == 200
    assert response.json["active"] is False
    blocked = client.get("/api/v1/me", headers=headers)
    assert blocked.status_code == 401
    assert blocked.json["type"] == "account-inactive"
    assert _login(client, "wenshu", PASSWORD).status_code == 401
    refresh = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert refresh.status_code == 401


def test_missing_or_garbled_token_is_problem_json(client):
    missing = client.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.mimetype == "application/problem+json"
    garbled = client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.token"})
    assert garbled.status_code == 401
    assert garbled.json["type"] == "invalid-token"


_ATTEMPTS = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    from tests.conftest import make_app
    app = make_app({url!r})
    client = app.test_client()
    body = {{"username": "boss", "password": "wrong"}}
    codes = [client.post("/api/v1/auth/login", json=body).status_code for i in range(4)]
    print(json.dumps(codes))
    """
)


@pytest.mark.race
def test_throttling_holds_across_two_processes(app, db_url):
    """Two worker processes share one limit, because failures are counted in the database."""
    make_user(app, "admin", None, username="boss")
    root = str(Path(__file__).resolve().parent.parent)
    script = _ATTEMPTS.format(root=root, url=db_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    codes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        codes += json.loads(out.strip().splitlines()[-1])
    assert sorted(codes) == [401] * 5 + [429] * 3


def test_a_clerk_may_be_linked_to_their_own_household(app, client):
    village = make_village(app)
    household = make_household(app, village)
    admin = make_user(app, "admin", None, username="boss")
    body = {"username": "clerk-at-home", "password": PASSWORD, "role": "clerk", "councils": ["volunteer"]}
    response = client.post(
        "/api/v1/users", headers=auth(app, admin), json={**body, "member_id": household["member_ids"][1]}
    )
    assert response.status_code == 201, response.json
    assert response.json["household_id"] == household["id"]
    assert response.json["village_id"] == village
    root_like = {
        "username": "root-at-home",
        "password": PASSWORD,
        "role": "admin",
        "member_id": household["member_ids"][0],
    }
    assert client.post("/api/v1/users", headers=auth(app, admin), json=root_like).status_code == 422
