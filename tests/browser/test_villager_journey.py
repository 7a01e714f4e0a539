"""A villager from the roster gets in by themselves, on a phone, in Chinese, and stays in for weeks.

The app's clock (config CLOCK, read by database.utcnow) starts five weeks in the past and is moved to
the present: the sessions' tokens are stamped with it too, so "weeks later" is a real five-week-old
session, which the browser and PyJWT still check against real time.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from merit_bank.database import utcnow
from merit_bank.events import tokens
from merit_bank.extensions import db
from merit_bank.households.models import Household
from tests.factories import auth, make_village, root_admin

pytestmark = pytest.mark.browser

PHONE_NUMBER = "13912345678"
NEW_PIN = "246813"
ROSTER = (
    "村民小组,户主姓名,地址,姓名,与户主关系,身份证号,手机号\r\n"
    f"一组,刘秀兰,幸福村一组8号,刘秀兰,户主,,{PHONE_NUMBER}\r\n"
    "一组,刘秀兰,幸福村一组8号,陈大山,配偶,,\r\n"
)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _event(client, headers, village: int, rule: int, title: str, location: str) -> str:
    """An event open now (by the app's clock) with a printed, static code; returns the code's path."""
    now = utcnow()
    body = {
        "village_id": village,
        "title": title,
        "rule_id": rule,
        "location": location,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return "/c/" + tokens.static_token(response.get_json()["id"])


def _session_cookie(context) -> dict:
    return next(c for c in context.cookies() if c["name"] == "mb_access")


def test_a_villager_from_the_roster_activates_checks_in_and_is_still_in_weeks_later(
    live_server, phone_context
):
    app, base = live_server.app, live_server.url
    # Weeks later is "now": every token stays issued in the past, as PyJWT and the browser require.
    clock = Clock(utcnow() - timedelta(weeks=5, minutes=5))
    app.config["CLOCK"] = clock

    village = make_village(app, "幸福村", groups=("一组",))
    admin = auth(app, root_admin(app))
    client = app.test_client()
    with app.app_context():
        rule = client.post(
            "/api/v1/rules",
            json={
                "code": "CLEANUP",
                "name": "河道清理",
                "council": "volunteer",
                "points": 5,
                "needs_review": False,
                "notice_days": 0,
                "approvals_required": 1,
                "village_id": village,
            },
            headers=admin,
        ).get_json()["id"]
        imported = client.post(
            f"/api/v1/households/import?village_id={village}&dry_run=0",
            data={"file": (io.BytesIO(ROSTER.encode("utf-8-sig")), "roster.csv")},
            content_type="multipart/form-data",
            headers=admin,
        )
        assert imported.status_code == 200, imported.get_json()
        assert imported.get_json()["households_created"] == 1
        card_code = db.session.scalar(select(Household.code).where(Household.head_name == "刘秀兰"))
        first_event = _event(client, admin, village, rule, "清理河道", "村委会广场")

    page = phone_context.new_page()

    # 1. Activation with the code printed on the household card; a numeric keyboard for phone and PIN.
    page.goto(f"{base}/activate")
    assert page.get_attribute("#phone", "inputmode") == "numeric"
    assert page.get_attribute("#pin", "inputmode") == "numeric"
    page.fill("#phone", PHONE_NUMBER)
    page.select_option("#proof_kind", "card_code")
    page.fill("#proof", card_code.lower())
    page.fill("#pin", NEW_PIN)
    page.fill("#pin_again", NEW_PIN)
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=balance]")
    assert "刘秀兰" in page.text_content("main")
    page.click("header.top form button[type=submit]")  # 退出
    page.wait_for_url(f"{base}/login**")

    # 2. A logged-out scan: the event's name, place and points come first, then phone and PIN.
    page.goto(base + first_event)
    event_card = page.locator("main .card").first
    assert "清理河道" in event_card.text_content()
    assert "村委会广场" in event_card.text_content()
    assert "5" in event_card.text_content()
    login_form = page.locator("[data-testid=login-to-check-in]")
    assert event_card.bounding_box()["y"] < login_form.bounding_box()["y"]
    assert page.get_attribute("#username", "inputmode") == "numeric"
    page.fill("#username", PHONE_NUMBER)
    page.fill("#password", NEW_PIN)
    login_form.locator("button[type=submit]").click()
    # Back on the same event, logged in: one tap.
    page.wait_for_selector("[data-testid=checkin]")
    assert page.url.lower() == (base + first_event).lower()
    page.click("[data-testid=checkin]")
    result = page.wait_for_selector("[data-testid=result]")
    assert result.get_attribute("data-outcome") == "created"
    assert result.get_attribute("data-status") == "posted"
    old_session = _session_cookie(phone_context)

    # 3. Five weeks later, on the same phone: the link, then one tap; no phone number, no PIN.
    clock.at += timedelta(weeks=5)
    with app.app_context():
        second_event = _event(client, admin, village, rule, "敬老院打扫", "敬老院")
    page.goto(base + second_event)
    assert page.locator("[data-testid=login-to-check-in]").count() == 0
    page.click("[data-testid=checkin]")
    result = page.wait_for_selector("[data-testid=result]")
    assert result.get_attribute("data-outcome") == "created"
    page.goto(base + "/")
    assert page.text_content("[data-testid=balance]").strip() == "10"
    # Using it renewed the session (sliding): a new token, good for months from today.
    renewed = _session_cookie(phone_context)
    assert renewed["value"] != old_session["value"]

    # 4. 退出所有设备: this phone must log in again, and the old session cookie is worthless too.
    page.click("[data-testid=session] button[type=submit]")
    page.wait_for_url(f"{base}/login**")
    page.goto(base + second_event)
    page.wait_for_selector("[data-testid=login-to-check-in]")
    phone_context.add_cookies([{k: renewed[k] for k in ("name", "value", "domain", "path")}])
    page.goto(base + "/")
    assert page.url.startswith(f"{base}/login")
    page.goto(base + second_event)
    assert page.locator("[data-testid=login-to-check-in]").count() == 1
