"""The API docs page renders the OpenAPI spec in Chromium from vendored files alone."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_docs_page_lists_the_operations_without_any_outside_request(live_server, browser_page):
    outside: list[str] = []
    browser_page.on(
        "request",
        lambda request: None if request.url.startswith(live_server.url) else outside.append(request.url),
    )
    browser_page.goto(f"{live_server.url}/api/docs")
    browser_page.wait_for_selector(".opblock")
    assert browser_page.locator(".opblock").count() >= 30
    assert "/api/v1/auth/login" in browser_page.text_content("body")
    assert outside == []
