"""Fixtures of the ledger tests."""

from __future__ import annotations

import pytest

from tests.ledger.ledger_helpers import LedgerVillage, open_ledger_village


@pytest.fixture
def lv(app) -> LedgerVillage:
    """One village's ledger: three households and a shop."""
    return open_ledger_village(app, 1)
