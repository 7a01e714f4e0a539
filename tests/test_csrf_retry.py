"""A page form whose CSRF check fails (the phone dropped its session cookie) is drawn again with a plain
request to tap once more and what was typed, never a bare "400 · 请求有误"; nothing is done before the retry.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from merit_bank.auth.models import User
from merit_bank.database import utcnow
from merit_bank.events.models import Checkin
from merit_bank.extensions import db
from tests.events.event_helpers import make_event, make_world, token_for
from tests.factories import PIN, csrf_token, page_login

RETRY = "请看一下填的内容，再点一次按钮"


def test_the_activation_form_comes_back_with_the_phone_number_and_a_retry_message(client):
    response = client.post(
        "/activate", data={"phone": "13912345678", "proof_kind": "card_code", "proof": "ABC", "pin": "1"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert RETRY in html and "请求有误" not in html
    assert 'value="13912345678"' in html
    # The page carries a new token: the second tap is checked normally (here: a wrong proof, 422 or 401).
    again = client.post(
        "/activate",
        data={
            "phone": "13912345678",
            "proof_kind": "card_code",
            "proof": "ABCDEF",
            "pin": "246813",
            "pin_again": "246813",
            "csrf_token": csrf_token(client, "/activate"),
        },
    )
    assert again.status_code in (401, 422)
    assert RETRY not in again.get_data(as_text=True)


def test_a_check_in_tap_without_the_session_cookie_shows_the_button_again_and_checks_in_nobody(app, client):
    world = make_world(app, client)
    now = utcnow()
    event = make_event(
        client,
        world,
        starts_at=(now - timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=1)).isoformat(),
    )
    with app.app_context():
        username = db.session.get_one(User, world.villagers[0]).username
    assert page_login(client, username, PIN).status_code == 302
    path = f"/c/{token_for(app, event['id'])}"
    client.delete_cookie("session")  # what WeChat's WebView may do; the long-lived login cookie stays

    response = client.post(path, data={"action": "checkin"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert RETRY in html and 'data-testid="checkin"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Checkin)) == 0

    retried = client.post(path, data={"action": "checkin", "csrf_token": csrf_token(client, path)})
    assert retried.status_code == 201


def test_a_form_without_a_page_of_its_own_gets_a_short_retry_page(app, client):
    response = client.post("/logout-all", headers={"Referer": "http://localhost/claims/mine?page=2"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert RETRY in html and "请再试一次" in html
    assert 'href="/claims/mine"' in html


def test_the_api_still_answers_problem_json(client):
    response = client.post("/api/v1/auth/logout-all", json={})
    assert response.mimetype == "application/problem+json"
