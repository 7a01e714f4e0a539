"""Builders for the shop tests: a village with a shop, goods, staff and households with points."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.shop import services as shop_services
from merit_bank.villages.models import Village
from tests.factories import PASSWORD, auth, make_household, make_user, make_village, make_villager, root_admin


@dataclass
class ShopWorld:
    app: Flask
    village_id: int
    shop_id: int
    admin_id: int
    shopkeeper_id: int
    items: dict[str, int] = field(default_factory=dict)
    households: list[dict[str, Any]] = field(default_factory=list)

    def headers(self, user_id: int) -> dict[str, str]:
        return auth(self.app, user_id)

    @property
    def keeper(self) -> dict[str, str]:
        return auth(self.app, self.shopkeeper_id)

    @property
    def admin(self) -> dict[str, str]:
        return auth(self.app, self.admin_id)


def award(app: Flask, village_id: int, household_id: int, points: int) -> None:
    with app.app_context():
        ledger.award(
            village_id=village_id,
            household_id=household_id,
            council="volunteer",
            points=points,
            idempotency_key=f"test-award:{uuid.uuid4().hex}",
            actor_id=None,
        )


def build_world(
    app: Flask,
    *,
    households: int = 2,
    points: int = 200,
    goods: list[tuple[str, str, int, int, int | None]] | None = None,
    point_value_fen: int = 10,
) -> ShopWorld:
    """A village with a shop (made through the service, so it has its ledger account) and goods."""
    village_id = make_village(app, "幸福村")
    with app.app_context():
        village = db.session.get(Village, village_id)
        village.point_value_fen = point_value_fen
        db.session.commit()
        root = db.session.get(User, root_admin(app))
        shop = shop_services.create_shop(root, {"village_id": village_id, "name": "幸福超市"})
        shop_id = shop.id
    admin_id = make_user(app, "admin", village_id)
    keeper_id = make_user(
        app, "shopkeeper", village_id, shop_id=shop_id, username=f"keeper{shop_id}x{village_id}"
    )
    world = ShopWorld(app, village_id, shop_id, admin_id, keeper_id)
    goods = (
        goods
        if goods is not None
        else [
            ("大米", "袋", 30, 40, 2),
            ("食用油", "桶", 50, 5, None),
            ("食盐", "袋", 5, 100, None),
        ]
    )
    with app.app_context():
        keeper = db.session.get(User, keeper_id)
        for name, unit, price, stock, limit in goods:
            item = shop_services.create_item(
                keeper,
                shop_id,
                {"name": name, "unit": unit, "price_points": price, "stock": stock, "monthly_limit": limit},
            )
            world.items[name] = item.id
    for n in range(households):
        household = make_household(app, village_id, head_name=f"户主{n}")
        if points:
            award(app, village_id, household["id"], points)
        world.households.append(household)
    return world


def redeem(client, headers, body: dict[str, Any], key: str | None = None):
    extra = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post("/api/v1/redemptions", headers={**headers, **extra}, json=body)


def balance(app: Flask, household_id: int) -> int:
    with app.app_context():
        return ledger.household_balance(household_id)


def stock(app: Flask, item_id: int) -> int:
    with app.app_context():
        from merit_bank.shop.models import ShopItem

        return db.session.get(ShopItem, item_id).stock


def villager_of(app: Flask, household: dict[str, Any]) -> int:
    return make_villager(app, household, username=f"v{household['id']}-{uuid.uuid4().hex[:6]}")


class FixedClock:
    """A clock the test moves by hand (replaces merit_bank.shop.months.clock)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def csrf(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def web_login(client, username: str, password: str = PASSWORD) -> None:
    token = csrf(client, "/login")
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
