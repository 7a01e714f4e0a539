"""An expiry run and purchases at the same moment: every household ends as if they ran one after another."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from merit_bank.expiry import services as expiry
from merit_bank.expiry.models import ExpiryAnnouncement
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import Entry, Transaction
from tests.expiry.test_expiry import local
from tests.factories import make_household, make_village
from tests.race_support import run_concurrently

pytestmark = pytest.mark.race


def test_purchases_racing_the_expiry_run_never_lose_points_twice(app):
    village = make_village(app, code="EXRACE")
    households = [make_household(app, village, head_name=f"户{n}")["id"] for n in range(8)]
    with app.app_context():
        ledger.open_shop_account(village_id=village, shop_id=7201)
        db.session.commit()
    app.config["CLOCK"] = lambda: local(2024, 3, 1)
    with app.app_context():
        for h in households:
            ledger.award(
                village_id=village, household_id=h, council="volunteer", points=10,
                idempotency_key=f"old:{h}", actor_id=None,
            )  # fmt: skip
    app.config["CLOCK"] = lambda: local(2026, 6, 1)
    with app.app_context():
        for h in households:
            ledger.award(
                village_id=village, household_id=h, council="volunteer", points=10,
                idempotency_key=f"new:{h}", actor_id=None,
            )  # fmt: skip
        db.session.add(
            ExpiryAnnouncement(
                village_id=village, expires_on=date(2026, 12, 31), years=2, cutoff=date(2024, 12, 31),
                created_at=local(2026, 10, 1),
            )
        )  # fmt: skip
        db.session.commit()
        from merit_bank.villages.models import Village

        db.session.get(Village, village).expiry_years = 2
        db.session.commit()
    app.config["CLOCK"] = lambda: local(2026, 12, 31, 9)

    def run():
        a = db.session.scalar(select(ExpiryAnnouncement).where(ExpiryAnnouncement.village_id == village))
        return expiry.run(a, None)

    def buy(h):
        return lambda: ledger.redeem(
            village_id=village,
            household_id=h,
            shop_id=7201,
            points=5,
            idempotency_key=f"buy:{h}",
            actor_id=None,
        )

    results = run_concurrently(app, [run] + [buy(h) for h in households])
    assert not [r for r in results if isinstance(r, Exception)], results
    with app.app_context():
        assert ledger.verify()["ok"]
        for h in households:
            expiry_tx = ledger.transaction_by_key(expiry.idempotency_key(village, date(2026, 12, 31), h))
            purchase = ledger.transaction_by_key(f"buy:{h}")
            expired = 0
            if expiry_tx is not None:
                expired = -db.session.scalar(
                    select(Entry.amount).where(
                        Entry.transaction_id == expiry_tx.id,
                        Entry.account_id == ledger.household_account(h).id,
                    )
                )
            # Bought first: the purchase took 5 of the old 10, so 5 expire; bought after: all 10 did.
            if expiry_tx is None or purchase.seq < expiry_tx.seq:
                assert expired == 5, h
            else:
                assert expired == 10, h
            assert ledger.household_balance(h) == 20 - 5 - expired
        assert db.session.scalar(select(Transaction.id).where(Transaction.kind == "expiry").limit(1))
