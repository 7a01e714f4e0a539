"""Posting through the ledger: kinds, overdraft policy, reversals, idempotency, history, balances."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from merit_bank.database import utcnow
from merit_bank.errors import DomainError, NotFound, ValidationFailed
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import Account, Entry, Transaction


def _award(lv, points, key, household=0, council="volunteer", **kw):
    return ledger.award(
        village_id=lv.village_id,
        household_id=lv.households[household],
        council=council,
        points=points,
        idempotency_key=key,
        actor_id=7,
        **kw,
    )


def _redeem(lv, points, key, household=0):
    return ledger.redeem(
        village_id=lv.village_id,
        household_id=lv.households[household],
        shop_id=lv.shops[0],
        points=points,
        idempotency_key=key,
        actor_id=7,
    )


def test_an_award_moves_points_from_the_council_to_the_household(app, lv):
    with app.app_context():
        tx = _award(lv, 10, "a1", rule_id=3, rule_version=2, memo="扫地")
        assert (tx.kind, tx.seq, tx.rule_id, tx.rule_version, tx.memo, tx.actor_id) == (
            "award", 1, 3, 2, "扫地", 7,
        )  # fmt: skip
        assert sorted(e.amount for e in tx.entries) == [-10, 10]
        assert ledger.household_balances([lv.households[0], 999]) == {lv.households[0]: (10, 10), 999: (0, 0)}
        issuing = db.session.scalar(select(Account.balance).where(Account.key == "issuing:1:volunteer"))
        assert issuing == -10


def test_a_deduction_may_take_a_household_below_zero(app, lv):
    with app.app_context():
        _award(lv, 5, "a1")
        tx = _award(lv, -8, "d1", council="covenant")
        assert tx.kind == "deduction"
        assert ledger.household_balances([lv.households[0]])[lv.households[0]] == (-3, 5)


def test_a_redemption_never_takes_a_household_below_zero(app, lv):
    with app.app_context():
        _award(lv, 10, "a1")
        _redeem(lv, 6, "r1")
        with pytest.raises(DomainError) as excinfo:
            _redeem(lv, 5, "r2")
        assert excinfo.value.code == "insufficient-balance"
        assert excinfo.value.extra == {"balance": 4, "required": 5}
        assert ledger.household_balance(lv.households[0]) == 4
        assert ledger.shop_balance(lv.shops[0]) == 6
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 2


def test_a_reversal_names_the_original_and_happens_once(app, lv):
    with app.app_context():
        _award(lv, 10, "a1")
        redemption = _redeem(lv, 4, "r1")
        reversal = ledger.reverse(transaction_id=redemption.id, idempotency_key="v1", actor_id=1, memo="void")
        assert (reversal.kind, reversal.reverses_id) == ("reversal", redemption.id)
        assert ledger.household_balance(lv.households[0]) == 10
        assert ledger.shop_balance(lv.shops[0]) == 0
        with pytest.raises(DomainError) as excinfo:
            ledger.reverse(transaction_id=redemption.id, idempotency_key="v2", actor_id=1, memo="again")
        assert excinfo.value.code == "already-reversed"
        with pytest.raises(DomainError) as excinfo:
            ledger.reverse(transaction_id=reversal.id, idempotency_key="v3", actor_id=1, memo="undo")
        assert excinfo.value.code == "not-reversible"


def test_reversing_a_spent_award_is_refused_like_spending(app, lv):
    with app.app_context():
        award = _award(lv, 10, "a1")
        _redeem(lv, 8, "r1")
        with pytest.raises(DomainError) as excinfo:
            ledger.reverse(transaction_id=award.id, idempotency_key="v1", actor_id=1, memo="mistake")
        assert excinfo.value.code == "insufficient-balance"


def test_reversing_an_award_takes_back_the_earned_total(app, lv):
    with app.app_context():
        award = _award(lv, 10, "a1")
        ledger.reverse(transaction_id=award.id, idempotency_key="v1", actor_id=1, memo="mistake")
        assert ledger.household_balances([lv.households[0]])[lv.households[0]] == (0, 0)
        assert ledger.verify()["ok"]


def test_the_same_key_and_request_returns_the_first_transaction(app, lv):
    with app.app_context():
        first = _award(lv, 10, "checkin:1:2")
        again = _award(lv, 10, "checkin:1:2")
        assert again.id == first.id
        assert ledger.household_balance(lv.households[0]) == 10


def test_the_same_key_with_another_request_is_refused(app, lv):
    with app.app_context():
        _award(lv, 10, "k")
        with pytest.raises(DomainError) as excinfo:
            _award(lv, 11, "k")
        assert (excinfo.value.code, excinfo.value.status) == ("idempotency-key-reused", 422)
        with pytest.raises(DomainError) as excinfo:
            _award(lv, 10, "k2", request_hash="a")
            _award(lv, 10, "k2", request_hash="b")
        assert excinfo.value.code == "idempotency-key-reused"


def test_an_adjustment_goes_through_suspense_and_needs_a_reason(app, lv):
    with app.app_context():
        with pytest.raises(ValidationFailed):
            ledger.adjust(
                village_id=1,
                household_id=lv.households[0],
                points=5,
                idempotency_key="j",
                actor_id=1,
                memo=" ",
            )
        tx = ledger.adjust(
            village_id=1, household_id=lv.households[0], points=5, idempotency_key="j", actor_id=1, memo="fix"
        )
        assert tx.kind == "adjustment"
        assert db.session.scalar(select(Account.balance).where(Account.key == "suspense:1")) == -5
        with pytest.raises(DomainError) as excinfo:
            ledger.adjust(
                village_id=1,
                household_id=lv.households[0],
                points=-6,
                idempotency_key="j2",
                actor_id=1,
                memo="x",
            )
        assert excinfo.value.code == "insufficient-balance"


def test_postings_need_an_open_ledger_and_existing_accounts(app, lv):
    with app.app_context():
        with pytest.raises(NotFound) as excinfo:
            ledger.award(
                village_id=2, household_id=1, council="volunteer", points=1, idempotency_key="x", actor_id=1
            )
        assert excinfo.value.code == "ledger-not-open"
        with pytest.raises(NotFound) as excinfo:
            ledger.award(
                village_id=1, household_id=42, council="volunteer", points=1, idempotency_key="y", actor_id=1
            )
        assert excinfo.value.code == "account-not-found"
        with pytest.raises(ValidationFailed):
            _award(lv, 0, "z")
        with pytest.raises(ValidationFailed):
            _award(lv, 1, "z", council="nope")


def test_a_failed_posting_inside_a_callers_transaction_rolls_all_of_it_back(app, lv):
    from merit_bank.database import transaction

    with app.app_context():
        with pytest.raises(DomainError), transaction():
            _award(lv, 10, "a1")
            _redeem(lv, 11, "r1")
        assert ledger.household_balance(lv.households[0]) == 0
        assert db.session.scalar(select(func.count()).select_from(Entry)) == 0


def test_history_is_newest_first_with_the_balance_after_each_row(app, lv):
    with app.app_context():
        _award(lv, 10, "a1", memo="one")
        _redeem(lv, 3, "r1")
        _award(lv, -20, "d1", council="covenant")
        _award(lv, 4, "other", household=1)
        page = ledger.household_history(lv.households[0], page=1, per_page=2)
        assert page["total"] == 3
        assert [(r["kind"], r["amount"], r["balance_after"]) for r in page["items"]] == [
            ("deduction", -20, -13),
            ("redemption", -3, 7),
        ]
        last = ledger.household_history(lv.households[0], page=2, per_page=2)["items"]
        assert [(r["kind"], r["balance_after"], r["memo"]) for r in last] == [("award", 10, "one")]


def test_balance_as_of_a_moment_in_the_past(app, lv):
    with app.app_context():
        before = utcnow() - timedelta(seconds=1)
        _award(lv, 10, "a1")
        middle = utcnow()
        _redeem(lv, 3, "r1")
        assert ledger.balance_as_of(lv.households[0], before) == 0
        assert ledger.balance_as_of(lv.households[0], middle) == 10
        assert ledger.balance_as_of(lv.households[0], utcnow()) == 7
        assert ledger.balance_as_of(999, utcnow()) == 0


def test_list_transactions_filters_by_household_and_time(app, lv):
    with app.app_context():
        _award(lv, 10, "a1")
        start = utcnow()
        _award(lv, 5, "a2", household=1)
        _award(lv, 6, "a3")
        result = ledger.list_transactions(household_id=lv.households[0])
        assert [t.idempotency_key for t in result["items"]] == ["a3", "a1"]
        result = ledger.list_transactions(village_ids=[1], start=start)
        assert result["total"] == 2
        assert ledger.list_transactions(village_ids=[2])["total"] == 0


def test_opening_accounts_twice_changes_nothing(app, lv):
    with app.app_context():
        ledger.open_village_accounts(village_id=1)
        account = ledger.open_household_account(village_id=1, household_id=lv.households[0])
        assert account.key == f"household:{lv.households[0]}"
        assert db.session.scalar(select(func.count()).select_from(Account)) == 7 + 3 + 1
