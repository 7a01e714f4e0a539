"""Reading the ledger: balances (from the cached account rows), a household's history, transactions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from .models import Account, Entry, Transaction

# --- balances ---------------------------------------------------------------------------------------


# Balance reads are the hottest reads in the app: statements built once, run on the session's
# connection without the ORM (building and compiling a select per call cost more than the query).
_acc = Account.__table__.c
_HOUSEHOLD_BALANCE = select(_acc.balance).where(_acc.household_id == bindparam("id"))
_SHOP_BALANCE = select(_acc.balance).where(_acc.shop_id == bindparam("id"))
_HOUSEHOLD_VILLAGE = select(_acc.village_id).where(_acc.household_id == bindparam("id"))
_HOUSEHOLD_VILLAGE_BALANCE = select(_acc.village_id, _acc.balance).where(_acc.household_id == bindparam("id"))
_HOUSEHOLD_BALANCES = select(_acc.household_id, _acc.balance, _acc.earned_total).where(
    _acc.household_id.in_(bindparam("ids", expanding=True))
)


def household_balances(household_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(balance, earned_total) of each household, in one query; a household without account has (0, 0)."""
    result = dict.fromkeys(household_ids, (0, 0))
    if household_ids:
        rows = db.session.connection().execute(_HOUSEHOLD_BALANCES, {"ids": list(household_ids)})
        for household_id, balance, earned in rows:
            result[household_id] = (balance, earned)
    return result


def household_balance(household_id: int) -> int:
    """The household's balance: one indexed row read, whatever the size of the ledger."""
    return db.session.connection().execute(_HOUSEHOLD_BALANCE, {"id": household_id}).scalar() or 0


def household_village_and_balance(household_id: int) -> tuple[int | None, int]:
    """The village of a household's account (for the caller's scope check) and its balance, in one
    indexed row read: (None, 0) when the household has no account."""
    row = db.session.connection().execute(_HOUSEHOLD_VILLAGE_BALANCE, {"id": household_id}).first()
    if row is None:
        return None, 0
    village_id, balance = row
    return village_id, balance


def shop_balance(shop_id: int) -> int:
    return db.session.connection().execute(_SHOP_BALANCE, {"id": shop_id}).scalar() or 0


def household_account(household_id: int) -> Account | None:
    return db.session.scalars(select(Account).where(Account.household_id == household_id)).one_or_none()


def balance_as_of(household_id: int, at: datetime) -> int:
    """The household's balance at a moment: the balance_after of its last entry posted by then.

    Cut by time along the chain order (created_at never runs backwards within a village's chain),
    never by id: ids are handed out before commit, so they are not commit order.
    """
    account_id = db.session.scalar(select(Account.id).where(Account.household_id == household_id))
    if account_id is None:
        return 0
    value = db.session.scalar(
        select(Entry.balance_after)
        .join(Transaction, Transaction.id == Entry.transaction_id)
        .where(Entry.account_id == account_id, Transaction.created_at <= at)
        .order_by(Transaction.seq.desc())
        .limit(1)
    )
    return value or 0


def get_transaction(transaction_id: int) -> Transaction | None:
    return db.session.get(Transaction, transaction_id)


def transaction_by_key(idempotency_key: str) -> Transaction | None:
    return db.session.scalars(
        select(Transaction).where(Transaction.idempotency_key == idempotency_key)
    ).one_or_none()


def household_history(household_id: int, *, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """The household's transactions, newest first, each with the balance right after it."""
    account_id = db.session.scalar(select(Account.id).where(Account.household_id == household_id))
    if account_id is None:
        return {"items": [], "total": 0, "page": page}
    total = db.session.scalar(select(func.count()).where(Entry.account_id == account_id)) or 0
    rows = db.session.execute(
        select(
            Transaction.id,
            Transaction.kind,
            Entry.amount,
            Entry.balance_after,
            Transaction.memo,
            Transaction.created_at,
            Transaction.reverses_id,
        )
        .join(Transaction, Transaction.id == Entry.transaction_id)
        .where(Entry.account_id == account_id)
        .order_by(Transaction.seq.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        {
            "id": r.id,
            "kind": r.kind,
            "amount": r.amount,
            "balance_after": r.balance_after,
            "memo": r.memo,
            "created_at": r.created_at,
            "reverses_id": r.reverses_id,
        }
        for r in rows
    ]
    # Other domains add what they know about a transaction (the claims domain: the member whose deed it
    # was) without the ledger importing them; create_app names them. Each annotates the page's rows.
    for annotate in current_app.extensions.get("merit_bank.history_annotators", ()):
        annotate(items)
    return {"items": items, "total": total, "page": page}


def household_movements(household_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The household's entries posted in [start, end), in chain order, each with the other side named:
    `council` (an issuing leg), `shop_id` (a shop leg), `original_kind` (for a reversal); annotated by
    the other domains like the history (the member whose deed it was)."""
    account_id = db.session.scalar(select(Account.id).where(Account.household_id == household_id))
    if account_id is None:
        return []
    original = Transaction.__table__.alias("original")
    rows = db.session.execute(
        select(
            Transaction.id,
            Transaction.seq,
            Transaction.kind,
            Entry.amount,
            Entry.balance_after,
            Transaction.memo,
            Transaction.created_at,
            Transaction.reverses_id,
            original.c.kind.label("original_kind"),
        )
        .join(Transaction, Transaction.id == Entry.transaction_id)
        .outerjoin(original, original.c.id == Transaction.reverses_id)
        .where(Entry.account_id == account_id, Transaction.created_at >= start, Transaction.created_at < end)
        .order_by(Transaction.seq)
    ).mappings()
    items = [{**row, "council": None, "shop_id": None} for row in rows]
    by_id = {item["id"]: item for item in items}
    if by_id:
        others = db.session.execute(
            select(Entry.transaction_id, Account.kind, Account.council, Account.shop_id)
            .join(Account, Account.id == Entry.account_id)
            .where(Entry.transaction_id.in_(list(by_id)), Entry.account_id != account_id)
        )
        for transaction_id, kind, council, shop_id in others:
            if kind == "issuing":
                by_id[transaction_id]["council"] = council
            elif kind == "shop":
                by_id[transaction_id]["shop_id"] = shop_id
    for annotate in current_app.extensions.get("merit_bank.history_annotators", ()):
        annotate(items)
    return items


def account_village(household_id: int) -> int | None:
    """The village of a household's account (for scope checks without the households domain)."""
    return db.session.connection().execute(_HOUSEHOLD_VILLAGE, {"id": household_id}).scalar()


def shop_account_village(shop_id: int) -> int | None:
    """The village of a shop's account (for scope checks without the shop domain)."""
    return db.session.scalar(select(Account.village_id).where(Account.shop_id == shop_id))


def list_transactions(
    *,
    village_ids: list[int] | None = None,
    household_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """Transactions newest first, filtered by village scope, household and time range [start, end)."""
    query = select(Transaction)
    conditions = []
    if village_ids is not None:
        conditions.append(Transaction.village_id.in_(village_ids))
    if household_id is not None:
        account_id = db.session.scalar(select(Account.id).where(Account.household_id == household_id))
        if account_id is None:
            return {"items": [], "total": 0, "page": page}
        conditions.append(
            Transaction.id.in_(select(Entry.transaction_id).where(Entry.account_id == account_id))
        )
    if start is not None:
        conditions.append(Transaction.created_at >= start)
    if end is not None:
        conditions.append(Transaction.created_at < end)
    if conditions:
        query = query.where(and_(*conditions))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.options(selectinload(Transaction.entries).joinedload(Entry.account))
        .order_by(Transaction.created_at.desc(), Transaction.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return {"items": list(rows), "total": total, "page": page}


def count_transactions(village_ids: list[int] | None = None) -> int:
    query = select(func.count()).select_from(Transaction)
    if village_ids is not None:
        query = query.where(Transaction.village_id.in_(village_ids))
    return db.session.scalar(query) or 0


def stream(query, batch: int = 10_000) -> Iterator[Any]:
    """Rows of a large query without holding them all (a server-side cursor on PostgreSQL)."""
    # Options on the statement, not on the connection: Connection.execution_options() changes the
    # connection itself, and a later statement of the same transaction (an INSERT) would be streamed too.
    result = db.session.connection().execute(query.execution_options(stream_results=True, yield_per=batch))
    for partition in result.partitions(batch):
        yield from partition
