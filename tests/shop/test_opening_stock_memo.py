"""The memo of an item's opening stock is kept in the village's language, whoever or whatever wrote it
(the demo's seed runs from the command line, where requests' language does not reach)."""

from __future__ import annotations

from sqlalchemy import select

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.shop import services
from merit_bank.shop.models import StockMovement
from tests.factories import make_shop, make_user, make_village


def test_the_opening_stock_memo_is_chinese_from_the_command_line_and_from_an_english_page(app):
    village = make_village(app)
    shop = make_shop(app, village)
    keeper = make_user(app, "shopkeeper", village, shop_id=shop)
    item = {"name": "大米", "unit": "袋", "price_points": 30, "stock": 40}
    with app.app_context():  # as `seed-demo` runs: no request
        services.create_item(db.session.get(User, keeper), shop, item)
    with app.test_request_context("/?lang=en"):
        services.create_item(db.session.get(User, keeper), shop, {**item, "name": "食用油"})
    with app.app_context():
        notes = db.session.scalars(select(StockMovement.note).where(StockMovement.kind == "opening")).all()
    assert notes == ["初始库存", "初始库存"]
