"""Ledger tables: accounts with cached balances, per-village chain heads, transactions and entries.

The ledger imports no other domain and holds no foreign keys into other domains' tables: a household,
shop or village is referred to by its id only, so the ledger's migration and its verification stand on
their own. Transactions and entries are append-only (database triggers refuse UPDATE and DELETE, see
migration 0002); accounts and chain heads are the only rows that change, and only inside a posting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..labels import COUNCILS as COUNCILS  # the councils points are awarded under

TRANSACTION_KINDS = ("award", "deduction", "redemption", "reversal", "adjustment", "expiry")
# The previous hash of a village's first transaction.
GENESIS_HASH = "0" * 64


class Account(db.Model):
    """A points account; `balance` caches the sum of its entries and changes with them."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (CheckConstraint("kind IN ('household', 'issuing', 'suspense', 'shop')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A stable, readable name: household:<id>, shop:<id>, issuing:<village>:<council>, suspense:<village>.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    village_id: Mapped[int] = mapped_column(Integer, index=True)
    household_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    shop_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    council: Mapped[str | None] = mapped_column(String(32))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points ever earned by awards, net of reversed awards (deductions and spending leave it alone).
    earned_total: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChainHead(db.Model):
    """The head of one village's hash chain; locking this row serializes that village's postings."""

    __tablename__ = "ledger_chains"

    village_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    # The time of the last posting: created_at never runs backwards within a chain, so "as of" queries
    # may cut the chain by time and get a prefix of it.
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transaction(db.Model):
    """One balanced movement of points; immutable once written."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('award', 'deduction', 'redemption', 'reversal', 'adjustment', 'expiry')", name="kind"
        ),
        UniqueConstraint("village_id", "seq"),
        # A few villages' period (supervision's township month) without the county's rows of that time.
        Index("ix_ledger_transactions_village_id_created_at", "village_id", "created_at"),
    )
    # Not a column: {account key: balance after} on a transaction that post() has just written (the
    # posting returns them, so a caller never reads a balance again); None on one read or replayed.
    balances_after = None
    follow_up = None  # what a posting's FollowUp returned (ledger.posting.FollowUp)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    # Unique: a transaction can be reversed once, and the database itself says so.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    memo: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    entries: Mapped[list[Entry]] = relationship(order_by="Entry.id", viewonly=True)


class Entry(db.Model):
    """One leg of a transaction; `balance_after` is the account's balance right after it."""

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_nonzero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)

    account: Mapped[Account] = relationship(viewonly=True)
