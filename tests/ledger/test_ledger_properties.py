"""Property-based: random sequences of awards, deductions, redemptions and reversals keep the ledger whole.

After every step: all entries sum to zero, each cached balance equals the sum of its entries, no household
is below zero except by a deduction (checked against a model that predicts every refusal), and every
chain verifies.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from merit_bank.errors import DomainError
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from tests.ledger.ledger_helpers import open_ledger_village

HOUSEHOLDS = 3
_villages = itertools.count(100)

household = st.integers(0, HOUSEHOLDS - 1)
points = st.integers(1, 30)
operation = st.one_of(
    st.tuples(st.just("award"), household, points),
    st.tuples(st.just("deduct"), household, points),
    st.tuples(st.just("redeem"), household, points),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("replay"), st.integers(0, 50), st.just(0)),
)


def _check_invariants(village_id: int, expected: dict[int, int]) -> None:
    session = db.session
    assert session.scalar(text("SELECT COALESCE(SUM(amount), 0) FROM ledger_entries")) == 0
    unbalanced = session.scalar(
        text("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id "
             "HAVING SUM(amount) <> 0) AS t")
    )  # fmt: skip
    assert unbalanced == 0
    mismatched = session.scalar(
        text("SELECT COUNT(*) FROM ledger_accounts a WHERE a.balance <> "
             "(SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e WHERE e.account_id = a.id)")
    )  # fmt: skip
    assert mismatched == 0
    actual = ledger.household_balances(list(expected))
    assert {h: b for h, (b, _earned) in actual.items()} == expected
    result = ledger.verify(village_ids=[village_id])
    assert result["ok"], result


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=25))
def test_random_postings_keep_the_ledger_whole(app, operations):
    village_id = next(_villages)
    v = open_ledger_village(app, village_id, households=HOUSEHOLDS)
    model = dict.fromkeys(v.households, 0)
    # Every posted transaction: (id, kind, household, household amount, key, request).
    posted: list[tuple[int, str, int, int]] = []
    reversed_ids: set[int] = set()
    keys = itertools.count()
    with app.app_context():
        for op, arg, amount in operations:
            key = f"{village_id}:{next(keys)}"
            if op in ("award", "deduct", "redeem"):
                h = v.households[arg]
                delta = amount if op == "award" else -amount
                refused = op == "redeem" and model[h] + delta < 0
                try:
                    if op == "redeem":
                        tx = ledger.redeem(village_id=village_id, household_id=h, shop_id=v.shops[0],
                                           points=amount, idempotency_key=key, actor_id=1)  # fmt: skip
                    else:
                        tx = ledger.award(village_id=village_id, household_id=h, council="covenant",
                                          points=delta, idempotency_key=key, actor_id=1)  # fmt: skip
                except DomainError as exc:
                    assert refused and exc.code == "insufficient-balance"
                else:
                    assert not refused
                    model[h] += delta
                    posted.append((tx.id, tx.kind, h, delta))
            elif op == "reverse" and posted:
                tx_id, kind, h, delta = posted[arg % len(posted)]
                if kind == "reversal":
                    continue
                expect = "already-reversed" if tx_id in reversed_ids else None
                if expect is None and model[h] - delta < 0 and delta > 0:
                    expect = "insufficient-balance"
                try:
                    rev = ledger.reverse(transaction_id=tx_id, idempotency_key=key, actor_id=1, memo="undo")
                except DomainError as exc:
                    assert exc.code == expect
                else:
                    assert expect is None
                    reversed_ids.add(tx_id)
                    model[h] -= delta
                    posted.append((rev.id, "reversal", h, -delta))
            elif op == "replay" and posted:
                tx_id = posted[arg % len(posted)][0]
                original = ledger.get_transaction(tx_id)
                again = ledger.post(
                    village_id=village_id, kind=original.kind,
                    lines=[(e.account.key, e.amount) for e in original.entries],
                    idempotency_key=original.idempotency_key, actor_id=1,
                    request_hash=original.request_hash,
                )  # fmt: skip
                assert again.id == tx_id
            _check_invariants(village_id, model)
        db.session.remove()
