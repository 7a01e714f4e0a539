"""A county with two townships: A (two villages) and B (one), each village with a full season of data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from merit_bank.auth import services as auth_services
from merit_bank.auth.models import User
from merit_bank.extensions import db
from tests.factories import PASSWORD, auth, id_number, make_household, make_user, make_village, root_admin
from tests.shop.shop_helpers import award

MONTH = datetime.now(UTC).strftime("%Y-%m")


@dataclass
class Seeded:
    id: int
    code: str
    admin: int
    household: int
    household_code: str
    member: int
    rule: int
    claims: list[int]
    shop: int
    item: int
    redemption: int
    event: int
    transaction: int


@dataclass
class RegionWorld:
    app: Flask
    root: int
    county: int
    township_a: int
    township_b: int
    villages: dict[str, Seeded] = field(default_factory=dict)
    supervisor: int = 0
    supervisor_name: str = "xiangzhen_jijian"
    id_numbers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)

    def h(self, user_id: int) -> dict[str, str]:
        return auth(self.app, user_id)

    @property
    def in_scope(self) -> list[Seeded]:
        return [self.villages["a1"], self.villages["a2"]]

    @property
    def out_of_scope(self) -> Seeded:
        return self.villages["b1"]


def _ok(response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _seed_village(w: RegionWorld, client, key: str, township: int, n: int) -> Seeded:
    root = w.h(w.root)
    village = make_village(w.app, name=f"{key}村", code=f"RV{key.upper()}{n}")
    _ok(client.patch(f"/api/v1/villages/{village}", json={"region_id": township}, headers=root), 200)
    number = id_number(40 + n)
    phone = f"1380000{n:04d}"
    w.id_numbers.append(number)
    w.phones.append(phone)
    household = make_household(
        w.app,
        village,
        head_name=f"户主{key}",
        members=[
            {"name": f"户主{key}", "phone": phone, "id_number": number, "relation": "户主"},
            {"name": f"家属{key}", "relation": "配偶"},
        ],
    )
    admin = make_user(w.app, "admin", village)
    # A villager logs in with the phone number as username, as the roster's villagers do.
    villager = make_user(w.app, "villager", username=phone, member_id=household["member_ids"][0])
    award(w.app, village, household["id"], 100)
    rule = _ok(
        client.post(
            "/api/v1/rules",
            json={
                "code": f"R{key}",
                "name": "打扫卫生",
                "council": "volunteer",
                "points": 5,
                "unit": "each",
                "needs_review": True,
                "notice_days": 0,
                "approvals_required": 1,
                "village_id": village,
            },
            headers=w.h(admin),
        )
    )["id"]
    claims = []
    for note in ("扫了村道", "清理了河沟"):
        claim = _ok(
            client.post(
                "/api/v1/claims",
                json={"household_id": household["id"], "rule_id": rule, "note": note},
                headers=w.h(villager),
            )
        )["id"]
        claims.append(claim)
    _ok(client.post(f"/api/v1/claims/{claims[0]}/approve", json={"comment": "属实"}, headers=w.h(admin)), 200)
    shop = _ok(client.post("/api/v1/shops", json={"village_id": village, "name": "积分超市"}, headers=root))[
        "id"
    ]
    item = _ok(
        client.post(
            f"/api/v1/shops/{shop}/items",
            json={"name": "大米", "unit": "袋", "price_points": 10, "stock": 20},
            headers=w.h(admin),
        )
    )["id"]
    redemption = _ok(
        client.post(
            "/api/v1/redemptions",
            json={
                "shop_id": shop,
                "household_id": household["id"],
                "lines": [{"item_id": item, "quantity": 1}],
            },
            headers={**w.h(admin), "Idempotency-Key": uuid.uuid4().hex},
        )
    )["id"]
    now = datetime.now(UTC)
    event = _ok(
        client.post(
            "/api/v1/events",
            json={
                "village_id": village,
                "title": "河道清理",
                "rule_id": rule,
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
            },
            headers=w.h(admin),
        )
    )["id"]
    history = _ok(client.get(f"/api/v1/households/{household['id']}/transactions", headers=root), 200)
    with w.app.app_context():
        from merit_bank.villages.models import Village

        code = db.session.get_one(Village, village).code
    return Seeded(
        id=village,
        code=code,
        admin=admin,
        household=household["id"],
        household_code=household["code"],
        member=household["member_ids"][0],
        rule=rule,
        claims=claims,
        shop=shop,
        item=item,
        redemption=redemption,
        event=event,
        transaction=history["items"][0]["id"],
    )


def make_region_world(app: Flask, client) -> RegionWorld:
    root_id = root_admin(app)
    root = auth(app, root_id)
    county = _ok(client.post("/api/v1/regions", json={"name": "清河县", "kind": "county"}, headers=root))[
        "id"
    ]
    towns = [
        _ok(
            client.post(
                "/api/v1/regions", json={"name": n, "kind": "township", "parent_id": county}, headers=root
            )
        )
        for n in ("东湖镇", "西山乡")
    ]
    w = RegionWorld(app, root_id, county, towns[0]["id"], towns[1]["id"])
    for n, (key, township) in enumerate((("a1", w.township_a), ("a2", w.township_a), ("b1", w.township_b))):
        w.villages[key] = _seed_village(w, client, key, township, n + 1)
    with app.app_context():
        admin = db.session.get_one(User, root_id)
        w.supervisor = auth_services.create_user(
            admin,
            {
                "username": w.supervisor_name,
                "password": PASSWORD,
                "role": "supervisor",
                "region_id": w.township_a,
                "display_name": "东湖镇纪委 李监督",
            },
        ).id
    return w
