"""The HTML side: the villager's `/c/<token>` landing across a login, and the clerk's pages."""

from __future__ import annotations

import re
from datetime import timedelta

from merit_bank.auth.models import User
from merit_bank.extensions import db
from tests.events.event_helpers import T0, balance, make_event, token_for
from tests.factories import PASSWORD, PIN


def username(app, user_id):
    with app.app_context():
        return db.session.get_one(User, user_id).username


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, name, password, next_path=None):
    page = client.get("/login")
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(
        url, data={"username": name, "password": password, "csrf_token": csrf_of(page.get_data(as_text=True))}
    )


def test_a_logged_out_villager_lands_logs_in_and_checks_in_with_one_tap(client, world, clock):
    event = make_event(client, world, rotating=True)
    token = token_for(world.app, event["id"], rotating=True)
    landing = client.get(f"/C/{token}")
    # The event comes first, with the phone number and PIN asked for on the same page.
    assert landing.status_code == 200
    shown = landing.get_data(as_text=True)
    assert "河道清理" in shown and 'data-testid="login-to-check-in"' in shown
    assert 'data-testid="checkin"' not in shown
    assert any(c.startswith("mb_checkin=") for c in landing.headers.getlist("Set-Cookie"))

    # Typing the PIN takes longer than the rotating code lives: the landing page remembered it.
    clock.advance(seconds=90)
    next_path = re.search(r'action="/login\?next=([^"]+)"', shown).group(1)
    logged_in = login(client, username(world.app, world.villagers[0]), PIN, next_path)
    assert logged_in.status_code == 302
    back = client.get(logged_in.headers["Location"])
    assert back.status_code == 200
    html = back.get_data(as_text=True)
    assert "河道清理" in html and 'data-testid="checkin"' in html

    tap = client.post(f"/C/{token}", data={"csrf_token": csrf_of(html)})
    assert tap.status_code == 201
    page = tap.get_data(as_text=True)
    assert 'data-outcome="created"' in page and 'data-status="posted"' in page
    assert balance(client, world, world.households[0]) == 5

    again = client.post(f"/C/{token}", data={"csrf_token": csrf_of(html)})
    assert again.status_code == 200 and 'data-outcome="already"' in again.get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="my-checkins"' in home and "河道清理" in home and "+5" in home


def test_the_remembered_code_lasts_only_the_login_grace(client, world, clock):
    event = make_event(client, world, rotating=True)
    token = token_for(world.app, event["id"], rotating=True)
    client.get(f"/c/{token}")
    clock.advance(minutes=11)
    login(client, username(world.app, world.villagers[0]), PIN)
    page = client.get(f"/c/{token}")
    assert page.status_code == 410
    assert 'data-outcome="token-expired"' in page.get_data(as_text=True)


def test_a_photo_of_an_expired_code_gets_no_grace(client, world, clock):
    event = make_event(client, world, rotating=True)
    token = token_for(world.app, event["id"], rotating=True)
    clock.advance(seconds=75)  # the photo reached someone at home a little later
    page = client.get(f"/c/{token}")
    assert page.status_code == 410
    assert not any(c.startswith("mb_checkin=") for c in page.headers.getlist("Set-Cookie"))


def test_the_landing_page_explains_refusals_in_plain_words(client, world, clock):
    event = make_event(client, world)
    token = token_for(world.app, event["id"])
    login(client, username(world.app, world.villagers[0]), PIN)
    forged = client.get(f"/c/{token[:-1]}X")
    assert forged.status_code == 400 and 'data-outcome="invalid-token"' in forged.get_data(as_text=True)

    page = client.get(f"/c/{token}").get_data(as_text=True)
    clock.advance(hours=3)
    ended = client.post(f"/c/{token}", data={"csrf_token": csrf_of(page)})
    assert ended.status_code == 409
    assert 'data-outcome="event-not-open"' in ended.get_data(as_text=True)
    assert "活动已结束" in ended.get_data(as_text=True)  # in plain words, in the villager's language


def test_an_hour_based_event_offers_check_out_on_the_second_scan(client, world, clock):
    event = make_event(client, world, "hourly")
    token = token_for(world.app, event["id"])
    login(client, username(world.app, world.villagers[0]), PIN)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    tap = client.post(f"/c/{token}", data={"csrf_token": csrf_of(page)})
    assert 'data-status="awaiting-checkout"' in tap.get_data(as_text=True)
    clock.advance(minutes=61)
    second = client.get(f"/c/{token}").get_data(as_text=True)
    assert 'data-testid="checkout"' in second
    out = client.post(f"/c/{token}", data={"csrf_token": csrf_of(second), "action": "checkout"})
    assert out.status_code == 200 and 'data-outcome="checked-out"' in out.get_data(as_text=True)
    assert balance(client, world, world.households[0]) == 10


def test_a_clerk_creates_an_event_with_the_form_and_gets_its_pages(client, world, clock):
    login(client, username(world.app, world.clerk), PASSWORD)
    page = client.get("/events")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    local = (T0 + timedelta(hours=8)).replace(tzinfo=None)  # Asia/Shanghai
    response = client.post(
        "/events",
        data={
            "csrf_token": csrf_of(html),
            "village_id": str(world.village),
            "title": "敬老院探访",
            "rule_id": str(world.rules["instant"]),
            "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "location": "敬老院",
            "capacity": "20",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    event_url = response.headers["Location"]
    event_id = int(event_url.rstrip("/").rsplit("/", 1)[1])
    event = client.get(f"/api/v1/events/{event_id}", headers=world.h(world.clerk)).get_json()
    assert event["starts_at"].startswith(T0.strftime("%Y-%m-%dT%H:%M")) and event["capacity"] == 20

    shown = client.get(event_url)
    assert shown.status_code == 200 and "敬老院探访" in shown.get_data(as_text=True)
    poster = client.get(f"/events/{event_id}/poster")
    assert poster.status_code == 200 and event["checkin_url"] in poster.get_data(as_text=True)
    scan = client.get(f"/events/{event_id}/scan")
    assert scan.status_code == 200 and "vendor/jsqr/jsQR.js" in scan.get_data(as_text=True)
    assert client.get("/events/scan").status_code in (200, 302)
    assert "/events" in client.get("/").get_data(as_text=True)  # the menu entry

    bad = client.post(
        "/events", data={"csrf_token": csrf_of(html), "title": "", "village_id": str(world.village)}
    )
    assert bad.status_code == 422


def test_villagers_and_other_villages_do_not_get_the_clerk_pages(client, world):
    event = make_event(client, world)
    login(client, username(world.app, world.villagers[0]), PIN)
    assert client.get("/events").status_code == 403
    assert client.get(f"/events/{event['id']}").status_code == 403
    client.get("/logout")
    other = world.app.test_client()
    login(other, username(world.app, world.other_clerk), PASSWORD)
    assert other.get(f"/events/{event['id']}").status_code == 404
    assert other.get(f"/events/{event['id']}/scan").status_code == 404


def test_the_demo_has_events_open_today_that_a_demo_villager_can_check_in_to(app, client):
    from merit_bank.demo import VILLAGER_PIN, seed_demo

    with app.app_context():
        demo = seed_demo()
        note = next(n for n in demo.notes if n.startswith("Events:"))
    path = note.rsplit(" ", 1)[1]
    assert path.startswith("/c/E")
    login(client, "13800000001", VILLAGER_PIN)
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    tap = client.post(path, data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert tap.status_code == 201 and 'data-status="posted"' in tap.get_data(as_text=True)
