"""Village statistics and the county comparison, checked against the claims, events, shop and ledger rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from merit_bank.claims.models import Claim
from merit_bank.clock import local_today as today
from merit_bank.database import utcnow
from merit_bank.events.models import Checkin
from merit_bank.extensions import db
from merit_bank.reports.periods import Period
from merit_bank.shop import services as shop_services
from merit_bank.shop.models import Redemption
from merit_bank.shop.settlement import settlement_lines


def _ok(response, status=(200, 201)):
    assert response.status_code in status, response.get_json()
    return response.get_json()


def _activity(w, client) -> dict:
    """Today: rules, claims (posted, rejected, pending), an event with check-ins, goods redeemed, a void."""
    w.clock.now = utcnow()
    admin = w.h(w.admin)
    clean = _ok(
        client.post(
            "/api/v1/rules",
            headers=admin,
            json={
                "code": "clean",
                "name": "打扫卫生",
                "council": "volunteer",
                "points": 5,
                "needs_review": True,
                "notice_days": 0,
                "approvals_required": 1,
            },
        )
    )["id"]
    meeting = _ok(
        client.post(
            "/api/v1/rules",
            headers=admin,
            json={
                "code": "meet",
                "name": "参加村民会议",
                "council": "villagers_council",
                "points": 3,
                "needs_review": False,
                "notice_days": 0,
                "approvals_required": 1,
            },
        )
    )["id"]
    claims = [
        _ok(
            client.post(
                "/api/v1/claims", headers=w.h(w.clerk), json={"household_id": h["id"], "rule_id": clean}
            )
        )
        for h in w.households[:3]
    ]
    _ok(client.post(f"/api/v1/claims/{claims[0]['id']}/approve", headers=admin, json={}))
    _ok(client.post(f"/api/v1/claims/{claims[1]['id']}/reject", headers=admin, json={"reason": "重复申报"}))
    now = utcnow()
    event = _ok(
        client.post(
            "/api/v1/events",
            headers=admin,
            json={
                "village_id": w.village,
                "title": "村民大会",
                "rule_id": meeting,
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
            },
        )
    )
    for h in w.households[3:6]:
        _ok(
            client.post(
                f"/api/v1/events/{event['id']}/checkins",
                headers=w.h(w.clerk),
                json={"household_code": h["code"], "member_id": h["member_ids"][0]},
            )
        )
    rice = _ok(
        client.post(
            f"/api/v1/shops/{w.shop}/items",
            headers=admin,
            json={"name": "大米", "unit": "袋", "price_points": 2, "stock": 10},
        )
    )["id"]
    first = _ok(
        client.post(
            "/api/v1/redemptions",
            headers={**admin, "Idempotency-Key": "r1"},
            json={
                "shop_id": w.shop,
                "household_id": w.households[0]["id"],
                "lines": [{"item_id": rice, "quantity": 2}],
            },
        )
    )
    _ok(
        client.post(
            "/api/v1/redemptions",
            headers={**admin, "Idempotency-Key": "r2"},
            json={
                "shop_id": w.shop,
                "household_id": w.households[3]["id"],
                "lines": [{"item_id": rice, "quantity": 1}],
            },
        )
    )
    _ok(client.post(f"/api/v1/redemptions/{first['id']}/void", headers=admin, json={"reason": "退货"}))
    return {"event": event["id"]}


def test_village_stats_agree_with_the_tables(rworld, client):
    ids = _activity(rworld, client)
    day = today()
    period = Period(day - timedelta(days=1), day + timedelta(days=1))
    stats = _ok(
        client.get(
            f"/api/v1/reports/stats?village_id={rworld.village}&from={period.first}&to={period.last}",
            headers=rworld.h(rworld.clerk),
        )
    )
    with rworld.app.app_context():
        statuses = dict(
            db.session.execute(
                select(Claim.status, func.count())
                .where(Claim.village_id == rworld.village)
                .group_by(Claim.status)
            ).all()
        )
        checkins = db.session.scalar(select(func.count()).select_from(Checkin))
        redemptions = db.session.scalars(select(Redemption)).all()
        live = [r for r in redemptions if r.void is None]
    # Claims: one posted (approved, no notice), one rejected, one pending; check-ins post three more.
    assert {k: v for k, v in stats["claims"]["by_status"].items() if v} == statuses
    assert stats["claims"]["reviewed"] == 2 and stats["claims"]["review_hours_median"] >= 0
    assert stats["checkins"]["total"] == checkins == 3
    assert stats["checkins"]["events"][0]["event_id"] == ids["event"]
    # Points: 5 for the approved claim and 3 for each of the three check-ins.
    assert stats["points"]["issued"] == 5 + 3 * 3
    assert {r["council"]: r["issued"] for r in stats["by_council"]} == {
        "volunteer": 5,
        "villagers_council": 9,
    }
    assert stats["participation"] == {
        **stats["participation"],
        "households": 6,
        "earning": 4,
        "rate": round(4 / 6, 4),
    }
    # Goods: the voided redemption is apart; the ledger's spending is net of the void.
    assert stats["redemptions"]["count"] == len(live) == 1 and stats["redemptions"]["voided"] == 1
    assert stats["redemptions"]["items"] == [{"name": "大米", "unit": "袋", "quantity": 1}]
    assert stats["points"]["redeemed"] == sum(r.total_points for r in live) == 2


def test_the_shops_settlement_page_is_its_settlement_lines(rworld, client):
    _activity(rworld, client)
    month = today().strftime("%Y-%m")
    with rworld.app.app_context():
        from merit_bank.auth.models import User

        shop_view = shop_services.settlement(db.session.get(User, rworld.admin), rworld.shop, month)
        mine = [
            r
            for r in settlement_lines(village_ids=[rworld.village], months=[month])
            if r["shop_id"] == rworld.shop
        ]
    assert [
        (r["name"], r["quantity"], r["points"], r["voided_quantity"], r["voided_points"], r["net_points"])
        for r in mine
    ] == [
        (i["name"], i["quantity"], i["points"], i["voided_quantity"], i["voided_points"], i["net_points"])
        for i in shop_view["items"]
    ]
    assert sum(r["value_fen"] for r in mine) == shop_view["value_fen"]


def test_county_overview_adds_up_the_villages(story, client):
    body = _ok(client.get("/api/v1/reports/villages?month=2026-01", headers=story.h(story.root)))
    by_name = {v["name"]: v for v in body["villages"]}
    assert by_name["幸福村"]["issued"] == 50 and by_name["邻村"]["issued"] == 50
    assert by_name["幸福村"]["deducted"] == 5 and by_name["幸福村"]["redeemed"] == 5
    assert by_name["幸福村"]["earning"] == 4 and by_name["邻村"]["earning"] == 1
    assert body["totals"]["issued"] == 100
    months = {(r["month"], r["council"]): r for r in body["by_month"]}
    assert (
        months[("2026-01", "volunteer")]["issued"] == 80
        and months[("2026-01", "moral_review")]["issued"] == 20
    )
    # A village admin sees only their village; a clerk may not compare villages.
    own = _ok(client.get("/api/v1/reports/villages?month=2026-01", headers=story.h(story.other_admin)))
    assert [v["name"] for v in own["villages"]] == ["邻村"]
    assert client.get("/api/v1/reports/villages", headers=story.h(story.clerk)).status_code == 403


def test_report_arguments_are_checked(story, client):
    h = story.h(story.admin)
    for query in (
        "month=2026-1",
        "from=2026-02-30",
        "from=2026-03-01&to=2026-02-01",
        "year=1999",
        "from=2000-01-01&to=2020-01-01",
        "village_id=99999999999",
        "group_id=-1",
    ):
        response = client.get(f"/api/v1/reports/rankings?{query}", headers=h)
        assert response.status_code == 422, (query, response.get_json())
    assert client.get("/api/v1/reports/rankings?village_id=999", headers=h).status_code == 404
    assert (
        client.get(f"/api/v1/reports/rankings?village_id={story.other_village}", headers=h).status_code == 404
    )
    other_group = client.get(f"/api/v1/reports/rankings?group_id={story.groups['一组'] + 99}", headers=h)
    assert other_group.status_code == 404
    assert client.get("/api/v1/reports/stats").status_code == 401
