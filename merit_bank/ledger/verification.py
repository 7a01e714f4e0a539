"""Verification: recompute every village's chain from its rows and name the first thing that is wrong.

The checks, in the order they are made (the first failure is the answer):
1. chain links: each transaction's seq follows the one before and its prev_hash is that one's hash;
2. hashes: each transaction's hash is hashing.py's hash of its contents;
3. double entry: two or more entries that sum to zero;
4. entries: each on an account of the transaction's village, its balance_after the running sum;
5. chain heads: each village's head names its last transaction (and a head past seq 0 has some);
6. cached balances: each account's balance (and a household's earned_total) is the sum of its entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, select

from ..extensions import db
from .hashing import format_time, transaction_hash
from .models import GENESIS_HASH, Account, ChainHead, Entry, Transaction
from .queries import stream

_Leg = tuple[int, int, int]  # (account_id, amount, balance_after)


@dataclass
class _Problem:
    transaction_id: int | None
    reason: str
    village_id: int | None = None
    account_id: int | None = None


def _entry_rows(village_ids: list[int] | None) -> Any:
    """Every transaction with its entries (one row per entry), in chain order, each with the kind of the
    transaction it reverses."""
    t, e = Transaction.__table__.c, Entry.__table__.c
    reversed_tx = Transaction.__table__.alias("reversed_tx")
    query = (
        select(
            t.id,
            t.village_id,
            t.seq,
            t.kind,
            t.idempotency_key,
            t.actor_id,
            t.rule_id,
            t.rule_version,
            t.reverses_id,
            t.memo,
            t.created_at,
            t.prev_hash,
            t.hash,
            reversed_tx.c.kind.label("reversed_kind"),
            e.account_id,
            e.amount,
            e.balance_after,
        )
        .select_from(
            Transaction.__table__.outerjoin(Entry.__table__, e.transaction_id == t.id).outerjoin(
                reversed_tx, reversed_tx.c.id == t.reverses_id
            )
        )
        .order_by(t.village_id, t.seq, e.account_id, e.id)
    )
    if village_ids is not None:
        query = query.where(t.village_id.in_(village_ids))
    return query


@dataclass
class _Walk:
    """The state of one pass over the chains: where the current chain stands, and every running sum."""

    accounts: dict[int, Row]  # id -> (id, village_id, kind, balance, earned_total)
    heads: dict[int, tuple[int, str]]  # village_id -> (seq, head_hash)
    balances: dict[int, int] = field(default_factory=dict)
    earned: dict[int, int] = field(default_factory=dict)
    chain_village: int | None = None
    chain_seq: int = 0
    chain_hash: str = GENESIS_HASH
    seen_villages: set[int] = field(default_factory=set)

    def start_chain(self, village_id: int) -> None:
        self.chain_village, self.chain_seq, self.chain_hash = village_id, 0, GENESIS_HASH
        self.seen_villages.add(village_id)

    def check_link(self, tx: Row) -> _Problem | None:
        """1. The transaction follows the one before it in its chain."""
        if tx.seq != self.chain_seq + 1:
            return _Problem(
                tx.id, f"sequence gap: expected seq {self.chain_seq + 1}, found {tx.seq}", tx.village_id
            )
        if tx.prev_hash != self.chain_hash:
            return _Problem(
                tx.id, "previous hash does not match the hash of the transaction before", tx.village_id
            )
        return None

    @staticmethod
    def check_hash(tx: Row, legs: list[_Leg]) -> _Problem | None:
        """2. The stored hash is the hash of the stored contents."""
        digest = transaction_hash(
            village_id=tx.village_id,
            seq=tx.seq,
            prev_hash=tx.prev_hash,
            kind=tx.kind,
            idempotency_key=tx.idempotency_key,
            actor_id=tx.actor_id,
            rule_id=tx.rule_id,
            rule_version=tx.rule_version,
            reverses_id=tx.reverses_id,
            memo=tx.memo,
            created_at=format_time(tx.created_at),
            entries=legs,
        )
        if digest != tx.hash:
            return _Problem(tx.id, "hash does not match the transaction's contents", tx.village_id)
        return None

    @staticmethod
    def check_double_entry(tx: Row, legs: list[_Leg]) -> _Problem | None:
        """3. Two or more entries that sum to zero."""
        if len(legs) < 2:
            return _Problem(tx.id, "fewer than two entries", tx.village_id)
        if sum(leg[1] for leg in legs) != 0:
            return _Problem(tx.id, "entries do not sum to zero", tx.village_id)
        return None

    def check_entries(self, tx: Row, legs: list[_Leg]) -> _Problem | None:
        """4. Every entry on an account of the village, its balance_after the account's running sum."""
        earns = tx.kind == "award" or (tx.kind == "reversal" and tx.reversed_kind == "award")
        for account_id, amount, balance_after in legs:
            account = self.accounts.get(account_id)
            if account is None or account.village_id != tx.village_id:
                return _Problem(
                    tx.id, f"entry on account {account_id} outside village {tx.village_id}", tx.village_id
                )
            running = self.balances.get(account_id, 0) + amount
            self.balances[account_id] = running
            if running != balance_after:
                return _Problem(
                    tx.id,
                    f"balance_after {balance_after} of account {account_id} != running sum {running}",
                    tx.village_id,
                    account_id,
                )
            if earns and account.kind == "household":
                self.earned[account_id] = self.earned.get(account_id, 0) + amount
        return None

    def check_transaction(self, tx: Row, legs: list[_Leg]) -> _Problem | None:
        problem = (
            self.check_link(tx)
            or self.check_hash(tx, legs)
            or self.check_double_entry(tx, legs)
            or self.check_entries(tx, legs)
        )
        if problem is None:
            self.chain_seq, self.chain_hash = tx.seq, tx.hash
        return problem

    def check_head(self) -> _Problem | None:
        """5. The chain just walked ends where its head says it does."""
        village = self.chain_village
        if village is None:
            return None
        head = self.heads.get(village)
        if head is None:
            return _Problem(None, f"village {village} has transactions but no chain head", village)
        if head != (self.chain_seq, self.chain_hash):
            return _Problem(
                None,
                f"chain head of village {village} is seq {head[0]} {head[1]}, "
                f"but its last transaction is seq {self.chain_seq} {self.chain_hash}",
                village,
            )
        return None

    def check_empty_chains(self) -> _Problem | None:
        """5. A chain whose head says it has transactions must have them (a deleted tail is a gap too)."""
        for village_id, (seq, _hash) in self.heads.items():
            if village_id not in self.seen_villages and seq != 0:
                return _Problem(
                    None,
                    f"chain head of village {village_id} is at seq {seq}, but it has no transactions",
                    village_id,
                )
        return None

    def check_cached_balances(self, village_ids: list[int] | None) -> _Problem | None:
        """6. Every cached balance and earned_total is the sum of the entries walked."""
        for account_id, account in self.accounts.items():
            if village_ids is not None and account.village_id not in village_ids:
                continue
            summed = self.balances.get(account_id, 0)
            if account.balance != summed:
                return _Problem(
                    None,
                    f"cached balance {account.balance} of account {account_id} != sum of its entries "
                    f"{summed}",
                    account.village_id,
                    account_id,
                )
            awarded = self.earned.get(account_id, 0)
            if account.kind == "household" and account.earned_total != awarded:
                return _Problem(
                    None,
                    f"cached earned_total {account.earned_total} of account {account_id} "
                    f"!= sum of its awards {awarded}",
                    account.village_id,
                    account_id,
                )
        return None


def _walk_chains(
    walk: _Walk, village_ids: list[int] | None, progress: Callable[[int], None] | None
) -> tuple[int, _Problem | None]:
    """Steps 1 to 5 over every transaction in chain order: (transactions checked, first problem)."""
    problem: _Problem | None = None
    checked = 0
    current: Row | None = None
    legs: list[_Leg] = []
    for row in stream(_entry_rows(village_ids)):
        if current is None or row.id != current.id:
            if current is not None:
                problem = walk.check_transaction(current, legs)
                checked += 1
                if progress is not None and checked % 1000 == 0:
                    progress(1000)
                if problem:
                    break
            if current is None or row.village_id != current.village_id:
                problem = walk.check_head()
                if problem:
                    break
                walk.start_chain(row.village_id)
            current, legs = row, []
        if row.account_id is not None:
            legs.append((row.account_id, row.amount, row.balance_after))
    else:
        if current is not None:
            problem = walk.check_transaction(current, legs)
            checked += 1
        problem = problem or walk.check_head()
    if progress is not None:
        progress(checked % 1000)
    return checked, problem or walk.check_empty_chains()


def verify(
    progress: Callable[[int], None] | None = None, village_ids: list[int] | None = None
) -> dict[str, Any]:
    """Recompute every chain, every entry sum and every cached balance; name the first bad transaction.

    Returns {ok: True, transactions, head: [{village_id, seq, hash}]} or
    {ok: False, first_bad_id, reason, village_id?, account_id?}. `progress(n)` is told of every
    n transactions checked.
    """
    accounts = {
        row.id: row
        for row in db.session.execute(
            select(Account.id, Account.village_id, Account.kind, Account.balance, Account.earned_total)
        )
    }
    heads_query = select(ChainHead.village_id, ChainHead.seq, ChainHead.head_hash).order_by(
        ChainHead.village_id
    )
    if village_ids is not None:
        heads_query = heads_query.where(ChainHead.village_id.in_(village_ids))
    heads = {row.village_id: (row.seq, row.head_hash) for row in db.session.execute(heads_query)}

    walk = _Walk(accounts, heads)
    checked, problem = _walk_chains(walk, village_ids, progress)
    problem = problem or walk.check_cached_balances(village_ids)

    if problem is not None:
        result: dict[str, Any] = {
            "ok": False,
            "first_bad_id": problem.transaction_id,
            "reason": problem.reason,
            "village_id": problem.village_id,
        }
        if problem.account_id is not None:
            result["account_id"] = problem.account_id
        return result
    return {
        "ok": True,
        "transactions": checked,
        "head": [{"village_id": v, "seq": s, "hash": h} for v, (s, h) in heads.items()],
    }
