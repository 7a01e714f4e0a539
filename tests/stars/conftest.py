"""Fixtures of the 星级文明户 tests: the reports tests' village, whose ledger is posted at chosen moments."""

from __future__ import annotations

import pytest

from tests.reports.report_helpers import RWorld, make_rworld


@pytest.fixture
def rworld(app, monkeypatch) -> RWorld:
    """Two villages, six households in two groups, a shop; no postings yet."""
    return make_rworld(app, monkeypatch)
