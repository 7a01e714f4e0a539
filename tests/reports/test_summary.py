"""The points summary: the county comparison read from it equals the one read from the ledger, it is
folded incrementally and only once under concurrent refreshes, and verify-ledger names a tampered row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import ChainHead
from merit_bank.reports import summary
from merit_bank.reports.models import HouseholdMonthSummary, SummaryMark, VillageMonthSummary
from tests.race_support import run_concurrently
from tests.reports.report_helpers import RWorld, local

# Whole months (read from the summary) and one period that is not (read from the ledger either way).
QUERIES = (
    "month=2025-12",
    "month=2026-01",
    "month=2026-02",
    "month=2026-03",
    "month=2026-04",
    "year=2025",
    "year=2026",
    "from=2025-12&to=2026-02",
    "from=2025-01&to=2026-12",
    "from=2026-01-15&to=2026-02-10",
)


def _ok(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _post(w: RWorld, at: datetime, name: str, **kwargs) -> int:
    """A redemption or adjustment in the first village at a moment, remembered under `name`."""
    w.clock.now = at.astimezone(UTC)
    kind = kwargs.pop("kind")
    with w.app.app_context():
        if kind == "redeem":
            tx = ledger.redeem(
                village_id=w.village,
                shop_id=w.shop,
                idempotency_key=w._key(),
                actor_id=w.admin,
                **kwargs,
            )
        else:
            tx = ledger.adjust(
                village_id=w.village, idempotency_key=w._key(), actor_id=w.admin, memo="更正", **kwargs
            )
        w.txs[name] = tx.id
    return tx.id


def _first_half(w: RWorld) -> None:
    h = [row["id"] for row in w.households]
    w.award(local(2025, 12, 20, 9), 0, 10, name="dec-h0")
    # 23:50 on 31 December, local: December, although 2026 has begun nowhere yet but east of Shanghai.
    w.award(local(2025, 12, 31, 23, 50), 1, 6)
    w.award(local(2026, 1, 3, 9), -1, 7, name="other-jan")
    w.award(local(2026, 1, 5, 9), 0, 10, name="jan-h0")
    w.award(local(2026, 1, 6, 9), 1, -3, "covenant")
    _post(w, local(2026, 1, 8, 9), "spend-h0", kind="redeem", household_id=h[0], points=4)
    _post(w, local(2026, 1, 10, 9), "adjust-h2", kind="adjust", household_id=h[2], points=5)
    w.award(local(2026, 1, 12, 9), 3, 9, "moral_review")
    # 15:59 UTC on 31 January is 23:59 in Shanghai: January.
    w.award(datetime(2026, 1, 31, 15, 59, tzinfo=UTC), 3, 3, "wedding_funeral")
    # 17:00 UTC on 31 January is 01:00 on 1 February in Shanghai: February.
    w.award(datetime(2026, 1, 31, 17, 0, tzinfo=UTC), 2, 8, name="boundary")


def _second_half(w: RWorld) -> None:
    w.reverse(local(2026, 2, 2, 9), "dec-h0")  # a December award reversed in February
    w.reverse(local(2026, 2, 5, 9), "spend-h0")  # a void
    w.reverse(local(2026, 2, 10, 9), "jan-h0")  # January's only award of h0, reversed in February
    w.award(local(2026, 2, 12, 9), -1, -2, "moral_review", name="other-deduction")
    w.reverse(local(2026, 2, 20, 9), "adjust-h2")
    w.award(local(2026, 3, 1, 0, 10), 4, 5, "anti_drug_gambling")
    w.reverse(local(2026, 3, 2, 9), "other-deduction")  # a deduction reversed the month after
    w.award(local(2026, 3, 3, 9), 5, 4, "villagers_council")
    w.award(local(2026, 3, 4, 9), 5, -5, "covenant")


def _both_ways(w: RWorld, client, who: int) -> None:
    """Every query gives the same body from the summary as from the ledger's entries."""
    for query in QUERIES:
        w.app.config["REPORTS_FROM_SUMMARY"] = False
        from_ledger = _ok(client.get(f"/api/v1/reports/villages?{query}", headers=w.h(who)))
        w.app.config["REPORTS_FROM_SUMMARY"] = True
        from_summary = _ok(client.get(f"/api/v1/reports/villages?{query}", headers=w.h(who)))
        assert from_summary == from_ledger, query


def _marks(app) -> dict[int, int]:
    with app.app_context():
        return dict(db.session.execute(select(SummaryMark.village_id, SummaryMark.seq)).all())


def _heads(app) -> dict[int, int]:
    with app.app_context():
        return dict(db.session.execute(select(ChainHead.village_id, ChainHead.seq)).all())


def test_the_county_comparison_from_the_summary_equals_the_one_from_the_ledger(rworld, client):
    w = rworld
    _first_half(w)
    with w.app.app_context():
        # Postings do not write the summary: it is folded when read, or by the CLI.
        assert db.session.scalar(select(func.count()).select_from(VillageMonthSummary)) == 0
    _both_ways(w, client, w.root)
    assert _marks(w.app) == _heads(w.app)
    _second_half(w)  # folded on top of the first half, from the marks
    _both_ways(w, client, w.root)
    _both_ways(w, client, w.other_admin)
    assert _marks(w.app) == _heads(w.app)

    year = _ok(client.get("/api/v1/reports/villages?year=2026", headers=w.h(w.root)))
    january = _ok(client.get("/api/v1/reports/villages?month=2026-01", headers=w.h(w.root)))
    mine = {v["name"]: v for v in year["villages"]}["幸福村"]
    # h0's January award was reversed in February, as was its December one: it earned in January
    # (with h3) but not over the year, where h2, h3, h4 and h5 did.
    assert {v["name"]: v for v in january["villages"]}["幸福村"]["earning"] == 2
    assert mine["earning"] == 4 and mine["issued"] == 10 - 10 - 10 + 9 + 3 + 8 + 5 + 4
    assert mine["redeemed"] == 0 and mine["deducted"] == 3 + 5
    with w.app.app_context():
        boundary = db.session.execute(
            select(VillageMonthSummary.month, VillageMonthSummary.earned).where(
                VillageMonthSummary.village_id == w.village, VillageMonthSummary.council == "volunteer"
            )
        ).all()
        assert sorted(boundary) == [("2025-12", 16), ("2026-01", 10), ("2026-02", 8 - 10 - 10)]
        assert summary.verify()["ok"]


def test_a_refresh_folds_only_what_the_chain_gained(rworld):
    w = rworld
    _first_half(w)
    with w.app.app_context():
        first = summary.refresh()
        assert first == {w.village: (0, 9), w.other_village: (0, 1)}
        assert summary.refresh() == {}
        assert summary.stale_villages() == []
    _second_half(w)
    with w.app.app_context():
        assert summary.refresh() == {w.village: (9, 16), w.other_village: (1, 3)}
        # A rebuild starts both chains again and ends where the refreshes did.
        assert summary.refresh(rebuild=True) == {w.village: (0, 16), w.other_village: (0, 3)}
        assert summary.verify()["ok"]


def test_concurrent_refreshes_fold_every_transaction_once(rworld):
    w = rworld
    _first_half(w)
    _second_half(w)
    results = run_concurrently(w.app, [summary.refresh] * 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    folded = sum(hi - lo for result in results for lo, hi in result.values())
    assert folded == sum(_heads(w.app).values())
    with w.app.app_context():
        assert summary.verify()["ok"]


def test_a_change_of_zone_cuts_the_months_again(rworld, client):
    w = rworld
    _first_half(w)
    _both_ways(w, client, w.root)
    w.app.config["TIMEZONE"] = "UTC"
    _both_ways(w, client, w.root)
    with w.app.app_context():
        months = db.session.scalars(
            select(VillageMonthSummary.month).where(
                VillageMonthSummary.village_id == w.village, VillageMonthSummary.council == "volunteer"
            )
        ).all()
        # In UTC the 01:00-in-Shanghai award of 1 February was made on 31 January.
        assert sorted(months) == ["2025-12", "2026-01"]
        assert summary.verify()["ok"]


@pytest.mark.parametrize(
    "tamper, named",
    [
        (
            "UPDATE village_month_summary SET earned = earned + 1 "
            "WHERE month = '2026-02' AND council = 'volunteer'",
            "village_month_summary (village_id {village}, month '2026-02', council 'volunteer'): "
            "summary has earned 9, deducted 0, redeemed 0, the ledger gives earned 8",
        ),
        (
            "DELETE FROM household_month_summary WHERE month = '2026-01' AND household_id = {household}",
            "household_month_summary (month '2026-01', village_id {village}, household_id {household}): "
            "summary has no row, the ledger gives earned 10",
        ),
        ("UPDATE summary_marks SET seq = 99 WHERE village_id = {village}", "past its chain's head 9"),
    ],
)
def test_verify_ledger_names_a_tampered_summary_row(rworld, runner, tamper, named):
    w = rworld
    _first_half(w)
    result = runner.invoke(args=["refresh-summary"])
    assert result.exit_code == 0 and "10 transactions of 2 villages" in result.output, result.output
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 0 and "Summary OK: 2 villages" in result.output, result.output
    values = {"village": w.village, "household": w.households[0]["id"]}
    with w.app.app_context():
        db.session.execute(text(tamper.format(**values)))
        db.session.commit()
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 1, result.output
    assert "Ledger OK" in result.output and "Summary MISMATCH" in result.output
    assert named.format(**values) in result.output
    with w.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HouseholdMonthSummary)) > 0
