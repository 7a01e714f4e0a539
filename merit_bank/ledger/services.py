"""The ledger's service functions: every point that moves goes through `post()`.

How a posting stays correct under concurrency (see docs/ledger.md, "Concurrency"):
- It runs inside `database.transaction()`, so it joins a caller's transaction or commits on its own.
- It first takes its village's lock: on PostgreSQL an advisory lock (the queue) and then the chain head
  FOR UPDATE; on SQLite the whole database is already locked by BEGIN IMMEDIATE. Every account belongs to
  one village and every posting takes its village's lock, so within a village postings are serialized and
  different villages append in parallel. Lock order: village queue, chain head, accounts by ascending id.
- Under that lock it checks the idempotency key, reads and row-locks the accounts, applies the overdraft
  policy, and writes the transaction, its entries, the new cached balances and the new chain head: on
  SQLite statement by statement, on PostgreSQL in one statement whose result Python checks (the hash
  included) before the commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import psycopg
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import make_transient_to_detached, selectinload

from ..database import is_sqlite, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import request_gettext as _
from .hashing import format_time, request_digest, transaction_hash
from .models import COUNCILS, GENESIS_HASH, TRANSACTION_KINDS, Account, ChainHead, Entry, Transaction

# Overdraft policy per kind: may a posting of this kind take a household account below zero?
# Only a covenant deduction may (a penalty is owed); spending, corrections and adjustments may not.
# Credits to an account that is already negative are always allowed.
HOUSEHOLD_MAY_GO_NEGATIVE: dict[str, bool] = {
    "award": False,
    "deduction": True,
    "redemption": False,
    "reversal": False,
    "adjustment": False,
    # Expiry takes only points the household still holds (merit_bank/expiry/services.py), never more.
    "expiry": False,
}

MAX_KEY_LENGTH = 200
MAX_MEMO_LENGTH = 500
# A mainland mobile number or a resident ID number (18 characters, or the old 15 digits), not part of a
# longer run of digits: memos are published with the chain, so these never enter one.
PERSONAL_NUMBER = re.compile(r"(?<![0-9])(?:1[3-9][0-9]{9}|[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")


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


# --- balances ---------------------------------------------------------------------------------------


# Balance reads are the hottest reads in the app: statements built once, run on the session's
# connection without the ORM (building and compiling a select per call cost more than the query).
_acc = Account.__table__.c
_HOUSEHOLD_BALANCE = select(_acc.balance).where(_acc.household_id == bindparam("id"))
_SHOP_BALANCE = select(_acc.balance).where(_acc.shop_id == bindparam("id"))
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


# --- posting ----------------------------------------------------------------------------------------


def _check_key(idempotency_key: str) -> None:
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
        raise ValidationFailed(
            detail=_("The idempotency key must be 1 to %(n)d characters.", n=MAX_KEY_LENGTH),
            errors={"idempotency_key": [_("Invalid length.")]},
        )


def _check_points(points: int, *, positive: bool = False) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or (positive and points < 0):
        raise ValidationFailed(
            detail=_("Points must be a non-zero whole number."), errors={"points": [_("Invalid.")]}
        )


# The posting path's statements, built once: constructing SQLAlchemy statements per call cost more
# than running them (bench/ledger.py). They run on the session's connection, outside the ORM.
_chains = ChainHead.__table__
_transactions = Transaction.__table__
_entries = Entry.__table__
_accounts = Account.__table__
_LOCK_CHAIN = select(_chains.c.seq, _chains.c.head_hash, _chains.c.last_at).where(
    _chains.c.village_id == bindparam("village_id")
)
_FIND_KEY = select(_transactions.c.id, _transactions.c.request_hash).where(
    _transactions.c.idempotency_key == bindparam("key")
)
_FIND_ORIGINAL = select(_transactions.c.kind, _transactions.c.village_id).where(
    _transactions.c.id == bindparam("id")
)
_FIND_REVERSAL = select(_transactions.c.id).where(_transactions.c.reverses_id == bindparam("id"))
_READ_ACCOUNTS = (
    select(_accounts.c.id, _accounts.c.key, _accounts.c.kind, _accounts.c.village_id, _accounts.c.balance)
    .where(_accounts.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(_accounts.c.id)
)
_INSERT_TRANSACTION = insert(_transactions).returning(_transactions.c.id)
_INSERT_ENTRIES = insert(_entries)
_UPDATE_ACCOUNTS = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("_id"))
    .values(balance=bindparam("_balance"), earned_total=_accounts.c.earned_total + bindparam("_earned"))
)
_UPDATE_CHAIN = (
    update(_chains)
    .where(_chains.c.village_id == bindparam("_village_id"))
    .values(seq=bindparam("_seq"), head_hash=bindparam("_hash"), last_at=bindparam("_at"))
)


# PostgreSQL posts in ONE statement under the chain lock, then commits: the lock is held from that
# statement to the commit, and every client round trip in between lengthens the queue behind it (with
# several workers on few cores, each one also waits for the client process to be scheduled again).
# _PG_POST, in order:
# - queues for the village on a transaction-scoped advisory lock (key CHAIN_LOCK_CLASS, village_id),
#   then locks the chain head, then the accounts in id order. That is the ledger's lock order: village
#   queue, chain head, accounts by ascending id; each CTE depends on the one before through EXISTS (an
#   InitPlan), so they are taken in that order. The queue exists because a row lock is a poor queue:
#   every posting writes a new version of the head, and at each commit all the postings waiting for
#   the old version wake up and race for the new one (on 2 cores that herd costs more CPU than the
#   posting). The advisory lock is granted in arrival order to one waiter at a time; when it is, the
#   previous holder has committed, so the head is free. Code that locks the head without the queue
#   (none does) would still be correct, just not queued. FOR UPDATE returns the newest committed version
#   of each locked row although the statement's snapshot predates the wait (READ COMMITTED re-reads
#   locked rows), so the balances and the head are current, and so are the UPDATEs below.
# - looks up the idempotency key and the reversed transaction. These reads are not locked and may miss a
#   key or a reversal committed while the statement waited for the head; ON CONFLICT DO NOTHING (every
#   unique index) then writes nothing, and Python looks again with a fresh snapshot.
# - checks what Python's _plan checks (accounts found, in the village, overdraft policy); if any check
#   fails nothing is written and _plan, run on the rows returned, raises the proper error.
# - builds the canonical encoding of docs/ledger.md and its SHA-256, inserts the transaction, its
#   entries, the new balances and the new head. PostgreSQL's to_json escapes strings exactly as Python's
#   json.dumps(ensure_ascii=False) does; even so Python recomputes the hash with hashing.py from the
#   returned rows before the commit and refuses to commit if the two differ (see _post_postgresql).
# The first key of the village queue's advisory lock ("LEDG"); the two-key form never meets the one-key
# locks other domains take (PostgreSQL keeps the two key spaces apart).
CHAIN_LOCK_CLASS = 0x4C454447


def _compact(sql: str) -> str:
    """The statement without indentation: psycopg caches its parsing of queries only up to 4 KB."""
    return "\n".join(line.strip() for line in sql.splitlines() if line.strip())


_PG_POST = _compact("""
WITH queue AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(%(lock_class)s::int, %(village_id)s::int)
), chain AS MATERIALIZED (
    SELECT seq, head_hash, last_at FROM ledger_chains
    WHERE village_id = %(village_id)s AND EXISTS (SELECT FROM queue)
    FOR UPDATE
), accounts AS MATERIALIZED (
    SELECT id, key, kind, village_id, balance FROM ledger_accounts
    WHERE key = ANY(%(keys)s::text[]) AND EXISTS (SELECT FROM chain)
    ORDER BY id FOR UPDATE
), known AS MATERIALIZED (
    SELECT id, request_hash FROM ledger_transactions WHERE idempotency_key = %(idempotency_key)s::text
), original AS MATERIALIZED (
    SELECT o.kind, o.village_id, EXISTS (SELECT FROM ledger_transactions r WHERE r.reverses_id = o.id)
        AS reversed
    FROM ledger_transactions o WHERE o.id = %(reverses_id)s::int
), lines AS MATERIALIZED (
    SELECT l.n, a.id AS account_id, a.kind, a.village_id, l.amount, a.balance + l.amount AS balance_after,
        CASE WHEN a.kind = 'household' AND (%(kind)s::text = 'award' OR (%(kind)s::text = 'reversal'
            AND (SELECT kind FROM original) = 'award')) THEN l.amount ELSE 0 END AS earned
    FROM unnest(%(keys)s::text[], %(amounts)s::bigint[]) WITH ORDINALITY AS l(key, amount, n)
    JOIN accounts a ON a.key = l.key
), posting AS MATERIALIZED (
    SELECT chain.seq + 1 AS seq, chain.head_hash AS prev_hash,
        GREATEST(%(now)s::timestamptz, chain.last_at) AS created_at
    FROM chain
    WHERE NOT EXISTS (SELECT FROM known)
        AND (%(reverses_id)s::int IS NULL OR EXISTS (SELECT FROM original
            WHERE village_id = %(village_id)s AND kind <> 'reversal' AND NOT reversed))
        AND (SELECT count(*) FROM lines) = cardinality(%(keys)s::text[])
        AND NOT EXISTS (SELECT FROM lines WHERE village_id <> %(village_id)s
            OR (kind = 'household' AND amount < 0 AND balance_after < 0 AND NOT %(may_go_negative)s))
), hashed AS MATERIALIZED (
    SELECT p.seq, p.prev_hash, p.created_at, encode(sha256(convert_to(
        '{"actor_id":' || coalesce(%(actor_id)s::bigint::text, 'null')
        || ',"created_at":"' || to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","entries":[' || (SELECT string_agg('[' || account_id || ',' || amount || ',' || balance_after
            || ']', ',' ORDER BY account_id) FROM lines)
        || '],"idempotency_key":' || to_json(%(idempotency_key)s::text)::text
        || ',"kind":' || to_json(%(kind)s::text)::text
        || ',"memo":' || to_json(%(memo)s::text)::text
        || ',"prev_hash":' || to_json(p.prev_hash::text)::text
        || ',"reverses_id":' || coalesce(%(reverses_id)s::bigint::text, 'null')
        || ',"rule_id":' || coalesce(%(rule_id)s::bigint::text, 'null')
        || ',"rule_version":' || coalesce(%(rule_version)s::bigint::text, 'null')
        || ',"seq":' || p.seq
        || ',"v":1,"village_id":' || %(village_id)s::bigint || '}', 'UTF8')), 'hex') AS hash
    FROM posting p
), tx AS (
    INSERT INTO ledger_transactions (village_id, seq, kind, idempotency_key, request_hash, actor_id,
        rule_id, rule_version, reverses_id, memo, created_at, prev_hash, hash)
    SELECT %(village_id)s, h.seq, %(kind)s, %(idempotency_key)s, %(request_hash)s, %(actor_id)s,
        %(rule_id)s, %(rule_version)s, %(reverses_id)s, %(memo)s, h.created_at, h.prev_hash, h.hash
    FROM hashed h
    ON CONFLICT DO NOTHING
    RETURNING id, seq, created_at, hash
), new_entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after)
    SELECT tx.id, l.account_id, l.amount, l.balance_after FROM tx, lines l ORDER BY l.n
), new_balances AS (
    UPDATE ledger_accounts SET balance = l.balance_after, earned_total = earned_total + l.earned
    FROM tx, lines l WHERE ledger_accounts.id = l.account_id
), new_head AS (
    UPDATE ledger_chains SET seq = tx.seq, head_hash = tx.hash, last_at = tx.created_at
    FROM tx WHERE ledger_chains.village_id = %(village_id)s
)
SELECT chain.seq, chain.head_hash, chain.last_at, known.id, known.request_hash,
    accounts.id, accounts.key, accounts.kind, accounts.village_id, accounts.balance,
    (SELECT kind FROM original), tx.id, tx.seq, tx.created_at, tx.hash
FROM chain
LEFT JOIN known ON true
LEFT JOIN accounts ON true
LEFT JOIN tx ON true
""")


def _pg_rows(connection: Connection, sql: str, params: dict[str, Any]) -> list[tuple]:
    """Run a posting statement straight on the session's psycopg connection, prepared on the server.

    Under the chain lock every bit of client work lengthens the queue, so these two statements skip
    SQLAlchemy's execution layer; errors still surface as SQLAlchemy's (IntegrityError and so on).
    """
    try:
        return connection.connection.driver_connection.execute(sql, params, prepare=True).fetchall()
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, dialect=connection.dialect) from exc


def lock_village(village_id: int) -> None:
    """Take the village's posting lock inside the caller's transaction, until it ends.

    For a service that reads the ledger and then posts from what it read (expiry): no posting of the
    village can slip in between. Same lock order as post(): the queue, then the chain head. post() in the
    same transaction takes them again, which PostgreSQL grants at once to their holder; on SQLite the
    whole database is already held by BEGIN IMMEDIATE.
    """
    if is_sqlite():
        return
    connection = db.session.connection()
    connection.exec_driver_sql(
        "SELECT pg_advisory_xact_lock(%(c)s, %(v)s)", {"c": CHAIN_LOCK_CLASS, "v": village_id}
    )
    connection.execute(_LOCK_CHAIN.with_for_update(), {"village_id": village_id}).one_or_none()


def _lock_chain(village_id: int) -> tuple[int, str, datetime | None]:
    row = db.session.connection().execute(_LOCK_CHAIN, {"village_id": village_id}).one_or_none()
    if row is None:
        raise NotFound("ledger-not-open", _("This village has no ledger yet."))
    return row[0], row[1], row[2]


def post(
    *,
    village_id: int,
    kind: str,
    lines: Sequence[tuple[str, int]],
    idempotency_key: str,
    actor_id: int | None,
    memo: str = "",
    rule_id: int | None = None,
    rule_version: int | None = None,
    reverses_id: int | None = None,
    request_hash: str | None = None,
) -> Transaction:
    """Post one balanced transaction; the single way points move.

    `lines` are (account key, amount) pairs that must sum to zero. A repeat of an idempotency key with
    the same request returns the first transaction without posting; with another request it is refused.
    """
    if kind not in TRANSACTION_KINDS:
        raise ValueError(f"unknown transaction kind {kind!r}")
    _check_key(idempotency_key)
    memo = memo or ""
    if len(memo) > MAX_MEMO_LENGTH:
        raise ValidationFailed(
            detail=_("The memo is too long."), errors={"memo": [_("At most 500 characters.")]}
        )
    if PERSONAL_NUMBER.search(memo):
        # The memo is hashed, so the public export must carry it (docs/ledger.md, "The public export").
        raise ValidationFailed(
            detail=_("The memo is published in the village's public ledger: leave out phone and ID numbers."),
            errors={"memo": [_("Leave out phone and ID numbers.")]},
        )
    merged: dict[str, int] = {}
    for key, amount in lines:
        merged[key] = merged.get(key, 0) + amount
    merged = {k: a for k, a in merged.items() if a != 0}
    if len(merged) < 2 or sum(merged.values()) != 0:
        raise ValueError("a transaction needs two or more non-zero entries that sum to zero")
    if request_hash is None:
        request_hash = request_digest(
            {
                "village_id": village_id,
                "kind": kind,
                "lines": sorted(merged.items()),
                "actor_id": actor_id,
                "memo": memo,
                "rule_id": rule_id,
                "rule_version": rule_version,
                "reverses_id": reverses_id,
            }
        )
    with transaction():
        result = _post_locked(
            village_id=village_id,
            kind=kind,
            lines=merged,
            idempotency_key=idempotency_key,
            actor_id=actor_id,
            memo=memo,
            rule_id=rule_id,
            rule_version=rule_version,
            reverses_id=reverses_id,
            request_hash=request_hash,
        )
    if isinstance(result, Transaction):
        return result
    # The new row enters the session only now, outside the chain lock when this call committed alone
    # (and, added after that commit, it is not expired, so reading it costs no query).
    transaction_id, values, balances = result
    tx = _loaded(transaction_id, values)
    tx.balances_after = balances
    return tx


def _key_reused() -> DomainError:
    return DomainError(
        "idempotency-key-reused",
        _("This idempotency key was already used for a different request."),
        status=422,
    )


def _known(transaction_id: int, request_hash: str, known_hash: str) -> Transaction:
    """The transaction an idempotency key already names, if the request is the same one."""
    if known_hash != request_hash:
        raise _key_reused()
    tx = db.session.get_one(Transaction, transaction_id)
    tx.balances_after = None  # not written by this call, even if this session wrote it before
    return tx


def _check_reversal(connection, village_id: int, reverses_id: int | None) -> str | None:
    """The kind of the transaction being reversed, after checking that it may be (under the lock)."""
    if reverses_id is None:
        return None
    original = connection.execute(_FIND_ORIGINAL, {"id": reverses_id}).one_or_none()
    if original is None or original[1] != village_id:
        raise NotFound("not-found", _("No such transaction."))
    if original[0] == "reversal":
        raise DomainError("not-reversible", _("A reversal cannot itself be reversed."))
    if connection.execute(_FIND_REVERSAL, {"id": reverses_id}).first() is not None:
        raise DomainError("already-reversed", _("This transaction has already been reversed."))
    return original[0]


@dataclass
class _Posting:
    """A posting computed under the lock, ready to write: the row, its entries, the balance changes."""

    values: dict[str, Any]
    entries: list[tuple[int, int, int]]  # (account_id, amount, balance_after), in the order of `lines`
    earned: list[int]  # per entry, what it adds to the account's earned_total


def _plan(
    *,
    village_id: int,
    kind: str,
    lines: dict[str, int],
    accounts: dict[str, tuple[int, str, int, int]],  # key -> (id, kind, village_id, balance)
    reversed_kind: str | None,
    chain: tuple[int, str, datetime | None],
    now: datetime,
    idempotency_key: str,
    actor_id: int | None,
    memo: str,
    rule_id: int | None,
    rule_version: int | None,
    reverses_id: int | None,
    request_hash: str,
) -> _Posting:
    """Apply the overdraft policy, work out the new balances, the time and the hash (pure Python)."""
    missing = [k for k in lines if k not in accounts]
    if missing:
        raise NotFound("account-not-found", _("No such account: %(key)s", key=missing[0]))
    earns = kind == "award" or (kind == "reversal" and reversed_kind == "award")
    entries: list[tuple[int, int, int]] = []
    earned: list[int] = []
    for key, amount in lines.items():
        account_id, account_kind, account_village, balance = accounts[key]
        if account_village != village_id:
            raise ValueError(f"account {key} belongs to village {account_village}, not {village_id}")
        new_balance = balance + amount
        if (
            account_kind == "household"
            and amount < 0
            and new_balance < 0
            and not HOUSEHOLD_MAY_GO_NEGATIVE[kind]
        ):
            raise DomainError(
                "insufficient-balance",
                _(
                    "The household has %(balance)d points; %(required)d are needed.",
                    balance=balance,
                    required=-amount,
                ),
                balance=balance,
                required=-amount,
            )
        entries.append((account_id, amount, new_balance))
        earned.append(amount if earns and account_kind == "household" else 0)

    seq, prev_hash, last_at = chain
    # created_at never runs backwards within a chain, even if the clock does.
    created_at = now if last_at is None or now > last_at else last_at
    seq += 1
    digest = transaction_hash(
        village_id=village_id,
        seq=seq,
        prev_hash=prev_hash,
        kind=kind,
        idempotency_key=idempotency_key,
        actor_id=actor_id,
        rule_id=rule_id,
        rule_version=rule_version,
        reverses_id=reverses_id,
        memo=memo,
        created_at=format_time(created_at),
        entries=entries,
    )
    values = {
        "village_id": village_id,
        "seq": seq,
        "kind": kind,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "actor_id": actor_id,
        "rule_id": rule_id,
        "rule_version": rule_version,
        "reverses_id": reverses_id,
        "memo": memo,
        "created_at": created_at,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    return _Posting(values, entries, earned)


def _loaded(transaction_id: int, values: dict[str, Any]) -> Transaction:
    """Hand the caller the new row without reading it back: it enters the session as already loaded."""
    tx = Transaction(id=transaction_id, **values)
    make_transient_to_detached(tx)
    db.session.add(tx)
    return tx


_Written = tuple[int, dict[str, Any], dict[str, int]]


def _balances(lines: dict[str, int], plan: _Posting) -> dict[str, int]:
    """{account key: balance after} of a plan; its entries are in the order of `lines`."""
    return {key: entry[2] for key, entry in zip(lines, plan.entries, strict=True)}


def _post_locked(**posting: Any) -> Transaction | _Written:
    """Lock the village's chain, check, compute and write one posting (see the two paths below).

    Returns the known transaction for a repeated idempotency key, else the new row's (id, values,
    balances after).
    """
    if is_sqlite():
        return _post_sqlite(**posting)
    return _post_postgresql(**posting)


def _post_postgresql(
    *,
    village_id: int,
    kind: str,
    lines: dict[str, int],
    idempotency_key: str,
    request_hash: str,
    reverses_id: int | None,
    actor_id: int | None,
    memo: str,
    rule_id: int | None,
    rule_version: int | None,
) -> Transaction | _Written:
    """One statement under the chain lock (_PG_POST), checked against _plan before the commit."""
    connection = db.session.connection()
    now = utcnow()
    rows = _pg_rows(
        connection,
        _PG_POST,
        {
            "village_id": village_id,
            "kind": kind,
            "keys": list(lines),
            "amounts": list(lines.values()),
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "reverses_id": reverses_id,
            "actor_id": actor_id,
            "memo": memo,
            "rule_id": rule_id,
            "rule_version": rule_version,
            "now": now,
            "may_go_negative": HOUSEHOLD_MAY_GO_NEGATIVE[kind],
            "lock_class": CHAIN_LOCK_CLASS,
        },
    )
    if not rows:
        raise NotFound("ledger-not-open", _("This village has no ledger yet."))
    first = rows[0]
    if first[3] is not None:
        return _known(first[3], request_hash, first[4])
    written = first[11] is not None
    if not written:
        # Nothing was written. Say why in the order the checks have always been made, each with a
        # fresh snapshot: a reversal that may not be posted, then _plan's account and policy checks.
        _check_reversal(connection, village_id, reverses_id)
    last_at = first[2].astimezone(UTC) if first[2] is not None else None
    plan = _plan(
        village_id=village_id,
        kind=kind,
        lines=lines,
        accounts={r[6]: (r[5], r[7], r[8], r[9]) for r in rows if r[5] is not None},
        reversed_kind=first[10],
        chain=(first[0], first[1], last_at),
        now=now,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reverses_id=reverses_id,
        actor_id=actor_id,
        memo=memo,
        rule_id=rule_id,
        rule_version=rule_version,
    )
    if not written:
        # Every check passes, so a unique index refused the row: the key was committed after the
        # statement's snapshot was taken (here while it waited for the head, or in another village).
        known = connection.execute(_FIND_KEY, {"key": idempotency_key}).one_or_none()
        if known is None:
            raise RuntimeError(f"ledger: posting {idempotency_key!r} was refused for no known reason")
        return _known(known[0], request_hash, known[1])
    values = plan.values
    if (first[12], first[13].astimezone(UTC), first[14]) != (
        values["seq"],
        values["created_at"],
        values["hash"],
    ):
        # Raising rolls the posting back: a hash the documented encoding does not reproduce never commits.
        raise RuntimeError(
            f"ledger: PostgreSQL's posting (seq {first[12]}, hash {first[14]}) differs from hashing.py's "
            f"(seq {values['seq']}, hash {values['hash']})"
        )
    return first[11], values, _balances(lines, plan)


def _post_sqlite(
    *,
    village_id: int,
    kind: str,
    lines: dict[str, int],
    idempotency_key: str,
    request_hash: str,
    reverses_id: int | None,
    **fields: Any,
) -> Transaction | _Written:
    """SQLite: BEGIN IMMEDIATE already holds the whole database, so plain statements in any order."""
    seq, prev_hash, last_at = _lock_chain(village_id)
    connection = db.session.connection()
    existing = connection.execute(_FIND_KEY, {"key": idempotency_key}).one_or_none()
    if existing is not None:
        return _known(existing[0], request_hash, existing[1])
    reversed_kind = _check_reversal(connection, village_id, reverses_id)
    accounts = {
        row[1]: (row[0], row[2], row[3], row[4])
        for row in connection.execute(_READ_ACCOUNTS, {"keys": list(lines)})
    }
    plan = _plan(
        village_id=village_id,
        kind=kind,
        lines=lines,
        accounts=accounts,
        reversed_kind=reversed_kind,
        chain=(seq, prev_hash, last_at),
        now=utcnow(),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reverses_id=reverses_id,
        **fields,
    )
    try:
        transaction_id = connection.execute(_INSERT_TRANSACTION, plan.values).scalar_one()
    except IntegrityError as exc:
        raise _key_reused() from exc
    connection.execute(
        _INSERT_ENTRIES,
        [
            {"transaction_id": transaction_id, "account_id": a, "amount": m, "balance_after": b}
            for a, m, b in plan.entries
        ],
    )
    connection.execute(
        _UPDATE_ACCOUNTS,
        [
            {"_id": a, "_balance": b, "_earned": e}
            for (a, _m, b), e in zip(plan.entries, plan.earned, strict=True)
        ],
    )
    connection.execute(
        _UPDATE_CHAIN,
        {"_village_id": village_id, "_seq": plan.values["seq"], "_hash": plan.values["hash"],
         "_at": plan.values["created_at"]},
    )  # fmt: skip
    return transaction_id, plan.values, _balances(lines, plan)


def award(
    *,
    village_id: int,
    household_id: int,
    council: str,
    points: int,
    idempotency_key: str,
    actor_id: int | None,
    rule_id: int | None = None,
    rule_version: int | None = None,
    memo: str = "",
    request_hash: str | None = None,
) -> Transaction:
    """Points from a council's issuing account to a household; negative points are a deduction."""
    if council not in COUNCILS:
        raise ValidationFailed(detail=_("Unknown council."), errors={"council": [_("Unknown council.")]})
    _check_points(points)
    return post(
        village_id=village_id,
        kind="award" if points > 0 else "deduction",
        lines=[(household_key(household_id), points), (issuing_key(village_id, council), -points)],
        idempotency_key=idempotency_key,
        actor_id=actor_id,
        memo=memo,
        rule_id=rule_id,
        rule_version=rule_version,
        request_hash=request_hash,
    )


def redeem(
    *,
    village_id: int,
    household_id: int,
    shop_id: int,
    points: int,
    idempotency_key: str,
    actor_id: int | None,
    memo: str = "",
    request_hash: str | None = None,
) -> Transaction:
    """Points from a household to a shop; never takes the household below zero."""
    _check_points(points, positive=True)
    return post(
        village_id=village_id,
        kind="redemption",
        lines=[(household_key(household_id), -points), (shop_key(shop_id), points)],
        idempotency_key=idempotency_key,
        actor_id=actor_id,
        memo=memo,
        request_hash=request_hash,
    )


def adjust(
    *,
    village_id: int,
    points: int,
    idempotency_key: str,
    actor_id: int | None,
    memo: str,
    household_id: int | None = None,
    shop_id: int | None = None,
    request_hash: str | None = None,
) -> Transaction:
    """An admin correction between the village's suspense account and one household or shop.

    A reason (memo) is required. Like spending, an adjustment never takes a household below zero.
    """
    if (household_id is None) == (shop_id is None):
        raise ValueError("adjust needs exactly one of household_id and shop_id")
    _check_points(points)
    if not memo or not memo.strip():
        raise ValidationFailed(detail=_("A reason is required."), errors={"memo": [_("Required.")]})
    target = household_key(household_id) if household_id is not None else shop_key(shop_id)  # type: ignore[arg-type]
    return post(
        village_id=village_id,
        kind="adjustment",
        lines=[(target, points), (suspense_key(village_id), -points)],
        idempotency_key=idempotency_key,
        actor_id=actor_id,
        memo=memo,
        request_hash=request_hash,
    )


def reverse(
    *,
    transaction_id: int,
    idempotency_key: str,
    actor_id: int | None,
    memo: str,
    request_hash: str | None = None,
) -> Transaction:
    """Post the mirror image of a transaction, naming it; a transaction can be reversed once."""
    original = db.session.get(Transaction, transaction_id)
    if original is None:
        raise NotFound("not-found", _("No such transaction."))
    lines = db.session.execute(
        select(Account.key, Entry.amount)
        .join(Account, Account.id == Entry.account_id)
        .where(Entry.transaction_id == transaction_id)
    ).all()
    return post(
        village_id=original.village_id,
        kind="reversal",
        lines=[(key, -amount) for key, amount in lines],
        idempotency_key=idempotency_key,
        actor_id=actor_id,
        memo=memo,
        rule_id=original.rule_id,
        rule_version=original.rule_version,
        reverses_id=transaction_id,
        request_hash=request_hash,
    )


def get_transaction(transaction_id: int) -> Transaction | None:
    return db.session.get(Transaction, transaction_id)


def transaction_by_key(idempotency_key: str) -> Transaction | None:
    return db.session.scalars(
        select(Transaction).where(Transaction.idempotency_key == idempotency_key)
    ).one_or_none()


# --- reading the ledger ----------------------------------------------------------------------------


# Other domains add what they know about a transaction to a household's history (the claims domain: the
# member whose deed it was), without the ledger importing them. Each gets the page's rows to annotate.
history_annotators: list[Callable[[list[dict[str, Any]]], None]] = []


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
            "id": r[0],
            "kind": r[1],
            "amount": r[2],
            "balance_after": r[3],
            "memo": r[4],
            "created_at": r[5],
            "reverses_id": r[6],
        }
        for r in rows
    ]
    for annotate in history_annotators:
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
            original.c.kind,
        )
        .join(Transaction, Transaction.id == Entry.transaction_id)
        .outerjoin(original, original.c.id == Transaction.reverses_id)
        .where(Entry.account_id == account_id, Transaction.created_at >= start, Transaction.created_at < end)
        .order_by(Transaction.seq)
    ).all()
    items = [
        {
            "id": r[0],
            "seq": r[1],
            "kind": r[2],
            "amount": r[3],
            "balance_after": r[4],
            "memo": r[5],
            "created_at": r[6],
            "reverses_id": r[7],
            "original_kind": r[8],
            "council": None,
            "shop_id": None,
        }
        for r in rows
    ]
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
    for annotate in history_annotators:
        annotate(items)
    return items


def account_village(household_id: int) -> int | None:
    """The village of a household's account (for scope checks without the households domain)."""
    return db.session.scalar(select(Account.village_id).where(Account.household_id == household_id))


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


# --- verification -----------------------------------------------------------------------------------


@dataclass
class _Problem:
    transaction_id: int | None
    reason: str
    village_id: int | None = None
    account_id: int | None = None


def count_transactions(village_ids: list[int] | None = None) -> int:
    query = select(func.count()).select_from(Transaction)
    if village_ids is not None:
        query = query.where(Transaction.village_id.in_(village_ids))
    return db.session.scalar(query) or 0


def _stream(query, batch: int = 10_000) -> Iterator[Any]:
    """Rows of a large query without holding them all (a server-side cursor on PostgreSQL)."""
    # Options on the statement, not on the connection: Connection.execution_options() changes the
    # connection itself, and a later statement of the same transaction (an INSERT) would be streamed too.
    result = db.session.connection().execute(query.execution_options(stream_results=True, yield_per=batch))
    for partition in result.partitions(batch):
        yield from partition


def verify(
    progress: Callable[[int], None] | None = None, village_ids: list[int] | None = None
) -> dict[str, Any]:
    """Recompute every chain, every entry sum and every cached balance; name the first bad transaction.

    Returns {ok: True, transactions, head: [{village_id, seq, hash}]} or
    {ok: False, first_bad_id, reason, village_id?, account_id?}. `progress(n)` is told of every
    n transactions checked.
    """
    accounts = {
        row[0]: row
        for row in db.session.execute(
            select(Account.id, Account.village_id, Account.kind, Account.balance, Account.earned_total)
        )
    }
    heads_query = select(ChainHead.village_id, ChainHead.seq, ChainHead.head_hash).order_by(
        ChainHead.village_id
    )
    if village_ids is not None:
        heads_query = heads_query.where(ChainHead.village_id.in_(village_ids))
    heads = {row[0]: (row[1], row[2]) for row in db.session.execute(heads_query)}

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
            reversed_tx.c.kind,
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

    balances: dict[int, int] = {}
    earned: dict[int, int] = {}
    problem: _Problem | None = None
    checked = 0
    chain_village: int | None = None
    chain_seq = 0
    chain_hash = GENESIS_HASH
    seen_villages: set[int] = set()

    def finish_chain() -> _Problem | None:
        if chain_village is None:
            return None
        head = heads.get(chain_village)
        if head is None:
            return _Problem(
                None, f"village {chain_village} has transactions but no chain head", chain_village
            )
        if head != (chain_seq, chain_hash):
            return _Problem(
                None,
                f"chain head of village {chain_village} is seq {head[0]} {head[1]}, "
                f"but its last transaction is seq {chain_seq} {chain_hash}",
                chain_village,
            )
        return None

    def check_transaction(tx: tuple, legs: list[tuple[int, int, int]]) -> _Problem | None:
        nonlocal chain_seq, chain_hash
        tx_id, village_id, seq = tx[0], tx[1], tx[2]
        if seq != chain_seq + 1:
            return _Problem(tx_id, f"sequence gap: expected seq {chain_seq + 1}, found {seq}", village_id)
        if tx[11] != chain_hash:
            return _Problem(
                tx_id, "previous hash does not match the hash of the transaction before", village_id
            )
        digest = transaction_hash(
            village_id=village_id,
            seq=seq,
            prev_hash=tx[11],
            kind=tx[3],
            idempotency_key=tx[4],
            actor_id=tx[5],
            rule_id=tx[6],
            rule_version=tx[7],
            reverses_id=tx[8],
            memo=tx[9],
            created_at=format_time(tx[10]),
            entries=legs,
        )
        if digest != tx[12]:
            return _Problem(tx_id, "hash does not match the transaction's contents", village_id)
        if len(legs) < 2:
            return _Problem(tx_id, "fewer than two entries", village_id)
        if sum(leg[1] for leg in legs) != 0:
            return _Problem(tx_id, "entries do not sum to zero", village_id)
        earns = tx[3] == "award" or (tx[3] == "reversal" and tx[13] == "award")
        for account_id, amount, balance_after in legs:
            account = accounts.get(account_id)
            if account is None or account[1] != village_id:
                return _Problem(
                    tx_id, f"entry on account {account_id} outside village {village_id}", village_id
                )
            running = balances.get(account_id, 0) + amount
            balances[account_id] = running
            if running != balance_after:
                return _Problem(
                    tx_id,
                    f"balance_after {balance_after} of account {account_id} != running sum {running}",
                    village_id,
                    account_id,
                )
            if earns and account[2] == "household":
                earned[account_id] = earned.get(account_id, 0) + amount
        chain_seq, chain_hash = seq, digest
        return None

    current: tuple | None = None
    legs: list[tuple[int, int, int]] = []
    for row in _stream(query):
        if current is None or row[0] != current[0]:
            if current is not None:
                problem = check_transaction(current, legs)
                checked += 1
                if progress is not None and checked % 1000 == 0:
                    progress(1000)
                if problem:
                    break
            if current is None or row[1] != current[1]:
                problem = finish_chain()
                if problem:
                    break
                chain_village, chain_seq, chain_hash = row[1], 0, GENESIS_HASH
                seen_villages.add(row[1])
            current, legs = row, []
        if row[14] is not None:
            legs.append((row[14], row[15], row[16]))
    else:
        if current is not None:
            problem = check_transaction(current, legs)
            checked += 1
        problem = problem or finish_chain()
    if progress is not None:
        progress(checked % 1000)

    if problem is None:
        # A chain whose head says it has transactions must have them (a deleted tail is a gap too).
        for village_id, (seq, _hash) in heads.items():
            if village_id not in seen_villages and seq != 0:
                problem = _Problem(
                    None,
                    f"chain head of village {village_id} is at seq {seq}, but it has no transactions",
                    village_id,
                )
                break
    if problem is None:
        for account_id, account in accounts.items():
            if village_ids is not None and account[1] not in village_ids:
                continue
            if account[3] != balances.get(account_id, 0):
                problem = _Problem(
                    None,
                    f"cached balance {account[3]} of account {account_id} != sum of its entries "
                    f"{balances.get(account_id, 0)}",
                    account[1],
                    account_id,
                )
                break
            if account[2] == "household" and account[4] != earned.get(account_id, 0):
                problem = _Problem(
                    None,
                    f"cached earned_total {account[4]} of account {account_id} != sum of its awards "
                    f"{earned.get(account_id, 0)}",
                    account[1],
                    account_id,
                )
                break

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


# --- export -----------------------------------------------------------------------------------------

EXPORT_FIELDS = (
    "id", "village_id", "seq", "kind", "idempotency_key", "actor_id", "rule_id", "rule_version",
    "reverses_id", "memo", "created_at", "prev_hash", "hash",
)  # fmt: skip
CSV_COLUMNS = (*EXPORT_FIELDS, "account_id", "account_key", "amount", "balance_after")


def export_ledger(
    village_id: int,
    fmt: str,
    out: IO[str],
    *,
    public: bool = False,
    chain_extra: dict[str, Any] | None = None,
) -> int:
    """Write a village's chain to `out` as CSV (one row per entry) or JSON lines; returns transactions.

    The export carries every field the hash covers (docs/ledger.md), so an auditor can recompute the
    chain without this code. It stops at the chain head read first, so it is a consistent prefix even
    while postings continue. `public=True` (JSON lines only) is the export anyone may download: account
    records keep their opaque id and kind but lose the key and the household id that would name a
    household; `chain_extra` adds fields (the village's code) to the chain record.
    """
    counter = [0]
    for chunk in export_chunks(village_id, fmt, public=public, chain_extra=chain_extra, counter=counter):
        out.write(chunk)
    return counter[0]


def export_chunks(
    village_id: int,
    fmt: str,
    *,
    public: bool = False,
    chain_extra: dict[str, Any] | None = None,
    counter: list[int] | None = None,
) -> Iterator[str]:
    """export_ledger's text in pieces, for a streamed response; `counter[0]` ends as the transactions.

    The format and the village are checked here, before the first piece, so that a refusal is an
    ordinary error rather than a broken stream.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError("format must be csv or jsonl")
    if public and fmt != "jsonl":
        raise ValueError("the public export is JSON lines")
    head = db.session.execute(
        select(ChainHead.seq, ChainHead.head_hash).where(ChainHead.village_id == village_id)
    ).one_or_none()
    if head is None:
        raise NotFound("ledger-not-open", _("This village has no ledger yet."))
    return _export_pieces(
        village_id, fmt, tuple(head), public, chain_extra, counter if counter is not None else [0]
    )


def _export_pieces(
    village_id: int,
    fmt: str,
    head: tuple[int, str],
    public: bool,
    chain_extra: dict[str, Any] | None,
    counter: list[int],
) -> Iterator[str]:
    import io
    import json

    from ..spreadsheets import SafeCsvWriter

    out = io.StringIO()

    def piece() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    keys = dict(
        db.session.execute(select(Account.id, Account.key).where(Account.village_id == village_id)).all()
    )
    t, e = Transaction.__table__.c, Entry.__table__.c
    query = (
        select(*(getattr(t, f) for f in EXPORT_FIELDS), e.account_id, e.amount, e.balance_after)
        .select_from(Transaction.__table__.outerjoin(Entry.__table__, e.transaction_id == t.id))
        .where(t.village_id == village_id, t.seq <= head[0])
        .order_by(t.seq, e.account_id)
    )
    writer = SafeCsvWriter(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    else:
        accounts = db.session.execute(
            select(
                Account.id, Account.key, Account.kind, Account.household_id, Account.shop_id, Account.council
            )
            .where(Account.village_id == village_id)
            .order_by(Account.id)
        )
        out.write(
            json.dumps(
                {
                    "record": "chain",
                    "village_id": village_id,
                    **(chain_extra or {}),
                    "seq": head[0],
                    "head_hash": head[1],
                    "encoding": 1,
                }
            )
            + "\n"
        )
        for a in accounts:
            if public:
                # Which household owns an account is not published; issuing accounts and shops are public.
                record: dict[str, Any] = {"record": "account", "id": a[0], "kind": a[2]}
                if a[2] == "issuing":
                    record["council"] = a[5]
                if a[2] == "shop":
                    record["shop_id"] = a[4]
                out.write(json.dumps(record) + "\n")
                continue
            out.write(
                json.dumps(
                    {
                        "record": "account",
                        "id": a[0],
                        "key": a[1],
                        "kind": a[2],
                        "household_id": a[3],
                        "shop_id": a[4],
                        "council": a[5],
                    }
                )
                + "\n"
            )
    count = 0
    current: dict[str, Any] | None = None

    def flush(record: dict[str, Any]) -> None:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")

    n = len(EXPORT_FIELDS)
    for number, row in enumerate(_stream(query), 1):
        if number % 2000 == 0:
            yield piece()
        fields = dict(zip(EXPORT_FIELDS, row[:n], strict=True))
        fields["created_at"] = format_time(fields["created_at"])
        if writer is not None:
            writer.writerow([*fields.values(), row[n], keys.get(row[n], ""), row[n + 1], row[n + 2]])
            if current is None or current["id"] != fields["id"]:
                count += 1
                current = fields
            continue
        if current is None or current["id"] != fields["id"]:
            if current is not None:
                flush(current)
            count += 1
            current = {"record": "transaction", **fields, "entries": []}
        if row[n] is not None:
            current["entries"].append([row[n], row[n + 1], row[n + 2]])
    if writer is None and current is not None:
        flush(current)
    counter[0] = count
    yield piece()
