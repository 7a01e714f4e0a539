"""In Chromium: the dashboard renders its charts on a phone; the card sheet prints to PDF, and its QR codes
decode to the households' current cards."""

from __future__ import annotations

import pypdfium2
import pytest
import zxingcpp

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.ledger import services as ledger
from tests.browser_support import login
from tests.factories import PASSWORD, make_household, make_user, make_village

pytestmark = pytest.mark.browser


def _world(app, households: int = 4) -> dict:
    village = make_village(app, "幸福村", groups=("一组", "二组"))
    made = [
        make_household(app, village, name, group="一组" if i % 2 else "二组")
        for i, name in enumerate(["王建国", "李德明", "张志强", "刘长顺", "陈永福", "杨国庆", "赵春生",
                                  "黄宝山", "周德胜", "吴海涛", "徐立新", "孙有财"][:households])
    ]  # fmt: skip
    admin = make_user(app, "admin", village)
    with app.app_context():
        for n, h in enumerate(made):
            ledger.award(village_id=village, household_id=h["id"], council="volunteer", points=5 + n,
                         idempotency_key=f"b:{n}", actor_id=admin)  # fmt: skip
        ledger.award(village_id=village, household_id=made[0]["id"], council="covenant", points=-2,
                     idempotency_key="b:deduct", actor_id=admin)  # fmt: skip
        username = db.session.get(User, admin).username
    return {"village": village, "households": made, "username": username}


def test_the_village_dashboard_renders_its_charts_on_a_phone(live_server, browser_page):
    w = _world(live_server.app)
    page = browser_page
    login(page, live_server.url, w["username"], PASSWORD)
    page.goto(f"{live_server.url}/reports/?village_id={w['village']}")
    page.wait_for_selector("svg.chart")
    assert page.locator("svg.chart").count() >= 6
    bars = page.locator("svg.chart .bar")
    assert bars.count() >= 4
    box = page.locator("svg.chart").first.bounding_box()
    assert box and box["width"] > 250 and box["height"] > 100  # most of a 360 px wide screen
    assert page.text_content("[data-testid=issued]").strip() == str(sum(5 + n for n in range(4)))
    # Readable on a phone: nothing wider than the screen, and no chart label drawn under 12 px.
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 362
    smallest = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll('svg.chart text')].map(
            t => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a))"""
    )
    assert smallest >= 12, f"smallest chart label {smallest:.1f} px"
    page.goto(f"{live_server.url}/reports/county")
    assert page.locator("svg.chart").count() >= 3


def test_the_card_sheet_prints_and_every_qr_decodes_to_a_current_card(live_server, browser, tmp_path):
    w = _world(live_server.app, households=12)
    context = browser.new_context(
        viewport={"width": 900, "height": 1200}, device_scale_factor=2, locale="zh-CN"
    )
    page = context.new_page()
    try:
        login(page, live_server.url, w["username"], PASSWORD)
        page.goto(f"{live_server.url}/reports/cards?village_id={w['village']}")
        assert page.locator("[data-testid=card]").count() == 12
        # Ten cards a page in rows of two, on screen and on paper: no card alone on a row.
        for media in ("screen", "print"):
            page.emulate_media(media=media)
            tops = page.eval_on_selector_all(
                "[data-testid=sheet]:first-of-type [data-testid=card]",
                "cards => cards.map(c => Math.round(c.getBoundingClientRect().top))",
            )
            assert len(tops) == 10
            assert sorted({tops.count(t) for t in tops}) == [2], f"{media}: cards per row {tops}"
        page.emulate_media(media="screen")
        # Reissue one card from the sheet: the old one is revoked, the sheet shows the new one.
        target = w["households"][3]["id"]
        page.goto(f"{live_server.url}/reports/cards?village_id={w['village']}")
        page.locator(f"[data-household='{target}'] a.reissue").click()
        page.wait_for_selector("[data-testid=reissue-confirm]")
        page.check("[data-testid=reissue-confirm-box]")
        page.click("[data-testid=reissue-submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/reports/cards?village_id={w['village']}")

        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF")
        document = pypdfium2.PdfDocument(pdf)
        assert len(document) == 2, "ten cards a page: two pages"
        tokens = set()
        for pdf_page in document:
            # The printed sheet itself, rasterised at 300 dpi as a printer would, is what must scan.
            image = pdf_page.render(scale=300 / 72).to_pil()
            tokens |= {r.text for r in zxingcpp.read_barcodes(image)}
        assert len(tokens) == 12, f"decoded {len(tokens)} of 12 cards from the PDF"
        with live_server.app.app_context():
            found = {household_services.household_from_card(token).id for token in tokens}
        assert found == {h["id"] for h in w["households"]}
    finally:
        context.close()
