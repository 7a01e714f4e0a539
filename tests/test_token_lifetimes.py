"""A password or PIN change, a reset, a deactivation and a logout end every token issued before them —
API tokens and browser sessions alike, and for good."""

from __future__ import annotations

from tests.factories import PASSWORD, auth, make_user, make_village, page_login


def _login(client, username, password=PASSWORD):
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.json
    return response.json


def _works(client, tokens) -> tuple[bool, bool]:
    """(the access token reads /me, the refresh token gets a new access token)."""
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    refreshed = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    return me.status_code == 200, refreshed.status_code == 200


def _staff(app):
    village = make_village(app)
    chief = make_user(app, "admin", village, username="cunzhang")
    clerk = make_user(app, "clerk", village, username="wenshu")
    return chief, clerk


def test_a_password_change_ends_every_earlier_access_and_refresh_token(app, client):
    chief, clerk = _staff(app)
    before = _login(client, "wenshu")
    assert _works(client, before) == (True, True)
    changed = client.patch(
        f"/api/v1/users/{clerk}", headers=auth(app, chief), json={"password": "new-password-1"}
    )
    assert changed.status_code == 200
    assert _works(client, before) == (False, False)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {before['access_token']}"})
    assert me.json["type"] == "token-revoked"
    after = _login(client, "wenshu", "new-password-1")
    assert _works(client, after) == (True, True)


def test_reactivating_a_user_does_not_revive_tokens_from_before_the_deactivation(app, client):
    chief, clerk = _staff(app)
    before = _login(client, "wenshu")
    headers = auth(app, chief)
    assert client.patch(f"/api/v1/users/{clerk}", headers=headers, json={"active": False}).status_code == 200
    assert client.patch(f"/api/v1/users/{clerk}", headers=headers, json={"active": True}).status_code == 200
    assert _works(client, before) == (False, False)
    assert _works(client, _login(client, "wenshu")) == (True, True)


def test_logout_with_the_access_token_alone_also_ends_its_refresh_token(app, client):
    _staff(app)
    tokens = _login(client, "wenshu")
    other_device = _login(client, "wenshu")
    out = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert out.status_code == 204
    assert _works(client, tokens) == (False, False)
    # Logging out on one phone leaves the other one signed in.
    assert _works(client, other_device) == (True, True)


def test_logout_all_ends_every_token_and_browser_session_of_the_caller(app, client):
    _staff(app)
    phone = _login(client, "wenshu")
    tablet = _login(client, "wenshu")
    browser = app.test_client()
    page = page_login(browser, "wenshu", PASSWORD)
    assert page.status_code == 302
    assert browser.get("/").status_code == 200

    out = client.post("/api/v1/auth/logout-all", headers={"Authorization": f"Bearer {phone['access_token']}"})
    assert out.status_code == 204
    assert _works(client, phone) == (False, False)
    assert _works(client, tablet) == (False, False)
    home = browser.get("/")
    assert home.status_code == 302
    assert "/login" in home.headers["Location"]


def test_a_pin_reset_ends_the_villagers_browser_session(app, client):
    from tests.factories import make_household, make_villager

    village = make_village(app)
    chief = make_user(app, "admin", village, username="cunzhang")
    household = make_household(app, village)
    villager = make_villager(app, household, username="13700000001")
    browser = app.test_client()
    assert page_login(browser, "13700000001", "135790").status_code == 302
    assert browser.get("/").status_code == 200
    reset = client.patch(f"/api/v1/users/{villager}", headers=auth(app, chief), json={"password": "864200"})
    assert reset.status_code == 200
    assert browser.get("/").status_code == 302


def _cookie_max_age(response) -> int:
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("mb_access="))
    return int(header.split("Max-Age=")[1].split(";")[0])


def test_a_villagers_phone_stays_logged_in_for_months_while_staff_sessions_stay_short(app, client):
    from tests.factories import make_household, make_villager

    village = make_village(app)
    make_user(app, "clerk", village, username="wenshu")
    make_villager(app, make_household(app, village), username="13700000002")
    villager = page_login(app.test_client(), "13700000002", "135790")
    staff = page_login(app.test_client(), "wenshu", PASSWORD)
    assert _cookie_max_age(villager) == 90 * 24 * 3600
    assert _cookie_max_age(staff) == 12 * 3600


def test_a_villagers_session_is_renewed_as_it_is_used_and_listed_on_the_home_page(app):
    from tests.factories import make_household, make_villager

    village = make_village(app)
    make_villager(app, make_household(app, village), username="13700000003")
    browser = app.test_client()
    page_login(browser, "13700000003", "135790")
    quiet = browser.get("/")
    assert not any(h.startswith("mb_access=") for h in quiet.headers.getlist("Set-Cookie"))
    assert "这台手机已登录" in quiet.get_data(as_text=True)
    app.config["VILLAGER_SESSION_RENEW_SECONDS"] = 0  # as if a day of use had passed
    renewed = browser.get("/")
    assert _cookie_max_age(renewed) == 90 * 24 * 3600
    assert browser.get("/").status_code == 200


def test_log_out_on_every_device_from_the_home_page_ends_this_and_every_other_session(app, client):
    from tests.factories import csrf_token, make_household, make_villager

    village = make_village(app)
    make_villager(app, make_household(app, village), username="13700000004")
    phone, tablet = app.test_client(), app.test_client()
    page_login(phone, "13700000004", "135790")
    page_login(tablet, "13700000004", "135790")
    api = _login(client, "13700000004", "135790")
    out = phone.post("/logout-all", data={"csrf_token": csrf_token(phone, "/")})
    assert out.status_code == 302
    assert phone.get("/").status_code == 302
    assert tablet.get("/").status_code == 302
    assert _works(client, api) == (False, False)
