"""Staff pages on a slow link: 查找 tapped before the page's script has run keeps the typed code and finds
the household; the scanner fetches jsQR only when its camera starts, and then reads a real card."""

from __future__ import annotations

from datetime import timedelta

import pytest

from merit_bank.auth.models import User
from merit_bank.database import utcnow
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from merit_bank.qr import qr_png
from tests.browser_support import login
from tests.events.event_helpers import make_world
from tests.factories import PASSWORD
from tests.shop.shop_helpers import build_world
from tests.shop.test_counter_browser import _launch, write_y4m

pytestmark = pytest.mark.browser


def _username(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get_one(User, user_id).username


def _running_event(app, world) -> int:
    now = utcnow()
    body = {
        "village_id": world.village,
        "title": "河道清理",
        "rule_id": world.rules["instant"],
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    response = app.test_client().post("/api/v1/events", json=body, headers=world.h(world.clerk))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _phone(browser):
    context = browser.new_context(viewport={"width": 360, "height": 640}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _find_before_the_script_runs(page, url: str, script: str, code: str) -> None:
    """Open `url` with its `script` held back (as on a slow link), type the code and tap 查找."""
    page.route(f"**/static/js/{script}*", lambda route: route.abort())
    page.goto(url)
    page.fill("[data-testid=code]", code.lower())
    page.unroute(f"**/static/js/{script}*")
    with page.expect_navigation():
        page.click("#code-form button[type=submit]")
    # The form was posted back to the same page, which kept the code.
    assert page.url == url
    assert page.input_value("[data-testid=code]") == code.upper()


def test_the_scanners_find_works_before_its_script_has_run(live_server, browser):
    app = live_server.app
    world = make_world(app, app.test_client())
    event_id = _running_event(app, world)
    household = world.households[1]
    page = _phone(browser)
    login(page, live_server.url, _username(app, world.clerk), PASSWORD)

    url = f"{live_server.url}/events/{event_id}/scan"
    _find_before_the_script_runs(page, url, "scan.js", household["code"])
    # scan.js ran on the page that came back and looked the kept code up.
    page.wait_for_selector("#chooser:not([hidden])")
    assert household["code"] in page.text_content("#chooser-title")
    page.click(f"#members button[data-member-id='{household['member_ids'][0]}']")
    page.wait_for_selector("#results li[data-outcome=created]")
    page.context.close()


def test_the_counters_find_works_before_its_script_has_run(live_server, browser):
    app = live_server.app
    world = build_world(app, households=1, points=50)
    with app.app_context():
        code = db.session.get_one(Household, world.households[0]["id"]).code
        keeper = db.session.get_one(User, world.shopkeeper_id).username
    page = _phone(browser)
    login(page, live_server.url, keeper, PASSWORD)

    url = f"{live_server.url}/shop/{world.shop_id}/counter"
    _find_before_the_script_runs(page, url, "shop-counter.js", code)
    page.wait_for_selector("[data-testid=customer]", state="visible")
    assert page.text_content("[data-testid=c-balance]") == "50"
    # "Next customer" opens the counter afresh (a GET), not the posted page again.
    page.click("#cancel")
    page.wait_for_selector("[data-testid=code]")
    assert page.input_value("[data-testid=code]") == ""
    page.context.close()


def test_the_scanner_fetches_its_decoder_only_when_the_camera_starts(
    live_server, playwright_instance, chromium_path, tmp_path
):
    app = live_server.app
    world = make_world(app, app.test_client())
    event_id = _running_event(app, world)
    household = world.households[0]
    with app.app_context():
        token = household_services.card_token(db.session.get_one(Household, household["id"]))
    video = tmp_path / "card.y4m"
    write_y4m(qr_png(token), video)
    browser = _launch(playwright_instance, chromium_path, video)
    try:
        context = browser.new_context(viewport={"width": 360, "height": 640}, locale="zh-CN", is_mobile=True)
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        page.set_default_timeout(20_000)
        login(page, live_server.url, _username(app, world.clerk), PASSWORD)
        page.goto(f"{live_server.url}/events/{event_id}/scan")
        page.wait_for_selector("#scanner[data-ready=true]")
        # The page neither names jsQR in a script tag nor runs it: nothing waits for its 257 KB.
        assert page.locator("script[src*=jsQR]").count() == 0
        assert page.evaluate("typeof jsQR") == "undefined"

        page.click("#camera")
        page.wait_for_selector("#chooser:not([hidden])")
        assert household["code"] in page.text_content("#chooser-title")
        if not page.evaluate("'BarcodeDetector' in window"):
            assert page.evaluate("typeof jsQR") == "function"
            assert page.locator("script[src*='/static/vendor/jsqr/jsQR.js?v=']").count() == 1
    finally:
        browser.close()
