"""PostgreSQL's posting statement reads and writes its few accounts through an index, however many the
village has: everything it does runs under the village's chain lock (docs/ledger.md, "Concurrency")."""

from __future__ import annotations

import psycopg
import pytest

from merit_bank.database import _numbered as numbered
from merit_bank.database import is_sqlite, utcnow
from merit_bank.extensions import db
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger.accounts import household_key, issuing_key
from tests.ledger.ledger_helpers import open_ledger_village

HOUSEHOLDS = 1500  # where the plan, not knowing that a posting has two or three lines, chose to scan them all


def _generic_plan(sql: str, params: dict) -> str:
    """EXPLAIN of the statement's generic plan: the one a connection settles on after five executions."""
    text, names = numbered(sql)
    connection = db.session.connection().connection.driver_connection
    connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    connection.execute(psycopg.sql.SQL("PREPARE posting_plan AS {}").format(psycopg.sql.SQL(text)))
    try:
        cursor = psycopg.ClientCursor(connection)
        placeholders = ", ".join(["%s"] * len(names))
        cursor.execute(f"EXPLAIN EXECUTE posting_plan({placeholders})", [params[n] for n in names])
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        connection.execute("DEALLOCATE posting_plan")


def test_the_posting_touches_its_accounts_through_an_index_in_a_large_village(app):
    with app.app_context():
        if is_sqlite():
            pytest.skip("PostgreSQL only: SQLite posts statement by statement, by primary key")
    open_ledger_village(app, 1, households=2)
    with app.app_context():
        db.session.execute(
            db.text(
                "INSERT INTO ledger_accounts (key, kind, village_id, household_id, balance, earned_total,"
                " created_at) SELECT 'household:' || n, 'household', 1, n, 0, 0, now()"
                " FROM generate_series(100000, 100000 + :count) AS n"
            ),
            {"count": HOUSEHOLDS},
        )
        db.session.execute(db.text("ANALYZE ledger_accounts"))
        posting = ledger_posting.Posting(
            village_id=1,
            kind="award",
            lines={household_key(1001): 5, issuing_key(1, "volunteer"): -5},
            idempotency_key="plan",
            request_hash="0" * 64,
            actor_id=1,
        )
        plan = _generic_plan(ledger_posting._PG_POST, ledger_posting._pg_params(posting, utcnow()))
        db.session.rollback()
    assert "ledger_accounts" in plan
    assert "Seq Scan on ledger_accounts" not in plan, plan
