"""In Chromium, in Chinese, on the seeded demo: the claim form says what happens under the chosen rule; the
claim whose public notice has ended is posted the way the README says (the button on the review page); and a
claim under a two-reviewer rule is approved by the two demo clerks, each logged in on their own phone: it
posts only at the second approval."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from merit_bank.claims import services as claim_services
from merit_bank.claims.models import Claim
from merit_bank.database import utcnow
from merit_bank.demo import ADMIN, CLERK, CLERK2, VILLAGER_PIN, seed_demo
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.rules.models import Rule
from tests.browser_support import login

pytestmark = pytest.mark.browser

README = Path(__file__).resolve().parents[2] / "README.md"


def _phone(browser):
    return browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )


def _claim(app, claim_id: int) -> Claim:
    with app.app_context():
        return db.session.get(Claim, claim_id)


def test_the_demo_posts_a_due_claim_by_the_button_and_two_clerks_approve_a_four_eyes_claim(
    live_server, browser_page, browser, tmp_path
):
    app = live_server.app
    with app.app_context():
        seed_demo()
        due = db.session.scalars(
            select(Claim.id).where(Claim.status == "in_notice", Claim.notice_ends_at <= utcnow())
        ).one()
        rule = db.session.scalar(select(Rule).where(Rule.code == "ADG-DRUG"))
        four_eyes = db.session.scalars(select(Claim).where(Claim.rule_id == rule.id)).one()
        household, points = four_eyes.household_id, four_eyes.points
        balance = ledger.household_balance(household)

    # A villager's claim form says what will happen under the rule they pick.
    context = _phone(browser)
    villager = context.new_page()
    try:
        login(villager, live_server.url, "13800000005", VILLAGER_PIN)
        villager.goto(f"{live_server.url}/claims/new")
        villager.select_option("#rule_id", str(rule.id))
        assert villager.text_content("[data-testid=rule-path]").strip() == (
            "须两名审核人先后审核通过，第二人通过后立即入账，不公示。"
        )
        notice = villager.locator("#rule_id option", has_text="美丽庭院评比达标")
        villager.select_option("#rule_id", notice.get_attribute("value"))
        assert villager.text_content("[data-testid=rule-path]").strip() == (
            "村里审核通过后，在村公示栏公示 3 天，无人提出异议即入账。"
        )
    finally:
        context.close()

    # The admin follows the README: 审核申报, then the button under "posting after the public notice".
    page = browser_page
    login(page, live_server.url, *ADMIN)
    page.goto(f"{live_server.url}/claims/review")
    card = page.locator("[data-testid=post-due]")
    assert card.locator("[data-testid=due-count]").text_content().strip().startswith("有 1 条申报公示期满")
    assert "flask --app merit_bank post-due" in card.text_content()
    readme = README.read_text(encoding="utf-8")
    button = page.locator("[data-testid=post-due-button]")
    assert button.text_content().strip() in readme and "/claims/review" in readme
    assert card.locator("[data-testid=crontab]").text_content().strip() in readme
    page.screenshot(path=str(tmp_path / "review-post-due.png"), full_page=True)
    button.click()
    page.wait_for_load_state("networkidle")
    assert "1" in page.text_content("main")
    with app.app_context():
        assert db.session.get(Claim, due).status == "posted"
        assert claim_services.count_due(None) == 0
    page.goto(f"{live_server.url}/claims/review")
    assert page.locator("[data-testid=due-count]").text_content().strip().startswith("有 0 条申报")

    # Two clerks, each on their own phone, approve the claim under a two-reviewer rule.
    for n, (username, password) in enumerate((CLERK, CLERK2), start=1):
        context = _phone(browser)
        clerk = context.new_page()
        clerk.set_default_timeout(15_000)
        try:
            login(clerk, live_server.url, username, password)
            clerk.goto(f"{live_server.url}/claims/{four_eyes.id}")
            path = clerk.text_content("[data-testid=claim-path]")
            assert path.startswith("须两名审核人先后审核通过")
            clerk.fill("#comment", "已与派出所核实" if n == 1 else "同意")
            clerk.click("[data-testid=approve]")
            clerk.wait_for_load_state("networkidle")
            clerk.screenshot(path=str(tmp_path / f"four-eyes-{n}.png"), full_page=True)
            history = clerk.text_content("[data-testid=claim-history]")
            assert history.count("已与派出所核实") == 1
            claim = _claim(app, four_eyes.id)
            with app.app_context():
                now_balance = ledger.household_balance(household)
            if n == 1:
                # One approval: still waiting, nothing in the ledger.
                assert (claim.status, claim.transaction_id) == ("approved", None)
                assert now_balance == balance
                assert clerk.locator("[data-testid=claim-path]").count() == 1
            else:
                assert claim.status == "posted" and claim.transaction_id is not None
                assert now_balance == balance + points
                assert "同意" in history
                assert clerk.locator("[data-testid=approve]").count() == 0
        finally:
            context.close()
