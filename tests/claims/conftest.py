"""Fixtures of the claims tests: a village with households, villagers, clerks, an admin and rules."""

from __future__ import annotations

import pytest

from tests.claims.claim_helpers import World, make_world


@pytest.fixture
def world(app) -> World:
    return make_world(app)
