"""Ledger test helpers: open accounts straight through the ledger, which needs no other domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import text

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger


@dataclass
class LedgerVillage:
    village_id: int
    households: list[int] = field(default_factory=list)
    shops: list[int] = field(default_factory=list)


def open_ledger_village(app: Flask, village_id: int, households: int = 3, shops: int = 1) -> LedgerVillage:
    """A village's ledger with some household and shop accounts (ids derived from the village id)."""
    result = LedgerVillage(village_id)
    with app.app_context():
        ledger.open_village_accounts(village_id=village_id)
        for n in range(households):
            household_id = village_id * 1000 + n + 1
            ledger.open_household_account(village_id=village_id, household_id=household_id)
            result.households.append(household_id)
        for n in range(shops):
            shop_id = village_id * 1000 + 500 + n
            ledger.open_shop_account(village_id=village_id, shop_id=shop_id)
            result.shops.append(shop_id)
        db.session.remove()
    return result


def drop_ledger_triggers(app: Flask) -> None:
    """Remove the append-only triggers, as an insider with database access could (tamper tests)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            for table in ("ledger_transactions", "ledger_entries"):
                for action in ("update", "delete"):
                    db.session.execute(text(f"DROP TRIGGER {table}_no_{action}"))
        else:
            for table in ("ledger_transactions", "ledger_entries"):
                db.session.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        db.session.commit()
