"""Posting to the ledger: every point that moves goes through `post()`.

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

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..database import adopt, driver_rows, is_sqlite, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import request_gettext as _
from .accounts import household_key, issuing_key, shop_key, suspense_key
from .hashing import ENCODING_VERSION, FIELDS, format_time, request_digest, transaction_hash
from .models import COUNCILS, TRANSACTION_KINDS, Account, ChainHead, Entry, Transaction

# Overdraft policy per kind: may a posting of this kind take a household account below zero?
# Only a covenant deduction may (a penalty is owed); spending, corrections and adjustments may not.
# Credits to an account that is already negative are always allowed. The one source of the policy:
# _plan reads it, and the PostgreSQL statement is handed its answer for the kind (`may_go_negative`);
# tests/ledger/test_one_source.py holds both paths to it, case by case.
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
#   locked rows), so the balances and the head are current, and so are the UPDATEs below. The balances'
#   UPDATE names the accounts by key as well as by id: the prepared statement's generic plan cannot know
#   that `lines` holds two or three rows, and joined on the id alone it scanned every account (0.3 ms
#   at 1,500 households, all of it under the lock; tests/ledger/test_posting_plan.py).
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


# Where the posting statement finds each field of the hashed encoding (hashing.FIELDS): its parameters,
# the posting CTE `p` (seq, prev_hash, created_at) and the `lines` CTE (the entries).
_ENCODING_SOURCES = {
    "actor_id": "%(actor_id)s::bigint",
    "created_at": "p.created_at",
    "entries": "lines",
    "idempotency_key": "%(idempotency_key)s::text",
    "kind": "%(kind)s::text",
    "memo": "%(memo)s::text",
    "prev_hash": "p.prev_hash::text",
    "reverses_id": "%(reverses_id)s::bigint",
    "rule_id": "%(rule_id)s::bigint",
    "rule_version": "%(rule_version)s::bigint",
    "seq": "p.seq",
    "v": "",
    "village_id": "%(village_id)s::bigint",
}


def _encoding_sql() -> str:
    """The SQL text expression of hashing.canonical_bytes, generated from hashing.FIELDS: a JSON type
    written the JCS way in SQL for each field. PostgreSQL's to_json escapes a string exactly as Python's
    json.dumps(ensure_ascii=False) does; integers and null print alike in both."""
    parts: list[tuple[bool, str]] = []  # (literal?, text), in order
    for n, (name, json_type) in enumerate(FIELDS.items()):
        parts.append((True, ("{" if n == 0 else ",") + json.dumps(name) + ":"))
        source = _ENCODING_SOURCES[name]
        if json_type == "integer or null":
            parts.append((False, f"coalesce({source}::text, 'null')"))
        elif json_type == "integer":
            parts.append((False, source))
        elif json_type == "string":
            parts.append((False, f"to_json({source})::text"))
        elif json_type == "time":
            when = f"""to_char({source} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
            parts += [(True, '"'), (False, when), (True, '"')]
        elif json_type == "entries":
            entries = (
                "(SELECT string_agg('[' || account_id || ',' || amount || ',' || balance_after || ']', ','"
                f" ORDER BY account_id) FROM {source})"
            )
            parts += [(True, "["), (False, entries), (True, "]")]
        elif json_type == "version":
            parts.append((True, str(ENCODING_VERSION)))
        else:
            raise ValueError(f"hashing.FIELDS: no SQL for the JSON type {json_type!r} of {name!r}")
    parts.append((True, "}"))
    merged: list[tuple[bool, str]] = []
    for literal, piece in parts:
        if literal and merged and merged[-1][0]:
            merged[-1] = (True, merged[-1][1] + piece)
        else:
            merged.append((literal, piece))
    sql = ""
    for literal, piece in merged:
        if literal:
            sql += ("\n|| " if sql else "") + "'" + piece.replace("'", "''") + "'"
        else:
            sql += " || " + piece
    return sql


ENCODING_SQL = _encoding_sql()

_PG_POST = _compact(
    """
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
__ENCODING__, 'UTF8')), 'hex') AS hash
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
    FROM tx, lines l WHERE ledger_accounts.id = l.account_id AND ledger_accounts.key = ANY(%(keys)s::text[])
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
""".replace("__ENCODING__", ENCODING_SQL)
)


class _PostRow(NamedTuple):
    """A row of _PG_POST's result, its columns in the order of the statement's final SELECT: the chain
    head as locked, the transaction already under the key, one locked account per row (all None if
    none was found), the kind of the reversed transaction, and the new transaction (None if nothing
    was written)."""

    chain_seq: int
    chain_hash: str
    chain_last_at: datetime | None
    known_id: int | None
    known_request_hash: str | None
    account_id: int | None
    account_key: str | None
    account_kind: str | None
    account_village_id: int | None
    account_balance: int | None
    reversed_kind: str | None
    tx_id: int | None
    tx_seq: int | None
    tx_created_at: datetime | None
    tx_hash: str | None


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
    return row.seq, row.head_hash, row.last_at


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A caller's writes that ride in the posting's own statement on PostgreSQL, so that the chain lock
    (and whatever lock the caller holds) is not held across one more round trip for them.

    `ctes` continues the statement's WITH list (", name AS (...)"). It may read `tx` (the new
    transaction's id, seq, created_at and hash; empty when nothing is posted) and `lines` (each entry's
    account_id, kind, amount and balance_after), and must write nothing when `tx` is empty. `returns`
    are select-list expressions added to the statement's result, handed back as the transaction's
    `follow_up`. Its parameters are named f_...; a name of the posting's own would be overwritten.
    SQLite runs no follow-up, nor does a posting whose key was posted before: `follow_up` is then None
    and the caller writes by itself.
    """

    ctes: str
    params: Mapping[str, Any]
    returns: str = ""

    def __post_init__(self) -> None:
        if any(not name.startswith("f_") for name in self.params):
            raise ValueError("a follow-up's parameters are named f_...")


_SELECT_RESULT = ")\nSELECT chain.seq,"
_FROM_CHAIN = "\nFROM chain\nLEFT JOIN known ON true"


@cache
def _pg_post_sql(ctes: str, returns: str) -> str:
    """_PG_POST with a follow-up's CTEs after its own and its expressions after its result's columns."""
    if _PG_POST.count(_SELECT_RESULT) != 1 or _PG_POST.count(_FROM_CHAIN) != 1:
        raise AssertionError("ledger: _PG_POST no longer ends as _pg_post_sql expects")
    head, tail = _PG_POST.split(_SELECT_RESULT)
    columns, rest = tail.split(_FROM_CHAIN)
    extra = f", {returns}" if returns else ""
    return f"{head}){ctes}\nSELECT chain.seq,{columns}{extra}{_FROM_CHAIN}{rest}"


@dataclass(frozen=True, slots=True)
class Posting:
    """One posting as post() accepted it: what the locked paths below check, compute and write."""

    village_id: int
    kind: str
    lines: Mapping[str, int]  # account key -> amount: merged, non-zero, summing to zero
    idempotency_key: str
    request_hash: str
    actor_id: int | None
    memo: str = ""
    rule_id: int | None = None
    rule_version: int | None = None
    reverses_id: int | None = None
    follow_up: FollowUp | None = None


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
    follow_up: FollowUp | None = None,
) -> Transaction:
    """Post one balanced transaction; the single way points move.

    `follow_up` adds the caller's own writes to the posting's statement on PostgreSQL (see FollowUp).

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
    posting = Posting(
        village_id=village_id,
        kind=kind,
        lines=merged,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        actor_id=actor_id,
        memo=memo,
        rule_id=rule_id,
        rule_version=rule_version,
        reverses_id=reverses_id,
        follow_up=follow_up,
    )
    with transaction():
        result = _post_locked(posting)
    if isinstance(result, Transaction):
        return result
    # The new row enters the session only now, outside the chain lock when this call committed alone
    # (and, added after that commit, it is not expired, so reading it costs no query).
    transaction_id, values, balances, follow_up_result = result
    tx = _loaded(transaction_id, values)
    tx.balances_after = balances
    tx.follow_up = follow_up_result
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
    tx.follow_up = None
    return tx


def _check_reversal(connection, village_id: int, reverses_id: int | None) -> str | None:
    """The kind of the transaction being reversed, after checking that it may be (under the lock)."""
    if reverses_id is None:
        return None
    original = connection.execute(_FIND_ORIGINAL, {"id": reverses_id}).one_or_none()
    if original is None or original.village_id != village_id:
        raise NotFound("not-found", _("No such transaction."))
    if original.kind == "reversal":
        raise DomainError("not-reversible", _("A reversal cannot itself be reversed."))
    if connection.execute(_FIND_REVERSAL, {"id": reverses_id}).first() is not None:
        raise DomainError("already-reversed", _("This transaction has already been reversed."))
    return original.kind


@dataclass
class _Plan:
    """A posting computed under the lock, ready to write: the row, its entries, the balance changes."""

    values: dict[str, Any]
    entries: list[tuple[int, int, int]]  # (account_id, amount, balance_after), in the order of `lines`
    earned: list[int]  # per entry, what it adds to the account's earned_total


def _plan(
    posting: Posting,
    *,
    accounts: dict[str, tuple[int, str, int, int]],  # key -> (id, kind, village_id, balance)
    reversed_kind: str | None,
    chain: tuple[int, str, datetime | None],
    now: datetime,
) -> _Plan:
    """Apply the overdraft policy, work out the new balances, the time and the hash (pure Python)."""
    village_id, kind, lines = posting.village_id, posting.kind, posting.lines
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
        idempotency_key=posting.idempotency_key,
        actor_id=posting.actor_id,
        rule_id=posting.rule_id,
        rule_version=posting.rule_version,
        reverses_id=posting.reverses_id,
        memo=posting.memo,
        created_at=format_time(created_at),
        entries=entries,
    )
    values = {
        "village_id": village_id,
        "seq": seq,
        "kind": kind,
        "idempotency_key": posting.idempotency_key,
        "request_hash": posting.request_hash,
        "actor_id": posting.actor_id,
        "rule_id": posting.rule_id,
        "rule_version": posting.rule_version,
        "reverses_id": posting.reverses_id,
        "memo": posting.memo,
        "created_at": created_at,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    return _Plan(values, entries, earned)


def _loaded(transaction_id: int, values: dict[str, Any]) -> Transaction:
    """Hand the caller the new row without reading it back: it enters the session as already loaded."""
    return adopt(Transaction(id=transaction_id, **values))


# (id, values, balances after, what the follow-up returned: None when it did not run)
_Written = tuple[int, dict[str, Any], dict[str, int], tuple[Any, ...] | None]


def _balances(lines: Mapping[str, int], plan: _Plan) -> dict[str, int]:
    """{account key: balance after} of a plan; its entries are in the order of `lines`."""
    return {key: entry[2] for key, entry in zip(lines, plan.entries, strict=True)}


def _post_locked(posting: Posting) -> Transaction | _Written:
    """Lock the village's chain, check, compute and write one posting (see the two paths below).

    Returns the known transaction for a repeated idempotency key, else the new row's (id, values,
    balances after).
    """
    if is_sqlite():
        return _post_sqlite(posting)
    return _post_postgresql(posting)


def _pg_params(posting: Posting, now: datetime) -> dict[str, Any]:
    """_PG_POST's parameters; its overdraft check gets the policy table's answer for the kind."""
    return {
        "village_id": posting.village_id,
        "kind": posting.kind,
        "keys": list(posting.lines),
        "amounts": list(posting.lines.values()),
        "idempotency_key": posting.idempotency_key,
        "request_hash": posting.request_hash,
        "reverses_id": posting.reverses_id,
        "actor_id": posting.actor_id,
        "memo": posting.memo,
        "rule_id": posting.rule_id,
        "rule_version": posting.rule_version,
        "now": now,
        "may_go_negative": HOUSEHOLD_MAY_GO_NEGATIVE[posting.kind],
        "lock_class": CHAIN_LOCK_CLASS,
    }


def _post_postgresql(posting: Posting) -> Transaction | _Written:
    """One statement under the chain lock (_PG_POST), checked against _plan before the commit."""
    connection = db.session.connection()
    now = utcnow()
    params = _pg_params(posting, now)
    follow_up = posting.follow_up
    if follow_up is None:
        result = driver_rows(_PG_POST, params)
    else:
        result = driver_rows(_pg_post_sql(follow_up.ctes, follow_up.returns), {**params, **follow_up.params})
    if not result:
        raise NotFound("ledger-not-open", _("This village has no ledger yet."))
    width = len(_PostRow._fields)
    rows = [_PostRow._make(row[:width]) for row in result]
    first = rows[0]
    if first.known_id is not None:
        return _known(first.known_id, posting.request_hash, first.known_request_hash)
    written = first.tx_id is not None
    if not written:
        # Nothing was written. Say why in the order the checks have always been made, each with a
        # fresh snapshot: a reversal that may not be posted, then _plan's account and policy checks.
        _check_reversal(connection, posting.village_id, posting.reverses_id)
    last_at = first.chain_last_at.astimezone(UTC) if first.chain_last_at is not None else None
    plan = _plan(
        posting,
        accounts={
            r.account_key: (r.account_id, r.account_kind, r.account_village_id, r.account_balance)
            for r in rows
            if r.account_id is not None
        },
        reversed_kind=first.reversed_kind,
        chain=(first.chain_seq, first.chain_hash, last_at),
        now=now,
    )
    if not written:
        # Every check passes, so a unique index refused the row: the key was committed after the
        # statement's snapshot was taken (here while it waited for the head, or in another village).
        known = connection.execute(_FIND_KEY, {"key": posting.idempotency_key}).one_or_none()
        if known is None:
            raise RuntimeError(f"ledger: posting {posting.idempotency_key!r} was refused for no known reason")
        return _known(known.id, posting.request_hash, known.request_hash)
    values = plan.values
    if (first.tx_seq, first.tx_created_at.astimezone(UTC), first.tx_hash) != (
        values["seq"],
        values["created_at"],
        values["hash"],
    ):
        # Raising rolls the posting back: a hash the documented encoding does not reproduce never commits.
        raise RuntimeError(
            f"ledger: PostgreSQL's posting (seq {first.tx_seq}, hash {first.tx_hash}) differs from "
            f"hashing.py's (seq {values['seq']}, hash {values['hash']})"
        )
    extras = tuple(result[0][width:]) if follow_up is not None else None
    return first.tx_id, values, _balances(posting.lines, plan), extras


def _post_sqlite(posting: Posting) -> Transaction | _Written:
    """SQLite: BEGIN IMMEDIATE already holds the whole database, so plain statements in any order."""
    seq, prev_hash, last_at = _lock_chain(posting.village_id)
    connection = db.session.connection()
    existing = connection.execute(_FIND_KEY, {"key": posting.idempotency_key}).one_or_none()
    if existing is not None:
        return _known(existing.id, posting.request_hash, existing.request_hash)
    reversed_kind = _check_reversal(connection, posting.village_id, posting.reverses_id)
    accounts = {
        row.key: (row.id, row.kind, row.village_id, row.balance)
        for row in connection.execute(_READ_ACCOUNTS, {"keys": list(posting.lines)})
    }
    plan = _plan(
        posting, accounts=accounts, reversed_kind=reversed_kind, chain=(seq, prev_hash, last_at), now=utcnow()
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
        {"_village_id": posting.village_id, "_seq": plan.values["seq"], "_hash": plan.values["hash"],
         "_at": plan.values["created_at"]},
    )  # fmt: skip
    return transaction_id, plan.values, _balances(posting.lines, plan), None


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
    follow_up: FollowUp | None = None,
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
        follow_up=follow_up,
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
    follow_up: FollowUp | None = None,
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
        follow_up=follow_up,
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
