"""A demo villager logs in on a phone and sees their household, balance and QR card."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image

from merit_bank.demo import VILLAGER_PIN, seed_demo
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from tests.browser_support import login

pytestmark = pytest.mark.browser


def test_demo_villager_sees_home_with_a_qr_card_that_scans(live_server, browser_page, tmp_path):
    with live_server.app.app_context():
        seed_demo()
    page = browser_page
    login(page, live_server.url, "13800000001", VILLAGER_PIN)

    assert page.url.rstrip("/") == live_server.url
    assert "王建国" in page.text_content("main")
    assert page.text_content("[data-testid=balance]").strip() == "0"
    card = page.locator("img[data-testid=card]")
    card.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", card.element_handle())

    shot = tmp_path / "card.png"
    card.screenshot(path=str(shot))
    results = zxingcpp.read_barcodes(Image.open(shot))
    assert len(results) == 1
    with live_server.app.app_context():
        household = household_services.household_from_card(results[0].text)
        assert household.head_name == "王建国"
        assert db.session.get(Household, household.id).code in page.text_content("main")
