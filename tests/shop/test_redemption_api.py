"""Redemption at the counter: all or nothing with the ledger, idempotent, limited per household and month."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from merit_bank.ledger import services as ledger
from merit_bank.shop import months as shop_months
from merit_bank.shop import services as shop_services
from merit_bank.shop.models import Redemption, StockMovement
from tests.factories import auth, make_household, make_village
from tests.shop.shop_helpers import FixedClock, balance, build_world, redeem, stock, villager_of


def _body(world, household, **lines):
    return {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [{"item_id": world.items[name], "quantity": q} for name, q in lines.items()],
    }


def test_a_redemption_moves_points_to_the_shop_and_goods_off_the_shelf(app, client):
    world = build_world(app)
    household = world.households[0]
    response = redeem(client, world.keeper, _body(world, household, 大米=2, 食盐=3), key="cart-1")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["household_id"] == household["id"]
    assert body["total_points"] == 2 * 30 + 3 * 5 == 75
    assert body["balance_after"] == 200 - 75
    assert [(line["name"], line["quantity"], line["points"]) for line in body["lines"]] == [
        ("大米", 2, 60),
        ("食盐", 3, 15),
    ]
    assert body["receipt_no"] and body["receipt_url"].endswith(f"/shop/receipts/{body['id']}")
    assert balance(app, household["id"]) == 125
    assert stock(app, world.items["大米"]) == 38 and stock(app, world.items["食盐"]) == 97
    with app.app_context():
        assert ledger.shop_balance(world.shop_id) == 75
        tx = ledger.transaction_by_key(f"redeem:{world.shopkeeper_id}:cart-1")
        assert tx is not None and tx.kind == "redemption"
        assert "大米×2" in tx.memo
        assert ledger.verify()["ok"] is True
        assert shop_services.verify_stock(world.shop_id)["ok"] is True
    fetched = client.get(f"/api/v1/redemptions/{body['id']}", headers=world.keeper).json
    assert fetched["status"] == "completed" and fetched["void"] is None


def test_a_scanned_card_identifies_the_household(app, client):
    world = build_world(app)
    household = world.households[1]
    with app.app_context():
        token = household_services.card_token(db.session.get(Household, household["id"]))
    body = {
        "shop_id": world.shop_id,
        "card_token": token,
        "lines": [{"item_id": world.items["食盐"], "quantity": 1}],
    }
    response = redeem(client, world.keeper, body)
    assert response.status_code == 201 and response.json["household_id"] == household["id"]
    forged = dict(body, card_token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    bad = redeem(client, world.keeper, forged)
    assert bad.status_code == 400 and bad.json["type"] == "invalid-token"
    both = dict(body, household_id=household["id"])
    assert redeem(client, world.keeper, both).status_code == 422
    lookup = client.post(
        f"/api/v1/shops/{world.shop_id}/customers/lookup", headers=world.keeper, json={"card_token": token}
    )
    assert lookup.status_code == 200
    assert lookup.json["household_id"] == household["id"] and lookup.json["balance"] == 195
    assert lookup.json["limits"] == [{"item_id": world.items["大米"], "limit": 2, "used": 0, "remaining": 2}]
    by_code = client.post(
        f"/api/v1/shops/{world.shop_id}/customers/lookup",
        headers=world.keeper,
        json={"code": household["code"]},
    )
    assert by_code.json["household_id"] == household["id"]


def test_households_of_another_village_cannot_redeem_here(app, client):
    world = build_world(app)
    elsewhere = make_village(app, "远村")
    stranger = make_household(app, elsewhere)
    with app.app_context():
        token = household_services.card_token(db.session.get(Household, stranger["id"]))
    by_id = redeem(client, world.keeper, _body(world, stranger, 食盐=1))
    assert by_id.status_code == 404
    by_card = redeem(
        client,
        world.keeper,
        {
            "shop_id": world.shop_id,
            "card_token": token,
            "lines": [{"item_id": world.items["食盐"], "quantity": 1}],
        },
    )
    assert by_card.status_code == 404


def test_idempotency_key_is_required_and_replays_the_first_response(app, client):
    world = build_world(app)
    household = world.households[0]
    body = _body(world, household, 食用油=1)
    missing = client.post("/api/v1/redemptions", headers=world.keeper, json=body)
    assert missing.status_code == 400 and missing.json["type"] == "idempotency-key-required"
    too_long = redeem(client, world.keeper, body, key="k" * 101)
    assert too_long.status_code == 422
    first = redeem(client, world.keeper, body, key="same")
    again = redeem(client, world.keeper, body, key="same")
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    other = redeem(client, world.keeper, _body(world, household, 食用油=2), key="same")
    assert other.status_code == 422 and other.json["type"] == "idempotency-key-reused"
    assert balance(app, household["id"]) == 150
    assert stock(app, world.items["食用油"]) == 4
    with app.app_context():
        assert db.session.query(Redemption).count() == 1
    # the key belongs to the user who sent it: another counter may use the same string
    admin = redeem(client, world.admin, body, key="same")
    assert admin.status_code == 201 and admin.json["id"] != first.json["id"]


def test_validation_of_a_redemption(app, client):
    world = build_world(app)
    household = world.households[0]
    rice = world.items["大米"]
    for lines in (
        [],
        [{"item_id": rice, "quantity": 0}],
        [{"item_id": rice, "quantity": 10**9}],
        [{"item_id": rice, "quantity": 1}, {"item_id": rice, "quantity": 1}],
        [{"item_id": 999999, "quantity": 1}],
        [{"item_id": rice, "quantity": 1, "price": 0}],
    ):
        response = redeem(
            client, world.keeper, {"shop_id": world.shop_id, "household_id": household["id"], "lines": lines}
        )
        assert response.status_code == 422, lines
    assert balance(app, household["id"]) == 200


@pytest.mark.parametrize(
    ("cart", "code"),
    [
        ({"大米": 1, "食用油": 6}, "out-of-stock"),  # oil has 5
        ({"食盐": 2, "大米": 3}, "limit-reached"),  # rice: at most 2 a month
        ({"食盐": 1, "食用油": 4}, "insufficient-balance"),  # 205 > 200
    ],
)
def test_a_mixed_cart_is_all_or_nothing(app, client, cart, code):
    world = build_world(app)
    household = world.households[0]
    before = {name: stock(app, item) for name, item in world.items.items()}
    response = redeem(client, world.keeper, _body(world, household, **cart))
    assert response.status_code == 409, response.json
    assert response.json["type"] == code
    if code == "insufficient-balance":
        assert response.json["balance"] == 200 and response.json["required"] == 205
    else:
        [failed] = response.json["lines"]
        assert failed["item_id"] in (world.items["食用油"], world.items["大米"])
        assert failed["requested"] in (3, 6)
    assert balance(app, household["id"]) == 200
    assert {name: stock(app, item) for name, item in world.items.items()} == before
    with app.app_context():
        assert db.session.query(Redemption).count() == 0
        assert db.session.query(StockMovement).filter_by(kind="redemption").count() == 0
        assert ledger.shop_balance(world.shop_id) == 0


def test_an_inactive_item_or_closed_shop_cannot_be_redeemed(app, client):
    world = build_world(app)
    household = world.households[0]
    client.patch(
        f"/api/v1/shops/{world.shop_id}/items/{world.items['食盐']}",
        headers=world.keeper,
        json={"active": False},
    )
    response = redeem(client, world.keeper, _body(world, household, 食盐=1))
    assert response.status_code == 409 and response.json["type"] == "item-inactive"
    client.patch(f"/api/v1/shops/{world.shop_id}", headers=world.admin, json={"active": False})
    closed = redeem(client, world.keeper, _body(world, household, 大米=1))
    assert closed.status_code == 409 and closed.json["type"] == "shop-closed"


def test_villagers_and_clerks_cannot_redeem(app, client):
    world = build_world(app)
    household = world.households[0]
    villager = auth(app, villager_of(app, household))
    assert redeem(client, villager, _body(world, household, 食盐=1)).status_code == 403
    assert balance(app, household["id"]) == 200


def test_monthly_limits_reset_at_midnight_shanghai_on_the_first(app, client, monkeypatch):
    world = build_world(app)
    household = world.households[0]
    clock = FixedClock(datetime(2026, 1, 31, 15, 30, tzinfo=UTC))  # 23:30 on 31 Jan in Shanghai
    monkeypatch.setattr(shop_months, "clock", clock)
    assert redeem(client, world.keeper, _body(world, household, 大米=2)).status_code == 201
    over = redeem(client, world.keeper, _body(world, household, 大米=1))
    assert over.status_code == 409 and over.json["type"] == "limit-reached"
    assert over.json["lines"][0] | {"name": None} == {
        "item_id": world.items["大米"],
        "name": None,
        "requested": 1,
        "used": 2,
        "limit": 2,
        "remaining": 0,
    }
    assert over.json["month"] == "2026-01"
    # 16:30 UTC on the same UTC day is already 1 February in Shanghai: a new month, a new limit
    clock.moment = datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
    response = redeem(client, world.keeper, _body(world, household, 大米=2))
    assert response.status_code == 201 and response.json["month"] == "2026-02"
    assert redeem(client, world.keeper, _body(world, household, 大米=1)).json["type"] == "limit-reached"
    # another household has its own limit
    assert redeem(client, world.keeper, _body(world, world.households[1], 大米=2)).status_code == 201


def test_a_voided_redemption_no_longer_counts_against_the_limit(app, client):
    world = build_world(app)
    household = world.households[0]
    first = redeem(client, world.keeper, _body(world, household, 大米=2)).json
    assert redeem(client, world.keeper, _body(world, household, 大米=1)).status_code == 409
    client.post(f"/api/v1/redemptions/{first['id']}/void", headers=world.keeper, json={"reason": "拿错了"})
    assert redeem(client, world.keeper, _body(world, household, 大米=1)).status_code == 201


def test_lists_of_redemptions_by_shop_and_time(app, client, monkeypatch):
    world = build_world(app)
    clock = FixedClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    monkeypatch.setattr(shop_months, "clock", clock)
    a = redeem(client, world.keeper, _body(world, world.households[0], 食盐=1)).json
    clock.moment = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    b = redeem(client, world.keeper, _body(world, world.households[1], 食盐=2)).json
    url = f"/api/v1/redemptions?shop_id={world.shop_id}"
    everything = client.get(url, headers=world.keeper).json
    assert [r["id"] for r in everything["items"]] == [b["id"], a["id"]]
    day_one = client.get(
        f"{url}&from=2026-03-01T00:00:00%2B08:00&to=2026-03-02T00:00:00%2B08:00", headers=world.keeper
    )
    assert [r["id"] for r in day_one.json["items"]] == [a["id"]]
    villager = auth(app, villager_of(app, world.households[0]))
    own = client.get("/api/v1/redemptions", headers=villager).json
    assert [r["id"] for r in own["items"]] == [a["id"]]
    assert client.get(f"/api/v1/redemptions/{b['id']}", headers=villager).status_code == 404
    assert client.get(f"/api/v1/redemptions/{a['id']}", headers=villager).status_code == 200
    other_village = make_village(app, "别村")
    from tests.factories import make_shop, make_user

    other_keeper = auth(
        app, make_user(app, "shopkeeper", other_village, shop_id=make_shop(app, other_village))
    )
    assert client.get(url, headers=other_keeper).status_code == 404
    assert client.get("/api/v1/redemptions", headers=other_keeper).json["items"] == []
    assert client.get(f"/api/v1/redemptions/{a['id']}", headers=other_keeper).status_code == 404


def test_no_malformed_request_gets_a_500(app, client):
    world = build_world(app, households=1)
    household = world.households[0]["id"]
    s = world.shop_id
    cases = [
        ("post", "/api/v1/redemptions", {"shop_id": s, "household_id": household, "lines": None}),
        ("post", "/api/v1/redemptions", {"shop_id": s, "household_id": household, "lines": "x"}),
        ("post", "/api/v1/redemptions", {"shop_id": 2**40, "household_id": household, "lines": []}),
        ("post", "/api/v1/redemptions", {"shop_id": s, "card_token": "x" * 5000, "lines": []}),
        ("post", "/api/v1/redemptions", {"shop_id": s, "card_token": "H1.1.ABC", "lines": [{"item_id": 1}]}),
        ("post", "/api/v1/redemptions", [1, 2, 3]),
        ("post", "/api/v1/redemptions/1/void", {"reason": "x" * 1000}),
        ("post", "/api/v1/redemptions/999999/void", {"reason": "x"}),
        ("post", f"/api/v1/shops/{s}/customers/lookup", {}),
        ("post", f"/api/v1/shops/{s}/customers/lookup", {"code": "ZZZZZZ"}),
        ("post", f"/api/v1/shops/{s}/customers/lookup", {"card_token": "garbage"}),
        ("get", f"/api/v1/shops/{s}/settlement?month=2026-13", None),
        ("get", f"/api/v1/shops/{s}/settlement?month=99999-01", None),
        ("get", f"/api/v1/shops/{s}/settlement", None),
        ("get", f"/api/v1/redemptions?shop_id={s}&from=yesterday", None),
        ("get", f"/api/v1/redemptions?shop_id={2**40}", None),
        ("post", f"/api/v1/shops/{s}/settlement/close", {"month": "soon"}),
        ("patch", f"/api/v1/shops/{s}/items/999999", {"price_points": 3}),
        (
            "post",
            f"/api/v1/shops/{s}/items/{world.items['大米']}/stocktake",
            {"counted": 2**40, "reason": "x"},
        ),
    ]
    for method, url, body in cases:
        headers = {**world.keeper, "Idempotency-Key": "fuzz-" + url[-10:]}
        response = getattr(client, method)(url, headers=headers, json=body)
        assert 400 <= response.status_code < 500, (url, body, response.status_code, response.get_data()[:300])
        assert response.mimetype == "application/problem+json", (url, body)
    not_json = client.post(
        "/api/v1/redemptions",
        headers={**world.keeper, "Idempotency-Key": "k"},
        data="{",
        content_type="application/json",
    )
    assert not_json.status_code == 400


def test_a_shop_made_without_a_ledger_account_gets_one_at_its_first_redemption(app, client):
    from tests.factories import make_shop, make_user

    world = build_world(app, households=1)
    bare_shop = make_shop(app, world.village_id, "老超市")  # inserted directly, no ledger account yet
    keeper = auth(app, make_user(app, "shopkeeper", world.village_id, shop_id=bare_shop))
    item = client.post(
        f"/api/v1/shops/{bare_shop}/items",
        headers=keeper,
        json={"name": "醋", "unit": "瓶", "price_points": 7, "stock": 3},
    ).json
    body = {
        "shop_id": bare_shop,
        "household_id": world.households[0]["id"],
        "lines": [{"item_id": item["id"], "quantity": 2}],
    }
    response = redeem(client, keeper, body)
    assert response.status_code == 201, response.json
    with app.app_context():
        assert ledger.shop_balance(bare_shop) == 14
        assert ledger.verify()["ok"] is True
