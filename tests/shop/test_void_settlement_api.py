"""Voids, monthly settlement with closed months, exports, and the stock log's own verification."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from merit_bank.clock import local_zone
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.shop import months as shop_months
from merit_bank.shop import services as shop_services
from merit_bank.shop.models import Redemption, StockMovement
from tests.shop.shop_helpers import FixedClock, balance, build_world, redeem, stock


def _body(world, household, **lines):
    return {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [{"item_id": world.items[name], "quantity": q} for name, q in lines.items()],
    }


def _void(client, headers, redemption_id, reason="顾客退货"):
    return client.post(f"/api/v1/redemptions/{redemption_id}/void", headers=headers, json={"reason": reason})


def test_a_void_returns_points_and_stock_through_reversals_once(app, client):
    world = build_world(app)
    household = world.households[0]
    r = redeem(client, world.keeper, _body(world, household, 大米=1, 食用油=2)).json
    assert balance(app, household["id"]) == 200 - 130
    no_reason = client.post(f"/api/v1/redemptions/{r['id']}/void", headers=world.keeper, json={})
    assert no_reason.status_code == 422
    response = _void(client, world.keeper, r["id"])
    assert response.status_code == 200 and response.json["status"] == "voided"
    assert balance(app, household["id"]) == 200
    assert stock(app, world.items["大米"]) == 40 and stock(app, world.items["食用油"]) == 5
    second = _void(client, world.keeper, r["id"])
    assert second.status_code == 409 and second.json["type"] == "already-voided"
    by_admin = _void(client, world.admin, r["id"])
    assert by_admin.status_code == 409 and by_admin.json["type"] == "already-voided"
    with app.app_context():
        original = db.session.get(Redemption, r["id"])
        reversal = ledger.get_transaction(original.void.transaction_id)
        assert reversal.kind == "reversal" and reversal.reverses_id == original.transaction_id
        assert "顾客退货" in reversal.memo
        moves = (
            db.session.query(StockMovement).filter_by(redemption_id=r["id"]).order_by(StockMovement.id).all()
        )
        assert sorted((m.kind, m.quantity) for m in moves) == [
            ("redemption", -2),
            ("redemption", -1),
            ("void", 1),
            ("void", 2),
        ]
        assert ledger.verify()["ok"] is True
        assert shop_services.verify_stock()["ok"] is True
        assert ledger.shop_balance(world.shop_id) == 0
    fetched = client.get(f"/api/v1/redemptions/{r['id']}", headers=world.keeper).json
    assert fetched["status"] == "voided" and fetched["void"]["reason"] == "顾客退货"


def test_a_shopkeeper_voids_only_on_the_same_day_an_admin_any_time(app, client, monkeypatch):
    world = build_world(app)
    clock = FixedClock(datetime(2026, 5, 10, 15, 50, tzinfo=UTC))  # 23:50 in Shanghai
    monkeypatch.setattr(shop_months, "clock", clock)
    r = redeem(client, world.keeper, _body(world, world.households[0], 食盐=1)).json
    clock.moment = datetime(2026, 5, 10, 16, 5, tzinfo=UTC)  # 00:05 the next day in Shanghai
    late = _void(client, world.keeper, r["id"])
    assert late.status_code == 409 and late.json["type"] == "void-too-late"
    assert balance(app, world.households[0]["id"]) == 195
    assert _void(client, world.admin, r["id"]).status_code == 200
    same_day = redeem(client, world.keeper, _body(world, world.households[1], 食盐=1)).json
    clock.moment = datetime(2026, 5, 11, 15, 59, tzinfo=UTC)  # 23:59 that same Shanghai day
    assert _void(client, world.keeper, same_day["id"]).status_code == 200


def test_villagers_cannot_void(app, client):
    from tests.factories import auth
    from tests.shop.shop_helpers import villager_of

    world = build_world(app)
    household = world.households[0]
    r = redeem(client, world.keeper, _body(world, household, 食盐=1)).json
    villager = auth(app, villager_of(app, household))
    assert _void(client, villager, r["id"]).status_code == 403
    assert balance(app, household["id"]) == 195


def test_settlement_counts_the_month_in_points_and_yuan(app, client, monkeypatch):
    world = build_world(app, point_value_fen=12)
    clock = FixedClock(datetime(2026, 4, 30, 15, 0, tzinfo=UTC))  # 23:00 on 30 April, Shanghai
    monkeypatch.setattr(shop_months, "clock", clock)
    a, b = world.households
    redeem(client, world.keeper, _body(world, a, 大米=2, 食盐=1))
    voided = redeem(client, world.keeper, _body(world, b, 食用油=1)).json
    assert _void(client, world.keeper, voided["id"]).status_code == 200
    clock.moment = datetime(2026, 4, 30, 16, 30, tzinfo=UTC)  # already May in Shanghai
    redeem(client, world.keeper, _body(world, b, 食盐=4))
    april = client.get(f"/api/v1/shops/{world.shop_id}/settlement?month=2026-04", headers=world.keeper)
    assert april.status_code == 200, april.json
    s = april.json
    assert s["redemptions"] == 2 and s["voids"] == 1 and s["closed"] is False
    assert s["given_points"] == 60 + 5 + 50 and s["voided_points"] == 50
    assert s["total_points"] == 65 and s["point_value_fen"] == 12
    assert s["value_fen"] == 780 and s["value_yuan"] == "7.80"
    rows = {i["name"]: i for i in s["items"]}
    assert rows["大米"]["net_quantity"] == 2 and rows["大米"]["value_yuan"] == "7.20"
    assert rows["食用油"]["quantity"] == 1 and rows["食用油"]["net_quantity"] == 0
    may = client.get(f"/api/v1/shops/{world.shop_id}/settlement?month=2026-05", headers=world.keeper).json
    assert may["total_points"] == 20 and may["value_yuan"] == "2.40"
    bad = client.get(f"/api/v1/shops/{world.shop_id}/settlement?month=2026-13", headers=world.keeper)
    assert bad.status_code == 422


def test_a_closed_month_stays_as_it_was_and_later_voids_land_in_the_next(app, client, monkeypatch):
    world = build_world(app)
    clock = FixedClock(datetime(2026, 6, 30, 8, 0, tzinfo=UTC))
    monkeypatch.setattr(shop_months, "clock", clock)
    household = world.households[0]
    kept_open = redeem(client, world.keeper, _body(world, household, 食盐=2)).json
    closed_later = redeem(client, world.keeper, _body(world, household, 大米=1)).json
    url = f"/api/v1/shops/{world.shop_id}/settlement"
    too_early = client.post(f"{url}/close", headers=world.admin, json={"month": "2026-06"})
    assert too_early.status_code == 409 and too_early.json["type"] == "month-not-ended"
    clock.moment = datetime(2026, 7, 2, 3, 0, tzinfo=UTC)
    # a void before closing rewrites June, which is still open
    assert _void(client, world.admin, kept_open["id"]).status_code == 200
    june = client.get(f"{url}?month=2026-06", headers=world.admin).json
    assert june["total_points"] == 30
    assert client.post(f"{url}/close", headers=world.keeper, json={"month": "2026-06"}).status_code == 403
    closed = client.post(f"{url}/close", headers=world.admin, json={"month": "2026-06"})
    assert closed.status_code == 200 and closed.json["closed"] is True and closed.json["total_points"] == 30
    twice = client.post(f"{url}/close", headers=world.admin, json={"month": "2026-06"})
    assert twice.status_code == 409 and twice.json["type"] == "month-closed"
    # a void after closing lands in July; June keeps its figures
    assert _void(client, world.admin, closed_later["id"]).status_code == 200
    june_after = client.get(f"{url}?month=2026-06", headers=world.admin).json
    assert june_after["total_points"] == 30 and june_after["voids"] == 1 and june_after["closed"] is True
    july = client.get(f"{url}?month=2026-07", headers=world.admin).json
    assert july["voids"] == 1 and july["total_points"] == -30 and july["value_yuan"] == "-3.00"
    assert balance(app, household["id"]) == 200


def test_settlement_exports_csv_with_bom_and_xlsx(app, client):
    world = build_world(app)
    redeem(client, world.keeper, _body(world, world.households[0], 大米=1, 食盐=2))
    month = datetime.now(UTC).astimezone(local_zone()).strftime("%Y-%m")
    response = client.get(f"/api/v1/shops/{world.shop_id}/settlement.csv?month={month}", headers=world.keeper)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert ["积分超市", "幸福超市"] in rows  # headings in the request's language (Chinese by default)
    rice = next(r for r in rows if r and r[0] == "大米")
    assert rice[2] == "1" and rice[3] == "30" and rice[-1] == "3.00"
    assert rows[-1][0] == "合计" and rows[-1][-1] == "4.00"
    xlsx = client.get(f"/api/v1/shops/{world.shop_id}/settlement.xlsx?month={month}", headers=world.keeper)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert any(row[0] == "大米" and row[2] == 1 for row in values)
    assert float(values[-1][-1]) == 4.0


def test_stock_verification_finds_a_tampered_cached_figure(app, client):
    world = build_world(app)
    redeem(client, world.keeper, _body(world, world.households[0], 食用油=2))
    ok = client.get(f"/api/v1/shops/{world.shop_id}/stock/verify", headers=world.keeper).json
    assert ok == {"ok": True, "items": 3, "movements": 4}
    with app.app_context():
        db.session.execute(
            text("UPDATE shop_items SET stock = 99 WHERE id = :id"), {"id": world.items["食用油"]}
        )
        db.session.commit()
    broken = client.get(f"/api/v1/shops/{world.shop_id}/stock/verify", headers=world.keeper).json
    assert broken["ok"] is False and broken["item_id"] == world.items["食用油"]
    assert "99" in broken["reason"]
    everything = client.get("/api/v1/shops/stock/verify", headers=world.admin).json
    assert everything["ok"] is False


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE shop_stock_movements SET quantity = 5",
        "DELETE FROM shop_stock_movements",
        "UPDATE shop_redemptions SET total_points = 1",
        "DELETE FROM shop_redemption_lines",
    ],
)
def test_the_shop_history_is_append_only(app, client, statement):
    world = build_world(app)
    redeem(client, world.keeper, _body(world, world.households[0], 食盐=1))
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement))
            db.session.commit()
        db.session.rollback()


def test_stock_can_never_go_below_zero_even_in_the_database(app, client):
    world = build_world(app)
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(
                text("UPDATE shop_items SET stock = -1 WHERE id = :id"), {"id": world.items["食盐"]}
            )
            db.session.commit()
        db.session.rollback()
