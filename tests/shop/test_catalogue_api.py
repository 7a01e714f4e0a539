"""Shops and their catalogue: who may create, change and read what; stock by movements only."""

from __future__ import annotations

from merit_bank.extensions import db
from merit_bank.shop.models import StockMovement
from tests.factories import auth, make_household, make_shop, make_user, make_village
from tests.shop.shop_helpers import build_world, villager_of


def test_an_admin_opens_a_shop_with_its_ledger_account(app, client):
    village = make_village(app)
    admin = make_user(app, "admin", village)
    response = client.post(
        "/api/v1/shops", headers=auth(app, admin), json={"village_id": village, "name": "超市"}
    )
    assert response.status_code == 201, response.json
    assert response.json["village_id"] == village and response.json["active"] is True
    with app.app_context():
        from merit_bank.ledger.models import Account

        account = db.session.query(Account).filter_by(shop_id=response.json["id"]).one()
        assert account.kind == "shop" and account.village_id == village


def test_only_admins_in_scope_open_shops(app, client):
    village = make_village(app)
    other = make_village(app, "别村")
    other_admin = make_user(app, "admin", other)
    clerk = make_user(app, "clerk", village)
    body = {"village_id": village, "name": "超市"}
    assert client.post("/api/v1/shops", headers=auth(app, other_admin), json=body).status_code == 404
    assert client.post("/api/v1/shops", headers=auth(app, clerk), json=body).status_code == 403


def test_items_are_created_with_an_opening_movement_and_listed(app, client):
    world = build_world(app, households=0)
    response = client.post(
        f"/api/v1/shops/{world.shop_id}/items",
        headers=world.keeper,
        json={"name": "毛巾", "unit": "条", "price_points": 12, "stock": 30, "monthly_limit": 3},
    )
    assert response.status_code == 201, response.json
    item = response.json
    assert item["stock"] == 30 and item["monthly_limit"] == 3 and item["photo_url"] is None
    listed = client.get(f"/api/v1/shops/{world.shop_id}/items", headers=world.keeper).json
    assert item["id"] in [i["id"] for i in listed["items"]] and listed["total"] == 4
    with app.app_context():
        moves = db.session.query(StockMovement).filter_by(item_id=item["id"]).all()
        assert [(m.kind, m.quantity, m.stock_after) for m in moves] == [("opening", 30, 30)]
    again = client.post(
        f"/api/v1/shops/{world.shop_id}/items",
        headers=world.keeper,
        json={"name": "毛巾", "unit": "条", "price_points": 12},
    )
    assert again.status_code == 409 and again.json["type"] == "duplicate-item"


def test_item_fields_are_bounded_and_strict(app, client):
    world = build_world(app, households=0)
    url = f"/api/v1/shops/{world.shop_id}/items"
    for body in (
        {"name": "x", "unit": "个", "price_points": 0},
        {"name": "x", "unit": "个", "price_points": 10**12},
        {"name": "x", "unit": "个", "price_points": 5, "stock": -1},
        {"name": "x" * 101, "unit": "个", "price_points": 5},
        {"name": "x", "unit": "个", "price_points": 5, "colour": "red"},
        {"name": "x", "unit": "个", "price_points": "5"},
    ):
        response = client.post(url, headers=world.keeper, json=body)
        assert response.status_code == 422, body
        assert response.json["type"] == "validation-error"


def test_patch_changes_details_but_never_stock(app, client):
    world = build_world(app, households=0)
    item = world.items["大米"]
    url = f"/api/v1/shops/{world.shop_id}/items/{item}"
    response = client.patch(url, headers=world.keeper, json={"price_points": 35, "monthly_limit": None})
    assert response.status_code == 200 and response.json["price_points"] == 35
    assert response.json["monthly_limit"] is None
    refused = client.patch(url, headers=world.keeper, json={"stock": 999})
    assert refused.status_code == 422 and "stock" in refused.json["errors"]
    off = client.patch(url, headers=world.keeper, json={"active": False})
    assert off.json["active"] is False


def test_restock_and_stocktake_move_stock_through_the_log(app, client):
    world = build_world(app, households=0)
    item = world.items["食用油"]
    base = f"/api/v1/shops/{world.shop_id}/items/{item}"
    restocked = client.post(f"{base}/restock", headers=world.keeper, json={"quantity": 10, "note": "送货"})
    assert restocked.status_code == 200 and restocked.json["stock"] == 15
    no_reason = client.post(f"{base}/stocktake", headers=world.keeper, json={"counted": 12})
    assert no_reason.status_code == 422
    counted = client.post(
        f"{base}/stocktake", headers=world.keeper, json={"counted": 12, "reason": "破损3桶"}
    )
    assert counted.status_code == 200 and counted.json["stock"] == 12
    negative = client.post(f"{base}/restock", headers=world.keeper, json={"quantity": -5})
    assert negative.status_code == 422
    log = client.get(f"{base}/movements", headers=world.keeper).json
    assert [(m["kind"], m["quantity"], m["stock_after"]) for m in log["items"]] == [
        ("stocktake", -3, 12),
        ("restock", 10, 15),
        ("opening", 5, 5),
    ]
    assert log["items"][0]["note"] == "破损3桶"
    verify = client.get(f"/api/v1/shops/{world.shop_id}/stock/verify", headers=world.keeper).json
    assert verify["ok"] is True and verify["items"] == 3


def test_shopkeepers_see_only_their_own_shop(app, client):
    world = build_world(app, households=0)
    other_shop = make_shop(app, world.village_id, "二号超市")
    other_keeper = make_user(app, "shopkeeper", world.village_id, shop_id=other_shop)
    headers = auth(app, other_keeper)
    item = world.items["大米"]
    assert client.get(f"/api/v1/shops/{world.shop_id}/items", headers=headers).status_code == 404
    assert client.get(f"/api/v1/shops/{world.shop_id}", headers=headers).status_code == 404
    response = client.post(
        f"/api/v1/shops/{world.shop_id}/items/{item}/restock", headers=headers, json={"quantity": 1}
    )
    assert response.status_code == 404
    response = client.patch(
        f"/api/v1/shops/{world.shop_id}/items/{item}", headers=headers, json={"price_points": 1}
    )
    assert response.status_code == 404
    assert (
        client.get(f"/api/v1/shops/{world.shop_id}/settlement?month=2026-01", headers=headers).status_code
        == 404
    )
    listed = client.get("/api/v1/shops", headers=headers).json
    assert [s["id"] for s in listed["items"]] == [other_shop]


def test_villagers_read_the_catalogue_of_their_own_village_only(app, client):
    world = build_world(app, households=1)
    villager = auth(app, villager_of(app, world.households[0]))
    client.patch(
        f"/api/v1/shops/{world.shop_id}/items/{world.items['食盐']}",
        headers=world.keeper,
        json={"active": False},
    )
    listed = client.get(f"/api/v1/shops/{world.shop_id}/items", headers=villager)
    assert listed.status_code == 200
    assert sorted(i["name"] for i in listed.json["items"]) == sorted(["大米", "食用油"])
    assert (
        client.get(f"/api/v1/shops/{world.shop_id}/items/{world.items['食盐']}", headers=villager).status_code
        == 404
    )
    # but may not change anything
    response = client.post(
        f"/api/v1/shops/{world.shop_id}/items",
        headers=villager,
        json={"name": "a", "unit": "b", "price_points": 1},
    )
    assert response.status_code == 404
    stranger_village = make_village(app, "远村")
    stranger = auth(app, villager_of(app, make_household(app, stranger_village)))
    assert client.get(f"/api/v1/shops/{world.shop_id}/items", headers=stranger).status_code == 404
    assert client.get("/api/v1/shops", headers=stranger).json["items"] == []
