"""Append-only triggers, tamper detection, verification (service, CLI) and an outside audit of exports."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from tests.ledger.ledger_helpers import drop_ledger_triggers

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"


def _some_postings(app, lv) -> None:
    with app.app_context():
        for n, household in enumerate(lv.households):
            ledger.award(
                village_id=1, household_id=household, council="volunteer", points=10 + n,
                idempotency_key=f"a{n}", actor_id=1, memo="志愿服务 \"quoted\"",
            )  # fmt: skip
        redemption = ledger.redeem(
            village_id=1, household_id=lv.households[0], shop_id=lv.shops[0], points=4, idempotency_key="r",
            actor_id=2,
        )  # fmt: skip
        ledger.reverse(transaction_id=redemption.id, idempotency_key="v", actor_id=1, memo="void")
        ledger.award(village_id=1, household_id=lv.households[1], council="covenant", points=-30,
                     idempotency_key="d", actor_id=1, rule_id=9, rule_version=2)  # fmt: skip
        db.session.remove()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET memo = 'edited'",
        "DELETE FROM ledger_transactions WHERE seq = 5",
    ],
)
def test_the_database_refuses_to_change_the_ledger(app, lv, sql):
    _some_postings(app, lv)
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(sql))
        db.session.rollback()
        assert ledger.verify()["ok"]


def test_truncate_is_refused_on_postgresql(app, lv):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no TRUNCATE")
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("TRUNCATE ledger_entries"))
        db.session.rollback()


def test_a_whole_ledger_verifies(app, lv):
    _some_postings(app, lv)
    with app.app_context():
        result = ledger.verify()
        assert result["ok"] and result["transactions"] == 6
        assert result["head"][0]["village_id"] == 1 and result["head"][0]["seq"] == 6


@pytest.mark.parametrize(
    ("sql", "bad_seq", "reason"),
    [
        ("UPDATE ledger_entries SET amount = 99 WHERE id = (SELECT MIN(id) FROM ledger_entries)", 1, "hash"),
        ("UPDATE ledger_transactions SET memo = 'x' WHERE seq = 3", 3, "hash"),
        ("UPDATE ledger_transactions SET actor_id = 5 WHERE seq = 4", 4, "hash"),
        ("DELETE FROM ledger_entries WHERE id = (SELECT MAX(id) FROM ledger_entries)", 6, "hash"),
        (
            "UPDATE ledger_entries SET balance_after = 0 WHERE id = (SELECT MIN(id) FROM ledger_entries)",
            1,
            "hash",
        ),
    ],
)
def test_with_the_triggers_dropped_an_edit_is_named_by_verification(app, lv, sql, bad_seq, reason):
    _some_postings(app, lv)
    drop_ledger_triggers(app)
    with app.app_context():
        db.session.execute(text(sql))
        db.session.commit()
        bad_id = db.session.scalar(text(f"SELECT id FROM ledger_transactions WHERE seq = {bad_seq}"))
        result = ledger.verify()
        assert result["ok"] is False
        assert result["first_bad_id"] == bad_id
        assert reason in result["reason"]


def test_a_deleted_transaction_breaks_the_chain_after_it(app, lv):
    _some_postings(app, lv)
    drop_ledger_triggers(app)
    with app.app_context():
        bad_id = db.session.scalar(text("SELECT id FROM ledger_transactions WHERE seq = 3"))
        db.session.execute(text(f"DELETE FROM ledger_entries WHERE transaction_id = {bad_id - 1}"))
        db.session.execute(text(f"DELETE FROM ledger_transactions WHERE id = {bad_id - 1}"))
        db.session.commit()
        result = ledger.verify()
        assert (result["ok"], result["first_bad_id"]) == (False, bad_id)
        assert "sequence gap" in result["reason"]


def test_a_tampered_cached_balance_is_named(app, lv):
    _some_postings(app, lv)
    with app.app_context():
        db.session.execute(
            text(f"UPDATE ledger_accounts SET balance = 1000 WHERE household_id = {lv.households[2]}")
        )
        db.session.commit()
        result = ledger.verify()
        assert result["ok"] is False and result["first_bad_id"] is None
        assert "cached balance 1000" in result["reason"]
        assert result["account_id"] is not None


def test_a_moved_chain_head_is_named(app, lv):
    _some_postings(app, lv)
    with app.app_context():
        db.session.execute(text("UPDATE ledger_chains SET seq = 7"))
        db.session.commit()
        result = ledger.verify()
        assert result["ok"] is False and "chain head" in result["reason"]


def test_the_cli_exits_0_when_whole_and_1_when_not(app, lv, runner):
    _some_postings(app, lv)
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 0, result.output
    assert "Ledger OK: 6 transactions" in result.output
    drop_ledger_triggers(app)
    with app.app_context():
        db.session.execute(text("UPDATE ledger_transactions SET memo = 'x' WHERE seq = 2"))
        db.session.commit()
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 1
    assert "BROKEN at transaction" in result.output


def _audit_script():
    source = re.search(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S).group(1)
    namespace: dict = {"__name__": "audit"}
    exec(compile(source, "docs/ledger.md", "exec"), namespace)
    return namespace["audit"]


def test_an_outside_auditor_recomputes_the_chain_from_a_jsonl_export(app, lv, runner):
    _some_postings(app, lv)
    result = runner.invoke(args=["export-ledger", "1", "--format", "jsonl"])
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    audit = _audit_script()
    with app.app_context():
        head = ledger.verify()["head"][0]["hash"]
    assert audit(lines) == f"OK 6 transactions, head {head}"
    # One changed character anywhere in a hashed field is caught.
    tampered = [line.replace("void", "vOid") for line in lines]
    assert audit(tampered).startswith("BAD transaction")


def test_a_csv_export_holds_every_hashed_field(app, lv):
    _some_postings(app, lv)
    with app.app_context():
        buffer = io.StringIO()
        assert ledger.export_ledger(1, "csv", buffer) == 6
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(rows) == 12
    # Rebuild JSON-lines records from the CSV and audit them with the same script.
    records: dict[str, dict] = {}
    for row in rows:
        record = records.setdefault(
            row["id"],
            {
                "record": "transaction",
                **{k: row[k] for k in ("kind", "idempotency_key", "memo", "created_at", "prev_hash", "hash")},
                **{
                    k: (int(row[k]) if row[k] != "" else None)
                    for k in ("id", "village_id", "seq", "actor_id", "rule_id", "rule_version", "reverses_id")
                },
                "entries": [],
            },
        )
        record["entries"].append([int(row["account_id"]), int(row["amount"]), int(row["balance_after"])])
    assert _audit_script()([json.dumps(r) for r in records.values()]).startswith("OK 6 transactions")
