"""In Chromium: a villager files a claim on a phone, a clerk approves it, the home shows the points;
the public board renders for a phone and prints on A4 without personal numbers."""

from __future__ import annotations

import re

import pytest

from merit_bank.auth.models import User
from merit_bank.claims import services as claim_services
from merit_bank.extensions import db
from merit_bank.rules import services as rule_services
from merit_bank.villages.models import Village
from tests.browser_support import login
from tests.factories import PASSWORD, PIN, make_household, make_user, make_village, make_villager, root_admin

pytestmark = pytest.mark.browser


def _village(app):
    village = make_village(app, "幸福村")
    household = make_household(
        app, village, "王建国", members=[{"name": "王建国", "phone": "13800001111", "relation": "户主"}]
    )
    neighbour = make_household(app, village, "李德明")
    villager = make_villager(app, household, username="13800001111")
    clerk = make_user(app, "clerk", village, username="clerk-li")
    admin_id = root_admin(app)
    with app.app_context():
        admin = db.session.get(User, admin_id)
        rule = rule_services.create_rule(
            admin,
            {
                "code": "VOL",
                "name": "志愿服务每次",
                "council": "volunteer",
                "points": 5,
                "notice_days": 0,
                "village_id": village,
            },
        )
        code = db.session.get(Village, village).code
        return {
            "village": village,
            "code": code,
            "household": household,
            "neighbour": neighbour,
            "villager": villager,
            "clerk": clerk,
            "rule": rule.id,
            "admin": admin_id,
        }


def test_a_villager_claims_on_a_phone_a_clerk_approves_and_the_home_shows_it(
    live_server, browser_page, browser, tmp_path
):
    w = _village(live_server.app)
    page = browser_page
    login(page, live_server.url, "13800001111", PIN)
    assert page.text_content("[data-testid=balance]").strip() == "0"
    page.click("[data-testid=claim-button]")
    page.wait_for_selector("[data-testid=claim-form]")
    page.select_option("#rule_id", str(w["rule"]))
    page.fill("#note", "打扫村文化广场")
    page.screenshot(path=str(tmp_path / "claim-form.png"), full_page=True)
    page.click("[data-testid=claim-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert re.search(r"/claims/\d+", page.url)
    assert "打扫村文化广场" in page.text_content("main")
    # The form fits a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    clerk_context = browser.new_context(viewport={"width": 1024, "height": 800}, locale="zh-CN")
    clerk = clerk_context.new_page()
    try:
        login(clerk, live_server.url, "clerk-li", PASSWORD)
        clerk.goto(f"{live_server.url}/claims/review")
        rows = clerk.locator("[data-testid=queue-row]")
        assert rows.count() == 1
        assert "王建国" in rows.first.text_content()
        clerk.check("[data-testid=select-all]")
        clerk.click("[data-testid=bulk-approve]")
        clerk.wait_for_selector("[data-testid=batch-result]")
        clerk.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    finally:
        clerk_context.close()

    page.goto(live_server.url + "/")
    assert page.text_content("[data-testid=balance]").strip() == "5"
    history = page.text_content("[data-testid=history]")
    assert "志愿服务每次" in history
    assert "+5" in history
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)


def test_the_public_board_renders_on_a_phone_and_prints_on_a4_without_personal_numbers(
    live_server, browser_page, tmp_path
):
    app = live_server.app
    w = _village(app)
    with app.app_context():
        admin = db.session.get(User, w["admin"])
        rule = rule_services.create_rule(
            admin,
            {
                "code": "FLOOD",
                "name": "参加防汛值守",
                "council": "volunteer",
                "points": 20,
                "notice_days": 5,
                "village_id": w["village"],
            },
        )
        clerk = db.session.get(User, w["clerk"])
        for index, household in enumerate((w["household"], w["neighbour"])):
            claim = claim_services.create_claim(
                admin,
                {
                    "household_id": household["id"],
                    "rule_id": rule.id,
                    "note": f"防汛值守第{index + 1}晚，电话13912345678，身份证11010119900101123X",
                },
            )
            claim_services.approve_claim(clerk, claim.id)

    page = browser_page
    response = page.goto(f"{live_server.url}/board/{w['code']}")
    assert response.status == 200
    text = page.text_content("main")
    assert "参加防汛值守" in text and "王建国" in text and "李德明" in text
    # On a phone the board is a list of cards, not a wide table.
    assert page.locator("[data-testid=board-card]").first.is_visible()
    assert not page.locator("[data-testid=board-table]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(tmp_path / "board-phone.png"), full_page=True)

    html = page.content()
    for number in ("13912345678", "11010119900101123X", "13800001111"):
        assert number not in html

    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.screenshot(path=str(tmp_path / "board-print.png"), full_page=True)
    assert page.locator("[data-testid=board-table]").is_visible()
    assert not page.locator("[data-testid=board-card]").first.is_visible()
    assert not page.locator("header.top").is_visible()
    assert page.locator("[data-testid=board-row]").count() == 2
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF")
    pdf_path = tmp_path / "board.pdf"
    pdf_path.write_bytes(pdf)
    # One A4 page (595 x 842 points) for two rows.
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    assert re.search(
        rb"/MediaBox\s*\[\s*0 0 595(\.\d+)? 841(\.\d+)?|/MediaBox\s*\[\s*0 0 595(\.\d+)? 842", pdf
    )
