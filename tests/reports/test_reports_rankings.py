"""Rankings and the 红黑榜 agree with figures computed from the ledger rows in the test."""

from __future__ import annotations

from datetime import date

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.ledger.models import Account
from merit_bank.reports import services
from merit_bank.reports.periods import Period, month_period
from tests.reports.report_helpers import ledger_figures


def _ranking(app, user_id, village_id, period, group_id=None):
    with app.app_context():
        return services.rankings(db.session.get(User, user_id), village_id, period, group_id)


def test_monthly_ranking_matches_the_ledger_with_deductions_apart(story):
    for month, first, last in (
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ):
        result = _ranking(story.app, story.admin, story.village, month_period(month))
        expected = ledger_figures(story.app, story.village, first, last)
        assert len(result["items"]) == 6
        for row in result["items"]:
            figures = expected.get(row["household_id"], {"earned": 0, "deducted": 0, "covenant": 0})
            assert row["earned"] == figures["earned"]
            assert row["deducted"] == figures["deducted"]
            assert row["covenant_deducted"] == figures["covenant"]
            assert row["net"] == row["earned"] - row["deducted"]
        assert result["earned"] == sum(f["earned"] for f in expected.values())


def test_local_midnight_decides_the_month(story):
    january = _ranking(story.app, story.admin, story.village, month_period("2026-01"))
    by_id = {r["household_id"]: r for r in january["items"]}
    # 10 + 2 (23:30 local on 31 January); the 5 of 3 February is not January's.
    assert by_id[story.households[0]["id"]]["earned"] == 12
    # 7 points at 00:30 local on 1 February (still 31 January in UTC) belong to February.
    assert by_id[story.households[1]["id"]]["earned"] == 10
    february = _ranking(story.app, story.admin, story.village, month_period("2026-02"))
    by_id = {r["household_id"]: r for r in february["items"]}
    assert by_id[story.households[1]["id"]]["earned"] == 7
    # A reversed award counts against earned in the month of the reversal.
    assert by_id[story.households[2]["id"]]["earned"] == -8


def test_ties_share_a_rank_and_the_next_rank_skips(story):
    result = _ranking(story.app, story.admin, story.village, month_period("2026-01"))
    ranks = [(r["head_name"], r["earned"], r["rank"], r["tied"]) for r in result["items"]]
    # 刘长顺 20; 王建国 12; 李德明 10; 张志强 8; then 陈永福 and 杨国庆 on 0, tied.
    assert ranks[0] == ("刘长顺", 20, 1, False)
    assert ranks[1][:3] == ("王建国", 12, 2)
    tied = [r for r in result["items"] if r["earned"] == 0]
    assert {r["rank"] for r in tied} == {5} and all(r["tied"] for r in tied)
    # Deductions do not lower a rank: 李德明 lost 3 points under the covenant and is still third.
    assert ranks[2][:3] == ("李德明", 10, 3)


def test_ranking_of_one_group(story):
    result = _ranking(story.app, story.admin, story.village, month_period("2026-01"), story.groups["二组"])
    assert [r["head_name"] for r in result["items"]] == ["刘长顺", "张志强", "陈永福"]
    assert [r["rank"] for r in result["items"]] == [1, 2, 3]


def test_all_time_earned_equals_the_ledgers_earned_total(story):
    result = _ranking(story.app, story.admin, story.village, Period(date(2025, 1, 1), date(2026, 12, 31)))
    with story.app.app_context():
        cached = {
            a.household_id: a.earned_total for a in db.session.query(Account).filter_by(kind="household")
        }
    for row in result["items"]:
        assert row["earned"] == cached[row["household_id"]]


def test_honor_board_lists_top_earners_and_covenant_deductions(story):
    with story.app.app_context():
        board = services.honor_board(
            db.session.get(User, story.clerk), story.village, month_period("2026-01"), top=3
        )
    assert [r["head_name"] for r in board["red"]] == ["刘长顺", "王建国", "李德明"]
    # 李德明 -3 under the covenant; 陈永福's covenant deduction was reversed, his moral-review one is not
    # a covenant matter: he is not on the black list.
    assert [(r["head_name"], r["covenant_deducted"]) for r in board["black"]] == [("李德明", 3)]


def test_public_board_only_when_the_village_publishes(story, client):
    response = client.get("/api/v1/reports/board/V0?month=2026-01")
    assert response.status_code == 404
    with story.app.app_context():
        from merit_bank.villages.models import Village

        village = db.session.get(Village, story.village)
        code = village.code
        response = client.get(f"/api/v1/reports/board/{code}?month=2026-01")
        assert response.status_code == 404
        village.publish_rankings = True
        db.session.commit()
    body = client.get(f"/api/v1/reports/board/{code}?month=2026-01").get_json()
    assert [r["head_name"] for r in body["red"]][:2] == ["刘长顺", "王建国"]
    assert all("code" not in r and "household_id" not in r for r in body["red"] + body["black"])
