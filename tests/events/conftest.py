"""Fixtures of the events tests: a movable events clock and a village with rules, staff and villagers."""

from __future__ import annotations

import pytest

from merit_bank.events import tokens
from tests.events.event_helpers import Clock, World, make_world


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The events clock, starting at T0; tests move it instead of sleeping."""
    fake = Clock()
    monkeypatch.setattr(tokens, "clock", fake)
    return fake


@pytest.fixture
def world(app, client, clock) -> World:
    return make_world(app, client)


# The browser fixtures (live server, Debian chromium) live with the lead's browser tests.
from tests.browser.conftest import browser, browser_page, live_server, playwright_instance  # noqa: E402

__all__ = ["browser", "browser_page", "clock", "live_server", "playwright_instance", "world"]
