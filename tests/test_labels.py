"""The names people read for stored codes come from one place and cover every code."""

from __future__ import annotations

from merit_bank.auth.models import COUNCILS as CLERK_COUNCILS
from merit_bank.claims.models import STATUSES
from merit_bank.labels import CLAIM_STATUS_EXPLAINED, CLAIM_STATUS_LABELS, COUNCIL_LABELS, COUNCILS
from merit_bank.ledger.models import COUNCILS as LEDGER_COUNCILS


def test_every_claim_status_has_a_short_label_and_a_phrase_for_the_claimant():
    assert set(CLAIM_STATUS_LABELS) == set(STATUSES)
    assert set(CLAIM_STATUS_EXPLAINED) == set(STATUSES)


def test_clerks_and_the_ledger_know_the_same_councils_each_with_a_label():
    assert CLERK_COUNCILS is COUNCILS and LEDGER_COUNCILS is COUNCILS
    assert set(COUNCIL_LABELS) == set(COUNCILS)
