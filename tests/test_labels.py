"""The names people read for stored codes come from one place and cover every code."""

from __future__ import annotations

import re

from merit_bank.auth.models import COUNCILS as CLERK_COUNCILS
from merit_bank.claims.models import STATUSES
from merit_bank.labels import CLAIM_SOURCE_LABELS, CLAIM_STATUS_LABELS, COUNCIL_LABELS, COUNCILS
from merit_bank.ledger.models import COUNCILS as LEDGER_COUNCILS


def test_every_claim_status_has_one_label():
    assert set(CLAIM_STATUS_LABELS) == set(STATUSES)


def test_every_claim_source_has_a_label():
    from merit_bank.claims.models import Claim

    constraint = next(c for c in Claim.__table__.constraints if "source IN" in str(getattr(c, "sqltext", "")))
    assert set(CLAIM_SOURCE_LABELS) == set(re.findall(r"'(\w+)'", str(constraint.sqltext)))


def test_clerks_and_the_ledger_know_the_same_councils_each_with_a_label():
    assert CLERK_COUNCILS is COUNCILS and LEDGER_COUNCILS is COUNCILS
    assert set(COUNCIL_LABELS) == set(COUNCILS)


def test_every_ledger_kind_has_a_label_in_exports_and_in_histories():
    from merit_bank.labels import HISTORY_KIND_LABELS, LEDGER_KIND_LABELS
    from merit_bank.ledger.models import TRANSACTION_KINDS, Transaction

    assert set(LEDGER_KIND_LABELS) == set(TRANSACTION_KINDS) == set(HISTORY_KIND_LABELS)
    constraint = next(
        c for c in Transaction.__table__.constraints if "kind IN" in str(getattr(c, "sqltext", ""))
    )
    assert set(re.findall(r"'(\w+)'", str(constraint.sqltext))) == set(TRANSACTION_KINDS)
