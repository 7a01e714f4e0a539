"""The overdraft policy and the hash encoding each have one source (docs/ledger.md, "One source of truth").

Both paths of a posting, SQLite's statements with _plan and PostgreSQL's one statement, are held here to
the policy table HOUSEHOLD_MAY_GO_NEGATIVE and to the encoding table hashing.FIELDS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from merit_bank.database import driver_rows, is_sqlite, utcnow
from merit_bank.errors import DomainError
from merit_bank.extensions import db
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger import services as ledger
from merit_bank.ledger.accounts import household_key, suspense_key
from merit_bank.ledger.hashing import FIELDS, canonical_bytes, request_digest, transaction_hash
from tests.ledger.ledger_helpers import open_ledger_village

# (opening balance, amount posted to the household): each case once per kind of the policy table.
CASES = [(5, -5), (5, -6), (-3, 1), (-3, -1), (0, 4)]


def _allowed(kind: str, balance: int, amount: int) -> bool:
    """What the table says: a debit may end below zero only for a kind that may go negative."""
    return amount > 0 or balance + amount >= 0 or ledger_posting.HOUSEHOLD_MAY_GO_NEGATIVE[kind]


def _posting(village_id: int, household_id: int, kind: str, amount: int, key: str) -> ledger_posting.Posting:
    lines = {household_key(household_id): amount, suspense_key(village_id): -amount}
    return ledger_posting.Posting(
        village_id=village_id,
        kind=kind,
        lines=lines,
        idempotency_key=key,
        request_hash=request_digest({"key": key}),
        actor_id=1,
        memo="policy",
    )


def _statement_writes(posting: ledger_posting.Posting) -> bool:
    """Whether PostgreSQL's statement itself would write the posting (rolled back at once)."""
    rows = driver_rows(ledger_posting._PG_POST, ledger_posting._pg_params(posting, utcnow()))
    db.session.rollback()
    return ledger_posting._PostRow._make(rows[0]).tx_id is not None


def test_both_posting_paths_follow_the_overdraft_table(app):
    kinds = list(ledger_posting.HOUSEHOLD_MAY_GO_NEGATIVE)
    lv = open_ledger_village(app, 1, households=len(kinds) * len(CASES))
    households = iter(lv.households)
    with app.app_context():
        for kind in kinds:
            for n, (balance, amount) in enumerate(CASES):
                household = next(households)
                if balance:
                    ledger.award(village_id=1, household_id=household, council="covenant", points=balance,
                                 idempotency_key=f"open:{kind}:{n}", actor_id=1)  # fmt: skip
                expected = _allowed(kind, balance, amount)
                posting = _posting(1, household, kind, amount, f"case:{kind}:{n}")
                if not is_sqlite():
                    assert _statement_writes(posting) is expected, (kind, balance, amount)
                try:
                    ledger.post(
                        village_id=1,
                        kind=kind,
                        lines=list(posting.lines.items()),
                        idempotency_key=posting.idempotency_key,
                        actor_id=1,
                        memo="policy",
                    )
                    posted = True
                except DomainError as exc:
                    assert exc.code == "insufficient-balance"
                    db.session.rollback()
                    posted = False
                assert posted is expected, (kind, balance, amount)
                assert ledger.household_balance(household) == balance + (amount if expected else 0)
        assert ledger.verify()["ok"]


def test_canonical_bytes_write_exactly_the_fields_of_the_table():
    body = json.loads(
        canonical_bytes(
            village_id=1,
            seq=2,
            prev_hash="0" * 64,
            kind="award",
            idempotency_key="k",
            actor_id=None,
            rule_id=3,
            rule_version=None,
            reverses_id=None,
            memo="m",
            created_at="2026-01-01T00:00:00.000000Z",
            entries=[(2, -1, -1), (1, 1, 1)],
        )
    )
    assert list(body) == list(FIELDS) == sorted(FIELDS)
    python_types = {"integer or null": (int, type(None)), "integer": int, "string": str, "time": str,
                    "entries": list, "version": int}  # fmt: skip
    for name, json_type in FIELDS.items():
        assert isinstance(body[name], python_types[json_type]), name


TRICKY = ["plain", "", 'quote " and \\ backslash', "apostrophe ' here", "tab\t newline\n cr\r \x01\x1f",
          "中文 备注", "emoji 🎉", "line sep \u2028 para \u2029", "del \x7f", "</script>"]  # fmt: skip


@pytest.mark.parametrize("memo", TRICKY)
def test_postgresql_encodes_and_hashes_as_hashing_py(app, memo):
    with app.app_context():
        if is_sqlite():
            pytest.skip("only PostgreSQL computes the hash in SQL")
        created = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
        fields = {"village_id": 7, "seq": 12, "prev_hash": "a" * 64, "kind": "award",
                  "idempotency_key": f"key {memo}", "actor_id": None, "rule_id": 2**40, "rule_version": 3,
                  "reverses_id": None, "memo": memo}  # fmt: skip
        entries = [(9, 5, 12), (3, -5, -40)]
        sql = (
            "WITH lines AS (SELECT * FROM (VALUES (9, 5, 12), (3, -5, -40)) AS l(account_id, amount, "
            "balance_after)), p AS (SELECT %(seq)s::bigint AS seq, %(prev_hash)s::text AS prev_hash, "
            "%(created_at)s::timestamptz AS created_at) "
            f"SELECT encode(sha256(convert_to({ledger_posting.ENCODING_SQL}, 'UTF8')), 'hex') FROM p"
        )
        params = {**fields, "created_at": created}
        connection = db.session.connection().connection.driver_connection
        digest = connection.execute(sql, params).fetchone()[0]
        assert digest == transaction_hash(**fields, created_at="2026-03-01T08:00:00.123456Z", entries=entries)
