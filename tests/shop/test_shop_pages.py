"""The shop's HTML pages: counter, stock forms, receipts, voids, settlement, the villager's catalogue."""

from __future__ import annotations

import io
import re

from PIL import Image

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.shop import services as shop_services
from tests.factories import PIN
from tests.shop.shop_helpers import balance, build_world, csrf, redeem, stock, villager_of, web_login


def _username(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).username


def _keeper_session(app, world):
    client = app.test_client()
    web_login(client, _username(app, world.shopkeeper_id))
    return client


def test_the_shopkeeper_lands_on_the_counter_with_the_goods(app):
    world = build_world(app)
    client = _keeper_session(app, world)
    response = client.get("/shop/")
    assert response.status_code == 302 and response.location.endswith(f"/shop/{world.shop_id}/counter")
    page = client.get(f"/shop/{world.shop_id}/counter").get_data(as_text=True)
    assert "大米" in page and 'id="catalogue"' in page and "vendor/jsqr/jsQR.js" in page
    home = client.get("/").get_data(as_text=True)
    assert f"/shop/{world.shop_id}/stock" in home and f"/shop/{world.shop_id}/settlement" in home


def test_stock_forms_add_restock_count_and_edit(app):
    world = build_world(app, households=0)
    client = _keeper_session(app, world)
    url = f"/shop/{world.shop_id}/stock"
    token = csrf(client, url)
    created = client.post(
        f"/shop/{world.shop_id}/items",
        data={"csrf_token": token, "name": "毛巾", "unit": "条", "price_points": "12", "stock": "20"},
    )
    assert created.status_code == 302
    with app.app_context():
        towel = next(
            i
            for i in shop_services.list_items(db.session.get(User, world.shopkeeper_id), world.shop_id)
            if i.name == "毛巾"
        )
        towel_id = towel.id
    assert (
        client.post(
            f"/shop/{world.shop_id}/items/{towel_id}/restock", data={"csrf_token": token, "quantity": "5"}
        ).status_code
        == 302
    )
    missing_reason = client.post(
        f"/shop/{world.shop_id}/items/{towel_id}/stocktake", data={"csrf_token": token, "counted": "24"}
    )
    assert missing_reason.status_code == 422
    assert (
        client.post(
            f"/shop/{world.shop_id}/items/{towel_id}/stocktake",
            data={"csrf_token": token, "counted": "24", "reason": "少了一条"},
        ).status_code
        == 302
    )
    assert stock(app, towel_id) == 24
    edited = client.post(
        f"/shop/{world.shop_id}/items/{towel_id}/edit",
        data={
            "csrf_token": token,
            "name": "毛巾",
            "unit": "条",
            "price_points": "15",
            "monthly_limit": "2",
            "active": "1",
        },
    )
    assert edited.status_code == 302
    no_csrf = client.post(f"/shop/{world.shop_id}/items/{towel_id}/restock", data={"quantity": "5"})
    assert no_csrf.status_code == 400
    page = client.get(url).get_data(as_text=True)
    assert 'data-testid="stock-verified"' in page and "毛巾" in page
    history = client.get(f"/shop/{world.shop_id}/items/{towel_id}/movements").get_data(as_text=True)
    assert "少了一条" in history and "+5" in history


def test_an_item_photo_is_stored_as_a_small_jpeg(app):
    world = build_world(app, households=0)
    client = _keeper_session(app, world)
    token = csrf(client, f"/shop/{world.shop_id}/stock")
    picture = io.BytesIO()
    Image.new("RGB", (2000, 1000), (200, 30, 30)).save(picture, "PNG")
    picture.seek(0)
    item = world.items["大米"]
    response = client.post(
        f"/shop/{world.shop_id}/items/{item}/photo",
        data={"csrf_token": token, "photo": (picture, "../../evil.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    listed = client.get(f"/api/v1/shops/{world.shop_id}/items").get_json()
    url = next(i["photo_url"] for i in listed["items"] if i["id"] == item)
    assert url and "evil" not in url
    photo = client.get(url)
    assert photo.status_code == 200
    assert Image.open(io.BytesIO(photo.get_data())).size == (800, 400)
    junk = client.post(
        f"/shop/{world.shop_id}/items/{item}/photo",
        data={"csrf_token": token, "photo": (io.BytesIO(b"not a picture"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert junk.status_code == 422


def test_receipt_void_and_redemptions_pages(app):
    world = build_world(app)
    household = world.households[0]
    r = redeem(
        app.test_client(),
        world.keeper,
        {
            "shop_id": world.shop_id,
            "household_id": household["id"],
            "lines": [{"item_id": world.items["大米"], "quantity": 1}],
        },
    ).get_json()
    client = _keeper_session(app, world)
    receipt = client.get(f"/shop/receipts/{r['id']}").get_data(as_text=True)
    assert r["receipt_no"] in receipt and "户主0" in receipt and 'data-testid="balance-after">170<' in receipt
    listing = client.get(f"/shop/{world.shop_id}/redemptions").get_data(as_text=True)
    assert r["receipt_no"] in listing
    token = csrf(client, f"/shop/receipts/{r['id']}")
    assert (
        client.post(
            f"/shop/redemptions/{r['id']}/void", data={"csrf_token": token, "reason": "退货"}
        ).status_code
        == 302
    )
    assert balance(app, household["id"]) == 200
    voided = client.get(f"/shop/receipts/{r['id']}").get_data(as_text=True)
    assert 'data-testid="voided"' in voided
    again = client.post(f"/shop/redemptions/{r['id']}/void", data={"csrf_token": token, "reason": "再退"})
    assert again.status_code == 409


def test_settlement_page_and_downloads(app):
    world = build_world(app)
    redeem(
        app.test_client(),
        world.keeper,
        {
            "shop_id": world.shop_id,
            "household_id": world.households[0]["id"],
            "lines": [{"item_id": world.items["食盐"], "quantity": 2}],
        },
    )
    client = _keeper_session(app, world)
    page = client.get(f"/shop/{world.shop_id}/settlement").get_data(as_text=True)
    assert 'data-testid="total-points">10<' in page and "¥1.00" in page
    month = re.search(r'<option value="(\d{4}-\d{2})" selected', page).group(1)
    csv_file = client.get(f"/shop/{world.shop_id}/settlement.csv?month={month}")
    assert csv_file.status_code == 200 and csv_file.get_data().startswith(b"\xef\xbb\xbf")
    xlsx = client.get(f"/shop/{world.shop_id}/settlement.xlsx?month={month}")
    assert xlsx.get_data()[:2] == b"PK"


def test_the_villager_sees_the_catalogue_balance_and_recent_receipts(app):
    world = build_world(app)
    household = world.households[0]
    r = redeem(
        app.test_client(),
        world.keeper,
        {
            "shop_id": world.shop_id,
            "household_id": household["id"],
            "lines": [{"item_id": world.items["大米"], "quantity": 1}],
        },
    ).get_json()
    client = app.test_client()
    web_login(client, _username(app, villager_of(app, household)), PIN)
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="shop-section"' in home
    assert f"/shop/receipts/{r['id']}" in home and f"/shop/{world.shop_id}/catalogue" in home
    catalogue = client.get(f"/shop/{world.shop_id}/catalogue?lang=en").get_data(as_text=True)
    assert 'data-testid="balance">170<' in catalogue and "食用油" in catalogue
    assert "(1 left this month)" in catalogue
    assert client.get(f"/shop/receipts/{r['id']}").status_code == 200
    assert client.get(f"/shop/{world.shop_id}/counter").status_code == 403
    assert client.get(f"/shop/{world.shop_id}/stock").status_code == 403
