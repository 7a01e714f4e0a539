"""Exports open with the csv module and openpyxl and round-trip the ledger's numbers."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date

import pytest
from openpyxl import load_workbook

from merit_bank.extensions import db
from merit_bank.ledger.models import Account, Entry, Transaction
from merit_bank.reports.exports import EXPORTS
from tests.reports.report_helpers import ledger_figures


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()), "UTF-8 with a BOM, for Excel"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _xlsx(response) -> list[list]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def _records(rows: list[list], keys_row: int = 0) -> list[dict]:
    keys = rows[keys_row]
    return [dict(zip(keys, r, strict=True)) for r in rows[keys_row + 1 :]]


def test_ledger_csv_has_every_entry_of_the_village_and_balances(story, client):
    response = client.get(
        f"/api/v1/exports/ledger.csv?village_id={story.village}&header=keys", headers=story.h(story.admin)
    )
    records = _records(_csv(response))
    with story.app.app_context():
        expected = (
            db.session.query(Entry)
            .join(Transaction, Transaction.id == Entry.transaction_id)
            .filter(Transaction.village_id == story.village)
            .count()
        )
        balances = {a.key: a.balance for a in db.session.query(Account).filter_by(village_id=story.village)}
    assert len(records) == expected
    per_tx: dict[str, int] = defaultdict(int)
    per_account: dict[str, int] = defaultdict(int)
    for r in records:
        per_tx[r["transaction_id"]] += int(r["amount"])
        per_account[r["account"]] += int(r["amount"])
    assert set(per_tx.values()) == {0}
    assert {k: v for k, v in balances.items() if v} == {k: v for k, v in per_account.items() if v}


def test_ledger_csv_headers_are_chinese_by_default_with_an_english_key_row_on_request(story, client):
    rows = _csv(
        client.get(f"/api/v1/exports/ledger.csv?village_id={story.village}", headers=story.h(story.admin))
    )
    assert rows[0][0] == "交易编号" or rows[0][0] != "transaction_id"
    both = _csv(
        client.get(
            f"/api/v1/exports/ledger.csv?village_id={story.village}&header=both", headers=story.h(story.admin)
        )
    )
    assert both[0] == rows[0]
    assert both[1] == EXPORTS["ledger"].keys()


def test_balances_statement_reconciles_with_the_ledger_for_a_month(story, client):
    response = client.get(
        f"/api/v1/exports/balances.csv?village_id={story.village}&month=2026-01&header=keys",
        headers=story.h(story.admin),
    )
    records = _records(_csv(response))
    january = ledger_figures(story.app, story.village, date(2026, 1, 1), date(2026, 1, 31))
    with story.app.app_context():
        codes = {h["code"]: h["id"] for h in story.households}
        balances = {a.household_id: a.balance for a in db.session.query(Account).filter_by(kind="household")}
    after = ledger_figures(story.app, story.village, date(2026, 2, 1), date(2026, 12, 31))
    assert len(records) == 6
    for r in records:
        household_id = codes[r["household_code"]]
        figures = january.get(household_id, {"earned": 0, "deducted": 0, "spent": 0})
        assert int(r["earned"]) == figures["earned"]
        assert int(r["deducted"]) == figures["deducted"]
        assert int(r["spent"]) == figures["spent"]
        assert int(r["opening_balance"]) == 0  # nothing before January
        later = after.get(household_id, {"earned": 0, "deducted": 0, "spent": 0})
        assert int(r["closing_balance"]) == balances[household_id] - (
            later["earned"] - later["deducted"] - later["spent"]
        )
        assert int(r["opening_balance"]) + int(r["earned"]) - int(r["deducted"]) - int(r["spent"]) + int(
            r["other"]
        ) == int(r["closing_balance"])


def test_balances_xlsx_round_trips_the_numbers(story, client):
    rows = _xlsx(
        client.get(
            f"/api/v1/exports/balances.xlsx?village_id={story.village}&header=both",
            headers=story.h(story.admin),
        )
    )
    assert rows[1] == EXPORTS["balances"].keys()
    records = _records(rows, keys_row=1)
    with story.app.app_context():
        balances = {
            a.household_id: (a.balance, a.earned_total)
            for a in db.session.query(Account).filter_by(kind="household")
        }
    codes = {h["code"]: h["id"] for h in story.households}
    assert {codes[r["household_code"]]: (r["closing_balance"], r["earned_total"]) for r in records} == {
        codes[c]: balances[i] for c, i in codes.items()
    }


def test_ledger_xlsx_for_a_deployment_admin_covers_every_village(story, client):
    records = _records(
        _xlsx(client.get("/api/v1/exports/ledger.xlsx?header=keys", headers=story.h(story.root)))
    )
    with story.app.app_context():
        assert len(records) == db.session.query(Entry).count()
    assert {r["village"] for r in records} == {"幸福村", "邻村"}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_export_opens_in_both_formats(story, client, name):
    for fmt in ("csv", "xlsx"):
        response = client.get(
            f"/api/v1/exports/{name}.{fmt}?village_id={story.village}&from=2026-01-01&to=2026-02-28",
            headers=story.h(story.clerk),
        )
        rows = _csv(response) if fmt == "csv" else _xlsx(response)
        with story.app.test_request_context():  # the default language of a request: Chinese
            assert rows[0] == EXPORTS[name].labels()


def test_exports_are_scoped(story, client):
    response = client.get(
        f"/api/v1/exports/ledger.csv?village_id={story.village}", headers=story.h(story.other_admin)
    )
    assert response.status_code == 404
    # An admin of the other village without a village_id gets only their own village.
    records = _records(
        _csv(client.get("/api/v1/exports/ledger.csv?header=keys", headers=story.h(story.other_admin)))
    )
    assert records and {r["village"] for r in records} == {"邻村"}
    assert client.get("/api/v1/exports/ledger.csv").status_code == 401
    assert client.get("/api/v1/exports/nothing.csv", headers=story.h(story.root)).status_code == 404
    bad = client.get("/api/v1/exports/ledger.csv?month=2026-13", headers=story.h(story.root))
    assert bad.status_code == 422 and "month" in bad.get_json()["errors"]


def test_ledger_accounts_read_as_names_and_keep_their_keys_only_for_programs(story, client):
    """A Chinese export names accounts (王建国户（code）, 发放账户（志愿服务）, 超市账户（…））;
    `header=keys` keeps the machine keys (household:1) for programs that reconcile by them."""
    rows = _csv(
        client.get(f"/api/v1/exports/ledger.csv?village_id={story.village}", headers=story.h(story.admin))
    )
    column = rows[0].index("账户")
    accounts = {r[column] for r in rows[1:]}
    assert not any(re.search(r"[a-z]+:\d", a) for a in accounts), accounts
    assert f"王建国户（{story.households[0]['code']}）" in accounts
    assert "发放账户（志愿服务）" in accounts and "发放账户（村规民约）" in accounts
    assert "超市账户（积分超市）" in accounts
    url = f"/api/v1/exports/ledger.xlsx?village_id={story.village}&header=both"
    both = _xlsx(client.get(url, headers=story.h(story.admin)))
    assert {r[column] for r in both[2:]} == accounts
    keyed = _records(
        _csv(
            client.get(
                f"/api/v1/exports/ledger.csv?village_id={story.village}&header=keys",
                headers=story.h(story.admin),
            )
        )
    )
    assert f"household:{story.households[0]['id']}" in {r["account"] for r in keyed}
    assert all(re.fullmatch(r"(household|issuing|shop|suspense):[\w:]+", r["account"]) for r in keyed)
