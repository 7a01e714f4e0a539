"""Checkpoint test helpers: a village with named households and postings, and a consistent rewrite."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import text

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.ledger.hashing import format_time, transaction_hash
from merit_bank.ledger.models import GENESIS_HASH, Account, ChainHead, Entry, Transaction
from merit_bank.villages.models import Village
from tests.factories import id_number, make_household, make_shop, make_village, root_admin
from tests.ledger.ledger_helpers import drop_ledger_triggers

# Personal data that must never appear in a public body: every household gets a name, phone and ID number.
PEOPLE = [
    ("欧阳振华", "13700000011", id_number(101)),
    ("司马秀英", "13700000022", id_number(102)),
    ("诸葛建国", "13700000033", id_number(103)),
]


@dataclass
class Seeded:
    village_id: int
    code: str
    households: list[int] = field(default_factory=list)
    shop_id: int = 0
    secrets: list[str] = field(default_factory=list)


def seed_village(app: Flask, code: str = "XINGFU", name: str = "幸福村") -> Seeded:
    village_id = make_village(app, name, code=code)
    seeded = Seeded(village_id, code)
    for head, phone, number in PEOPLE:
        household = make_household(
            app,
            village_id,
            head,
            members=[{"name": head, "phone": phone, "id_number": number, "relation": "户主"}],
        )
        seeded.households.append(household["id"])
        seeded.secrets += [head, phone, number]
    seeded.shop_id = make_shop(app, village_id)
    with app.app_context():
        ledger.open_shop_account(village_id=village_id, shop_id=seeded.shop_id)
        db.session.remove()
    return seeded


def post_some(app: Flask, seeded: Seeded, tag: str, points: int = 10) -> None:
    """An award to every household and one redemption, as a day of ordinary business."""
    admin = root_admin(app)
    with app.app_context():
        for n, household in enumerate(seeded.households):
            ledger.award(
                village_id=seeded.village_id, household_id=household, council="volunteer", points=points + n,
                idempotency_key=f"{tag}-award-{n}", actor_id=admin, memo="志愿服务每次",
            )  # fmt: skip
        ledger.redeem(
            village_id=seeded.village_id, household_id=seeded.households[0], shop_id=seeded.shop_id, points=3,
            idempotency_key=f"{tag}-redeem", actor_id=admin, memo="积分超市: 洗衣粉 ×1",
        )  # fmt: skip
        db.session.remove()


def village_code(app: Flask, village_id: int) -> str:
    with app.app_context():
        return db.session.get(Village, village_id).code


def rewrite_consistently(app: Flask, village_id: int, seq: int, extra_points: int) -> None:
    """What the outside review did: give transaction `seq`'s household `extra_points` more, then recompute
    every later balance_after, every hash, the chain head and the cached balances with the project's own
    hashing.py, so that the rewritten ledger is internally whole."""
    drop_ledger_triggers(app)
    with app.app_context():
        kinds = dict(db.session.execute(db.select(Account.id, Account.kind)).all())
        transactions = list(
            db.session.scalars(
                db.select(Transaction).where(Transaction.village_id == village_id).order_by(Transaction.seq)
            )
        )
        balances: dict[int, int] = {}
        earned: dict[int, int] = {}
        kind_of = {t.id: t.kind for t in transactions}
        prev = GENESIS_HASH
        for tx in transactions:
            entries = list(db.session.scalars(db.select(Entry).where(Entry.transaction_id == tx.id)))
            if tx.seq == seq:
                for entry in entries:
                    delta = extra_points if kinds[entry.account_id] == "household" else -extra_points
                    db.session.execute(
                        text("UPDATE ledger_entries SET amount = :a WHERE id = :id"),
                        {"a": entry.amount + delta, "id": entry.id},
                    )
                db.session.flush()
                entries = list(db.session.scalars(db.select(Entry).where(Entry.transaction_id == tx.id)))
                for entry in entries:
                    db.session.refresh(entry)
            legs = []
            earns = tx.kind == "award" or (tx.kind == "reversal" and kind_of.get(tx.reverses_id) == "award")
            for entry in sorted(entries, key=lambda e: (e.account_id, e.id)):
                balances[entry.account_id] = balances.get(entry.account_id, 0) + entry.amount
                if earns and kinds[entry.account_id] == "household":
                    earned[entry.account_id] = earned.get(entry.account_id, 0) + entry.amount
                db.session.execute(
                    text("UPDATE ledger_entries SET balance_after = :b WHERE id = :id"),
                    {"b": balances[entry.account_id], "id": entry.id},
                )
                legs.append((entry.account_id, entry.amount, balances[entry.account_id]))
            digest = transaction_hash(
                village_id=village_id, seq=tx.seq, prev_hash=prev, kind=tx.kind,
                idempotency_key=tx.idempotency_key, actor_id=tx.actor_id, rule_id=tx.rule_id,
                rule_version=tx.rule_version, reverses_id=tx.reverses_id, memo=tx.memo,
                created_at=format_time(tx.created_at), entries=legs,
            )  # fmt: skip
            db.session.execute(
                text("UPDATE ledger_transactions SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": digest, "id": tx.id},
            )
            prev = digest
        for account_id, balance in balances.items():
            db.session.execute(
                text("UPDATE ledger_accounts SET balance = :b, earned_total = :e WHERE id = :id"),
                {"b": balance, "e": earned.get(account_id, 0), "id": account_id},
            )
        db.session.execute(
            text("UPDATE ledger_chains SET head_hash = :h WHERE village_id = :v"),
            {"h": prev, "v": village_id},
        )
        db.session.commit()
        head = db.session.get(ChainHead, village_id)
        assert head is not None and head.head_hash == prev
        db.session.remove()
