"""In Chromium, in Chinese: a clerk tags members, an admin previews and publishes the year's 星级文明户,
and the public notice board shows them."""

from __future__ import annotations

import pytest

from merit_bank.clock import local_today
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.villages.models import Village
from tests.browser_support import login
from tests.factories import PASSWORD, make_household, make_user, make_village

pytestmark = pytest.mark.browser


def _world(app) -> dict:
    village = make_village(app, "幸福村", groups=("一组", "二组"))
    households = [make_household(app, village, name, group="一组") for name in ("王建国", "李德明", "张志强")]
    admin = make_user(app, "admin", village, username="stars-admin")
    make_user(app, "clerk", village, username="stars-clerk")
    with app.app_context():
        # Default thresholds 10/30/60/100/150: 3 stars, 1 star, and 0 stars after a 禁毒禁赌 deduction.
        for n, (index, council, points) in enumerate(
            [(0, "volunteer", 60), (1, "volunteer", 12), (2, "volunteer", 40), (2, "anti_drug_gambling", -1)]
        ):
            ledger.award(
                village_id=village,
                household_id=households[index]["id"],
                council=council,
                points=points,
                idempotency_key=f"stars-browser:{n}",
                actor_id=admin,
            )
        code = db.session.get(Village, village).code
        year = local_today().year
    return {"village": village, "households": households, "code": code, "year": year}


def test_a_clerk_tags_an_admin_publishes_the_stars_and_the_board_shows_them(live_server, browser):
    w = _world(live_server.app)
    base = live_server.url
    clerk_context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 900})
    admin_context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 900})
    phone = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        # The clerk marks the first household's head as a party member on the household page.
        clerk = clerk_context.new_page()
        login(clerk, base, "stars-clerk", PASSWORD)
        household = w["households"][0]
        clerk.goto(f"{base}/admin/households/{household['id']}")
        member = household["member_ids"][0]
        clerk.locator(f"[data-testid=member-tags-{member}] input[value=党员]").check()
        clerk.click("[data-testid=save-tags]")
        clerk.wait_for_selector("[data-testid=tags-saved]")
        assert clerk.locator(f"[data-testid=member-tags-{member}] input[value=党员]").is_checked()
        # A clerk sees the preview but has no publish button.
        clerk.goto(f"{base}/reports/stars?village_id={w['village']}&year={w['year']}")
        assert clerk.locator("[data-testid=stars-preview]").is_visible()
        assert clerk.locator("[data-testid=stars-publish]").count() == 0

        # The admin previews: best first, the 禁毒禁赌 deduction caps 张志强 at 0 stars.
        admin = admin_context.new_page()
        login(admin, base, "stars-admin", PASSWORD)
        admin.goto(f"{base}/reports/stars?village_id={w['village']}&year={w['year']}")
        assert "星级文明户" in admin.locator("h1").inner_text()
        rows = admin.locator("[data-testid=stars-row]")
        assert rows.count() == 3
        assert rows.nth(0).inner_text().startswith("王建国")
        stars = admin.eval_on_selector_all(
            "[data-testid=stars-count]", "cells => cells.map(c => Number(c.dataset.stars))"
        )
        assert stars == [3, 1, 0]
        assert "禁毒禁赌" in rows.nth(2).inner_text()
        # Nothing on the board before publication.
        board = phone.new_page()
        board.goto(f"{base}/board/{w['code']}")
        assert board.locator("[data-testid=stars-board]").count() == 0

        admin.click("[data-testid=stars-publish]")
        admin.wait_for_selector("[data-testid=stars-published-notice]")
        assert admin.locator("[data-testid=stars-publication]").count() == 1
        href = admin.locator("[data-testid=stars-certificates]").get_attribute("href")
        certificates = admin.request.get(base + href)
        assert certificates.ok and certificates.headers["content-type"] == "application/pdf"

        # The public board, on a phone without logging in: the households with a star, with their stars.
        board.goto(f"{base}/board/{w['code']}")
        section = board.locator("[data-testid=stars-board]")
        assert section.is_visible()
        assert f"{w['year']}年度星级文明户" in section.locator("h2").inner_text()
        listed = board.locator("[data-testid=stars-board-row]")
        assert listed.count() == 2
        assert "王建国" in listed.nth(0).inner_text() and "★★★" in listed.nth(0).inner_text()
        assert "李德明" in listed.nth(1).inner_text()
        assert "张志强" not in section.inner_text()
        assert board.evaluate("document.scrollingElement.scrollWidth") <= 362
    finally:
        for context in (clerk_context, admin_context, phone):
            context.close()
