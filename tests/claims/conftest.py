"""Fixtures of the claims tests: a village with households, villagers, clerks, an admin and rules."""

from __future__ import annotations

import pytest

# The browser fixtures (a live server, Debian's chromium) live with the lead's browser tests.
from tests.browser.conftest import browser, browser_page, live_server, playwright_instance  # noqa: F401
from tests.claims.claim_helpers import World, make_world


@pytest.fixture
def world(app) -> World:
    return make_world(app)
