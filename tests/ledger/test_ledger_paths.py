"""The two posting paths: PostgreSQL's single statement and SQLite's statement-by-statement path.

They must write identical chains (same hashes, byte for byte) for the same postings at the same times,
refuse the same postings with the same errors, and PostgreSQL's statement must never commit a posting
whose hash Python's hashing.py does not reproduce. The waits below exercise the cases where a key or a
reversal is committed while the PostgreSQL statement waits for the chain head (its snapshot is older).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from merit_bank.database import is_sqlite, transaction
from merit_bank.errors import DomainError
from merit_bank.extensions import db
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import ChainHead, Entry, Transaction
from tests.conftest import DATABASES, _fresh_database, app_for
from tests.ledger.ledger_helpers import open_ledger_village

TRICKY_MEMOS = [
    'quote " backslash \\ slash / done',
    "lines\nand\ttabs\rand \b\f controls \x01\x1f\x7f",
    "积分 兑换 — ünïcödé, emoji 🎉, separators \u2028\u2029",
    "",
    "%s %(memo)s {} $1 :param '; DROP TABLE x; --",
]


def _script(households: list[int], shop: int) -> list[dict[str, Any]]:
    """Postings (and refusals) covering every kind, every nullable field and awkward strings."""
    h1, h2, h3 = households
    return [
        {"op": "award", "household_id": h1, "council": "volunteer", "points": 30, "memo": TRICKY_MEMOS[0],
         "idempotency_key": "k:1 \"quoted\" \\ 键", "actor_id": 7, "rule_id": 3, "rule_version": 2},
        {"op": "award", "household_id": h2, "council": "covenant", "points": 12, "memo": TRICKY_MEMOS[1],
         "idempotency_key": "k:2\n", "actor_id": None},
        {"op": "award", "household_id": h1, "council": "covenant", "points": -50, "memo": TRICKY_MEMOS[2],
         "idempotency_key": "k:3", "actor_id": 7},
        {"op": "redeem", "household_id": h2, "shop_id": shop, "points": 5, "memo": TRICKY_MEMOS[3],
         "idempotency_key": "k:4", "actor_id": 8},
        {"op": "redeem", "household_id": h2, "shop_id": shop, "points": 500, "idempotency_key": "k:5",
         "actor_id": 8},  # refused: insufficient-balance
        {"op": "award", "household_id": h3, "council": "moral_review", "points": 9, "memo": TRICKY_MEMOS[4],
         "idempotency_key": "k:6", "actor_id": 1},
        {"op": "reverse", "of": "k:6", "idempotency_key": "k:7", "memo": "wrong household"},
        {"op": "reverse", "of": "k:4", "idempotency_key": "k:8", "memo": "void"},
        {"op": "reverse", "of": "k:6", "idempotency_key": "k:9", "memo": "again"},  # already-reversed
        {"op": "reverse", "of": "k:7", "idempotency_key": "k:10", "memo": "x"},  # not-reversible
        {"op": "award", "household_id": h2, "council": "covenant", "points": 12, "memo": TRICKY_MEMOS[1],
         "idempotency_key": "k:2\n", "actor_id": None},  # the same request again: the first one
        {"op": "award", "household_id": h2, "council": "covenant", "points": 13,
         "idempotency_key": "k:2\n", "actor_id": None},  # refused: idempotency-key-reused
        {"op": "adjust", "household_id": h3, "points": 4, "memo": "correction \"α\"",
         "idempotency_key": "k:11", "actor_id": 1},
        {"op": "adjust", "household_id": h3, "points": -400, "memo": "too much",
         "idempotency_key": "k:12", "actor_id": 1},  # refused: insufficient-balance
        {"op": "award", "household_id": 999_999, "council": "volunteer", "points": 1,
         "idempotency_key": "k:13", "actor_id": 1},  # refused: account-not-found
    ]  # fmt: skip


def _run(app, monkeypatch) -> dict[str, Any]:
    monkeypatch.undo()
    lv = open_ledger_village(app, 1)
    # A fixed clock, stepping back once: created_at must still not run backwards within the chain.
    start = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    seconds = [0, 1, 2, 1, *range(3, 60)]
    clock = {"now": start}
    monkeypatch.setattr(ledger_posting, "utcnow", lambda: clock["now"])
    outcomes: list[Any] = []
    with app.app_context():
        for n, step in enumerate(_script(lv.households, lv.shops[0])):
            clock["now"] = start + timedelta(seconds=seconds[n])
            step = dict(step)
            op = step.pop("op")
            try:
                if op == "award":
                    tx = ledger.award(village_id=1, **step)
                elif op == "redeem":
                    tx = ledger.redeem(village_id=1, **step)
                elif op == "adjust":
                    tx = ledger.adjust(village_id=1, **step)
                else:
                    original = ledger.transaction_by_key(step.pop("of"))
                    tx = ledger.reverse(transaction_id=original.id, actor_id=1, **step)
                outcomes.append(("posted", tx.seq, tx.hash))
            except DomainError as exc:
                db.session.rollback()
                outcomes.append(("refused", exc.code))
        rows = db.session.execute(select(Transaction).order_by(Transaction.seq)).scalars().all()
        chain = [
            (t.seq, t.kind, t.idempotency_key, t.memo, t.actor_id, t.rule_id, t.reverses_id is not None,
             t.created_at, t.prev_hash, t.hash,
             sorted((e.account_id, e.amount, e.balance_after) for e in t.entries))
            for t in rows
        ]  # fmt: skip
        head = db.session.execute(select(ChainHead.seq, ChainHead.head_hash, ChainHead.last_at)).one()
        balances = {h: ledger.household_balances([h])[h] for h in lv.households}
        result = ledger.verify()
        db.session.remove()
    assert result["ok"], result
    return {"outcomes": outcomes, "chain": chain, "head": tuple(head), "balances": balances}


@contextmanager
def _database(kind: str, request, tmp_path):
    urls = _fresh_database(kind, request, tmp_path / kind)
    (tmp_path / kind).mkdir()
    try:
        with app_for(next(urls)) as app:
            yield app
    finally:
        urls.close()


@pytest.mark.skipif(set(DATABASES) != {"sqlite", "postgresql"}, reason="needs both databases")
def test_postgresql_and_sqlite_write_identical_chains(request, tmp_path, monkeypatch):
    with _database("sqlite", request, tmp_path) as app:
        on_sqlite = _run(app, monkeypatch)
    with _database("postgresql", request, tmp_path) as app:
        on_postgresql = _run(app, monkeypatch)
    assert on_sqlite["outcomes"][4] == ("refused", "insufficient-balance")
    assert [o[1] for o in on_sqlite["outcomes"] if o[0] == "refused"] == [
        "insufficient-balance", "already-reversed", "not-reversible", "idempotency-key-reused",
        "insufficient-balance", "account-not-found",
    ]  # fmt: skip
    assert on_sqlite["outcomes"][10] == on_sqlite["outcomes"][1]  # the replay answers the first posting
    # The clock stepped back at the fourth tick; created_at did not.
    created = [row[7] for row in on_sqlite["chain"]]
    assert created == sorted(created) and created[2] == created[3]
    assert on_postgresql == on_sqlite


def test_a_posting_whose_hash_python_does_not_reproduce_is_not_committed(app, lv, monkeypatch):
    with app.app_context():
        if is_sqlite():
            pytest.skip("the hash is computed by the database only on PostgreSQL")
        ledger.award(village_id=1, household_id=lv.households[0], council="volunteer", points=5,
                     idempotency_key="ok", actor_id=1)  # fmt: skip
        monkeypatch.setattr(ledger_posting, "transaction_hash", lambda **fields: "f" * 64)
        with pytest.raises(RuntimeError, match=r"differs from hashing\.py"):
            ledger.award(village_id=1, household_id=lv.households[0], council="volunteer", points=5,
                         idempotency_key="bad", actor_id=1)  # fmt: skip
        monkeypatch.undo()
        db.session.rollback()
        assert ledger.transaction_by_key("bad") is None
        assert ledger.household_balance(lv.households[0]) == 5
        assert db.session.get(ChainHead, 1).seq == 1
        assert db.session.scalar(select(func.count()).select_from(Entry)) == 2
        assert ledger.verify()["ok"]


def _while_held(app, hold, then) -> Any:
    """Run `hold` in a transaction kept open while `then` starts (and waits for the chain head)."""
    started, result, errors = threading.Event(), {}, []

    def holder() -> None:
        with app.app_context():
            try:
                with transaction():
                    result["held"] = hold().id
                    started.set()
                    time.sleep(0.6)  # `then` is now waiting for the head, with an older snapshot
            except Exception as exc:  # reported below
                errors.append(exc)
                started.set()
            finally:
                db.session.remove()

    thread = threading.Thread(target=holder)
    thread.start()
    started.wait(30)
    with app.app_context():
        try:
            result["then"] = then()
            if isinstance(result["then"], Transaction):
                result["then"] = result["then"].id
        except DomainError as exc:
            result["then"] = exc.code
        finally:
            db.session.remove()
    thread.join(30)
    assert not errors, errors
    return result


@pytest.mark.race
def test_a_key_committed_while_waiting_for_the_head_answers_with_that_transaction(app, lv):
    def award(points: int):
        return lambda: ledger.award(village_id=1, household_id=lv.households[0], council="volunteer",
                                    points=points, idempotency_key="same", actor_id=1)  # fmt: skip

    result = _while_held(app, award(5), award(5))
    assert result["then"] == result["held"]
    result = _while_held(app, award(5), award(6))  # now the key is old news: found at once
    assert result["then"] == "idempotency-key-reused"
    with app.app_context():
        assert ledger.count_transactions() == 1 and ledger.household_balance(lv.households[0]) == 5


@pytest.mark.race
def test_a_key_reused_while_waiting_for_the_head_is_refused(app, lv):
    def award(points: int):
        return lambda: ledger.award(village_id=1, household_id=lv.households[0], council="volunteer",
                                    points=points, idempotency_key="same", actor_id=1)  # fmt: skip

    result = _while_held(app, award(5), award(6))
    assert result["then"] == "idempotency-key-reused"
    with app.app_context():
        assert ledger.count_transactions() == 1 and ledger.verify()["ok"]


@pytest.mark.race
def test_a_reversal_committed_while_waiting_for_the_head_refuses_the_second(app, lv):
    with app.app_context():
        original = ledger.award(village_id=1, household_id=lv.households[0], council="volunteer",
                                points=5, idempotency_key="award", actor_id=1).id  # fmt: skip
        db.session.remove()

    def reverse(key: str):
        return lambda: ledger.reverse(transaction_id=original, idempotency_key=key, actor_id=1, memo="m")

    result = _while_held(app, reverse("r1"), reverse("r2"))
    assert result["then"] == "already-reversed"
    with app.app_context():
        assert ledger.count_transactions() == 2 and ledger.household_balance(lv.households[0]) == 0
        assert ledger.verify()["ok"]


def test_the_posting_statement_stays_within_psycopgs_parse_cache():
    # Longer statements are re-parsed by psycopg at every call (0.4 ms of CPU per posting here).
    queries = pytest.importorskip("psycopg._queries")
    limit = getattr(queries, "MAX_CACHED_STATEMENT_LENGTH", None)
    if limit is None:
        pytest.skip("this psycopg has no parse cache limit")
    assert len(ledger_posting._PG_POST.encode()) <= limit
    assert ledger_posting._PG_POST.count("%(") <= queries.MAX_CACHED_STATEMENT_PARAMS


@pytest.mark.race
def test_a_posting_holds_its_villages_queue_until_it_commits(app, lv):
    with app.app_context():
        if is_sqlite():
            pytest.skip("SQLite's BEGIN IMMEDIATE is the queue")
    seen: list[Any] = []

    def look() -> Any:
        with app.app_context():
            seen.extend(
                db.session.execute(
                    text("SELECT classid::bigint, objid::bigint, granted FROM pg_locks "
                         "WHERE locktype = 'advisory' AND objsubid = 2 AND database = "
                         "(SELECT oid FROM pg_database WHERE datname = current_database())")
                ).all()
            )  # fmt: skip
            db.session.remove()
        return ledger.household_balance(lv.households[0])

    def hold():
        return ledger.award(village_id=1, household_id=lv.households[0], council="volunteer", points=5,
                            idempotency_key="held", actor_id=1)  # fmt: skip

    _while_held(app, hold, look)
    assert seen == [(ledger.CHAIN_LOCK_CLASS, 1, True)]
