"""A refused form in a real browser: a plain sentence in Chinese, and the way back keeps what was typed."""

from __future__ import annotations

import pytest

from tests.browser_support import login
from tests.factories import PASSWORD, make_user, make_village

pytestmark = pytest.mark.browser


def test_a_refused_household_form_shows_a_chinese_sentence_and_keeps_the_typing(live_server, browser_page):
    app = live_server.app
    make_village(app, "幸福村")
    make_user(app, "admin", None, username="boss")
    page = browser_page
    login(page, live_server.url, "boss", PASSWORD)
    page.goto(f"{live_server.url}/admin/households")
    page.fill("#head_name", "王建国")
    page.fill("#address", "村东头")
    page.fill("input[name=member_name] >> nth=0", "王建国")
    page.fill("input[name=member_phone] >> nth=0", "12ab")
    page.click("form:has(#head_name) button[type=submit]")
    page.wait_for_load_state("load")
    error = page.text_content(".error")
    assert "手机号" in error and "应为 11 位、以 13–19 开头的手机号码" in error
    assert page.input_value("#head_name") == "王建国"
    assert page.input_value("#address") == "村东头"
    assert page.input_value("input[name=member_phone] >> nth=0") == "12ab"


def test_a_control_character_in_a_form_is_refused_and_the_back_link_restores_the_form(
    live_server, browser_page
):
    app = live_server.app
    make_user(app, "admin", None, username="boss")
    page = browser_page
    login(page, live_server.url, "boss", PASSWORD)
    page.goto(f"{live_server.url}/admin/villages")
    page.fill("#name", "新村")
    page.fill("#code", "NEW1")
    # A control character pasted from another program; the guard refuses it before any view runs.
    page.eval_on_selector("#groups", "(el) => { el.value = '一组\\u0001'; }")
    page.click("form:has(#groups) button[type=submit]")
    page.wait_for_selector("[data-testid=back-to-form]")
    assert "422" in page.text_content("h1")
    page.click("[data-testid=back-to-form]")
    page.wait_for_selector("#name")
    assert page.input_value("#name") == "新村"
    assert page.input_value("#code") == "NEW1"
