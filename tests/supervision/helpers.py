"""Builders for the supervision tests: villages whose claims, ledger and shop were worked at chosen moments.

Everything goes through the real services (claims, ledger, shop); only the clocks are set, so that a claim
is approved seconds after filing, or at night, or a void follows its redemption within minutes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask

import merit_bank.clock as clock_module
from merit_bank.auth import services as auth_services
from merit_bank.auth.models import User
from merit_bank.claims import services as claim_services
from merit_bank.database import utcnow
from merit_bank.extensions import db
from merit_bank.ledger import actions as ledger_actions
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger import services as ledger
from merit_bank.rules import services as rule_services
from merit_bank.shop import months as shop_months
from merit_bank.shop import services as shop_services
from merit_bank.villages.models import Region, Village
from tests.factories import PASSWORD, auth, make_household, make_user, make_village, make_villager, root_admin

SHANGHAI = ZoneInfo("Asia/Shanghai")
_keys = itertools.count(1)


class Clock:
    """Stands in for utcnow in the claims, ledger and shop services and for the local calendar."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
        """Move to a local wall-clock time (never backwards: a village's chain only runs forward)."""
        moment = datetime.combine(day, time(hour, minute, second), SHANGHAI).astimezone(UTC)
        assert moment >= self.now, "the clock only moves forward"
        self.now = moment
        return moment

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def install_clock(monkeypatch) -> tuple[Clock, date]:
    """A clock standing at local midnight ten days ago; returns it and that day (the test's first day)."""
    start_day = datetime.now(SHANGHAI).date() - timedelta(days=10)
    clock = Clock(datetime.combine(start_day, time(0, 0), SHANGHAI).astimezone(UTC))
    monkeypatch.setattr(claim_services, "utcnow", clock)
    monkeypatch.setattr(ledger_posting, "utcnow", clock)
    monkeypatch.setattr(shop_months, "clock", clock)
    monkeypatch.setattr(clock_module, "utcnow", clock)
    return clock, start_day


@dataclass
class V:
    """One village: its admin, clerks, households (dicts from make_household), a rule, a shop."""

    app: Flask
    id: int
    admin: int
    clerks: list[int]
    households: list[dict[str, Any]]
    rule: int
    shop: int = 0
    shopkeeper: int = 0
    items: list[int] = field(default_factory=list)
    villagers: dict[int, int] = field(default_factory=dict)

    def villager(self, household: int) -> int:
        """The household's villager login (its second member: the first may be a clerk's own login)."""
        if household not in self.villagers:
            self.villagers[household] = make_villager(self.app, self.households[household], 1)
        return self.villagers[household]

    # --- claims ---

    def file(self, household: int, by: int | None = None, **extra: Any) -> int:
        """A claim filed by `by`, or by the household's own villager."""
        filer = by or self.villager(household)
        with self.app.app_context():
            claim = claim_services.create_claim(
                _user(filer),
                {"household_id": self.households[household]["id"], "rule_id": self.rule, **extra},
            )
            return claim.id

    def approve(self, claim_id: int, by: int) -> str:
        with self.app.app_context():
            return claim_services.approve_claim(_user(by), claim_id).status

    def claim_approved(
        self, household: int, by: int, *, filed_by: int | None = None, wait: float = 3600
    ) -> int:
        """File a claim (as the villager, or `filed_by`); `by` approves it `wait` seconds later."""
        claim_id = self.file(household, by=filed_by)
        clock = claim_services.utcnow
        clock.tick(wait)  # type: ignore[attr-defined]
        assert self.approve(claim_id, by) == "posted"
        return claim_id

    # --- ledger and shop ---

    def award(self, household: int, points: int) -> int:
        with self.app.app_context():
            tx = ledger.award(
                village_id=self.id,
                household_id=self.households[household]["id"],
                council="volunteer",
                points=points,
                idempotency_key=f"sv:{next(_keys)}",
                actor_id=self.admin,
            )
            return tx.id

    def adjust(self, household: int, points: int, by: int | None = None) -> int:
        key = f"adj:{next(_keys)}"
        with self.app.app_context():
            tx = ledger_actions.adjust(
                _user(by or self.admin),
                village_id=self.id,
                household_id=self.households[household]["id"],
                points=points,
                key=lambda: (key, None),
                memo="更正",
            )
            return tx.id

    def redeem(self, household: int, by: int | None = None) -> int:
        with self.app.app_context():
            result = shop_services.redeem(
                _user(by or self.shopkeeper),
                shop_id=self.shop,
                lines=[{"item_id": self.items[0], "quantity": 1}],
                idempotency_key=f"r:{next(_keys)}",
                household_id=self.households[household]["id"],
            )
            return result.redemption.id

    def void(self, redemption_id: int, by: int | None = None) -> None:
        with self.app.app_context():
            shop_services.void_redemption(_user(by or self.shopkeeper), redemption_id, "退货")


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def make_v(
    app: Flask,
    name: str,
    *,
    households: int = 8,
    clerks: int = 2,
    staff_households: dict[int, int] | None = None,
    shop: bool = False,
) -> V:
    """A village with an admin, clerks (every council), households and a reviewed volunteer rule.

    `staff_households` links clerk n to household m ({n: m}): that clerk's family.
    """
    village = make_village(app, name)
    made = [make_household(app, village, f"{name}户{n}") for n in range(households)]
    admin = make_user(app, "admin", village)
    links = staff_households or {}
    clerk_ids = [
        make_user(app, "clerk", village, member_id=made[links[n]]["member_ids"][0] if n in links else None)
        for n in range(clerks)
    ]
    with app.app_context():
        rule = rule_services.create_rule(
            _user(admin),
            {
                "village_id": village,
                "code": f"R{village}",
                "name": "志愿服务",
                "council": "volunteer",
                "points": 10,
                "needs_review": True,
                "notice_days": 0,
                "approvals_required": 1,
            },
        ).id
    v = V(app=app, id=village, admin=admin, clerks=clerk_ids, households=made, rule=rule)
    if shop:
        with app.app_context():
            created = shop_services.create_shop(_user(admin), {"village_id": village, "name": "积分超市"})
            v.shop = created.id
            item = shop_services.create_item(
                _user(admin), v.shop, {"name": "大米", "unit": "袋", "price_points": 5, "stock": 100}
            )
            v.items = [item.id]
        v.shopkeeper = make_user(app, "shopkeeper", village, shop_id=v.shop)
    return v


def make_township(app: Flask, name: str, village_ids: list[int]) -> int:
    """A township holding some villages (rows made directly: the regions' services live on another branch)."""
    with app.app_context():
        region = Region(name=name, kind="township")
        db.session.add(region)
        db.session.flush()
        for village_id in village_ids:
            db.session.get_one(Village, village_id).region_id = region.id
        db.session.commit()
        return region.id


def make_supervisor(app: Flask, region_id: int, username: str | None = None) -> int:
    """A supervisor of a region (made directly, like the region itself, until the role's service lands)."""
    with app.app_context():
        user = User(
            username=username or f"sup{next(_keys)}",
            password_hash=auth_services.hash_password(PASSWORD),
            role="supervisor",
            region_id=region_id,
            created_at=utcnow(),
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def flags(client, app: Flask, period: tuple[date, date], village_id: int | None = None, **args: Any):
    root = root_admin(app)
    query = {"from": period[0].isoformat(), "to": period[1].isoformat(), **args}
    if village_id is not None:
        query["village_id"] = village_id
    response = client.get("/api/v1/supervision/flags", query_string=query, headers=auth(app, root))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def codes(items: list[dict[str, Any]]) -> set[str]:
    return {item["code"] for item in items}
