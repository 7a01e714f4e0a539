"""Real threads against the service layer, each with its own app context, session and connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from merit_bank.errors import DomainError
from merit_bank.ledger import services as ledger
from tests.ledger.ledger_helpers import open_ledger_village
from tests.race_support import run_concurrently

pytestmark = pytest.mark.race


def test_thirty_concurrent_spends_against_a_balance_for_ten_post_exactly_ten(app, lv):
    household = lv.households[0]
    with app.app_context():
        ledger.award(village_id=1, household_id=household, council="volunteer", points=10,
                     idempotency_key="seed", actor_id=1)  # fmt: skip

    def spend(n: int) -> Callable[[], Any]:
        return lambda: ledger.redeem(
            village_id=1, household_id=household, shop_id=lv.shops[0], points=1,
            idempotency_key=f"spend-{n}", actor_id=1,
        ).id  # fmt: skip

    results = run_concurrently(app, [spend(n) for n in range(30)])
    posted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(posted) == 10, results
    assert len(refused) == 20 and {r.code for r in refused} == {"insufficient-balance"}
    with app.app_context():
        assert ledger.household_balance(household) == 0
        assert ledger.shop_balance(lv.shops[0]) == 10
        assert ledger.verify()["ok"]


def test_twelve_concurrent_requests_with_one_key_post_once(app, lv):
    def same() -> int:
        return ledger.award(
            village_id=1, household_id=lv.households[0], council="volunteer", points=5,
            idempotency_key="checkin:9:9", actor_id=1,
        ).id  # fmt: skip

    results = run_concurrently(app, [same] * 12)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    with app.app_context():
        assert ledger.household_balance(lv.households[0]) == 5
        assert ledger.count_transactions() == 1
        assert ledger.verify()["ok"]


def test_postings_in_two_villages_both_succeed_and_both_chains_verify(app, lv):
    other = open_ledger_village(app, 2)

    def award(village, n: int) -> Callable[[], Any]:
        return lambda: ledger.award(
            village_id=village.village_id, household_id=village.households[n % 3], council="moral_review",
            points=n + 1, idempotency_key=f"v{village.village_id}-{n}", actor_id=1,
        ).id  # fmt: skip

    jobs = [award(v, n) for n in range(10) for v in (lv, other)]
    results = run_concurrently(app, jobs)
    assert all(isinstance(r, int) for r in results), results
    with app.app_context():
        result = ledger.verify()
        assert result["ok"] and result["transactions"] == 20
        assert [(h["village_id"], h["seq"]) for h in result["head"]] == [(1, 10), (2, 10)]
