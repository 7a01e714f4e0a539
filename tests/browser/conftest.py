"""Browser journeys that cross domains; the fixtures live in tests/conftest.py, helpers in browser_support."""

from __future__ import annotations

import pytest

from tests.browser_support import login

__all__ = ["login"]

# The phone the issue was tried on: a cheap Android phone held upright, in Chinese.
PHONE = {"viewport": {"width": 360, "height": 640}, "device_scale_factor": 2, "is_mobile": True}


@pytest.fixture
def phone_context(browser):
    """A fresh browser context of a 360x640 touch phone set to Chinese; its pages time out after 15 s."""
    context = browser.new_context(**PHONE, has_touch=True, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context
    context.close()
