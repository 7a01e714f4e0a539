"""In Chromium: a township supervisor's flags page in Chinese, one flag opened down to its transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser_support import login
from tests.factories import PASSWORD
from tests.supervision.helpers import install_clock, make_supervisor, make_township, make_v

pytestmark = pytest.mark.browser


def test_a_supervisor_opens_a_flag_down_to_the_transaction(live_server, browser_page, monkeypatch):
    app = live_server.app
    clk, day = install_clock(monkeypatch)
    village = make_v(app, "甲村")
    clk.at(day, 9)
    for n in range(3):
        clk.tick(60)
        village.adjust(n, 10)
    make_supervisor(app, make_township(app, "甲镇", [village.id]), "sup_browser")

    page = browser_page
    login(page, live_server.url, "sup_browser", PASSWORD)
    period = f"from={(day - timedelta(days=1)).isoformat()}&to={(day + timedelta(days=9)).isoformat()}"
    page.goto(f"{live_server.url}/supervision/?{period}")
    assert page.text_content("h1").strip() == "监督线索"
    section = page.locator("[data-testid=village-flags]")
    assert "甲村" in section.text_content()
    flag = page.locator("li.flag[data-code=adjustments]")
    assert "调整（更正）" in flag.text_content()
    assert "3 笔调整" in flag.locator(".flag-reason").text_content()

    flag.locator("[data-testid=flag-link]").click()
    page.wait_for_selector("[data-testid=evidence]")
    assert "3 笔调整" in page.text_content("[data-testid=flag-reason]")
    assert page.text_content("[data-testid=flag-status]").strip() == "未核查"
    page.locator("[data-testid=evidence-transaction]").first.click()
    page.wait_for_selector("[data-testid=entries]")
    assert page.text_content("h1").startswith("交易 #")
    assert "更正" in page.text_content("[data-testid=transaction-memo]")
    assert page.locator("[data-testid=entries] tbody tr").count() == 2
