"""Ledger accounts: their keys, and opening them (idempotent) for villages, households and shops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select

from ..database import transaction, utcnow
from ..extensions import db
from .models import COUNCILS, GENESIS_HASH, Account, ChainHead

# --- account keys ---------------------------------------------------------------------------------


def household_key(household_id: int) -> str:
    return f"household:{household_id}"


def shop_key(shop_id: int) -> str:
    return f"shop:{shop_id}"


def issuing_key(village_id: int, council: str) -> str:
    return f"issuing:{village_id}:{council}"


def suspense_key(village_id: int) -> str:
    return f"suspense:{village_id}"


# --- opening accounts -------------------------------------------------------------------------------


def _ensure_accounts(rows: Sequence[dict[str, Any]]) -> None:
    """Insert the accounts that do not exist yet (opening is idempotent)."""
    keys = [r["key"] for r in rows]
    existing = set(db.session.scalars(select(Account.key).where(Account.key.in_(keys))))
    missing = [r for r in rows if r["key"] not in existing]
    if missing:
        now = utcnow()
        db.session.execute(
            insert(Account),
            [{"balance": 0, "earned_total": 0, "created_at": now, **r} for r in missing],
        )


def open_village_accounts(village_id: int) -> None:
    """Open a village's ledger: one issuing account per council, the suspense account, the chain head."""
    with transaction():
        rows = [
            {"key": issuing_key(village_id, c), "kind": "issuing", "village_id": village_id, "council": c}
            for c in COUNCILS
        ]
        rows.append({"key": suspense_key(village_id), "kind": "suspense", "village_id": village_id})
        _ensure_accounts(rows)
        if db.session.get(ChainHead, village_id) is None:
            db.session.execute(
                insert(ChainHead).values(village_id=village_id, seq=0, head_hash=GENESIS_HASH, last_at=None)
            )


def open_household_account(village_id: int, household_id: int) -> Account:
    """Open (or return) a household's points account."""
    with transaction():
        _ensure_accounts(
            [
                {
                    "key": household_key(household_id),
                    "kind": "household",
                    "village_id": village_id,
                    "household_id": household_id,
                }
            ]
        )
        return db.session.scalars(select(Account).where(Account.household_id == household_id)).one()


def open_shop_account(village_id: int, shop_id: int) -> Account:
    """Open (or return) a shop's account, where redeemed points go."""
    with transaction():
        _ensure_accounts(
            [{"key": shop_key(shop_id), "kind": "shop", "village_id": village_id, "shop_id": shop_id}]
        )
        return db.session.scalars(select(Account).where(Account.shop_id == shop_id)).one()
