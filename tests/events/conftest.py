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
