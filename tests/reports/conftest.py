"""Fixtures of the reports tests."""

from __future__ import annotations

import pytest

from tests.reports.report_helpers import RWorld, make_rworld, post_story


@pytest.fixture
def rworld(app, monkeypatch) -> RWorld:
    """Two villages, six households in two groups, a shop; no postings yet."""
    return make_rworld(app, monkeypatch)


@pytest.fixture
def story(rworld) -> RWorld:
    """The world with January and February 2026 posted (see report_helpers.post_story)."""
    post_story(rworld)
    return rworld
