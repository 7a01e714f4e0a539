"""Builders shared by the claims tests (through the real services and API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from merit_bank.claims.models import Claim
from merit_bank.database import utcnow
from merit_bank.extensions import db
from tests.factories import auth, make_household, make_user, make_village, make_villager, root_admin


@dataclass
class World:
    app: Flask
    village: int
    other_village: int
    households: list[dict[str, Any]]
    villagers: list[int]
    admin: int
    clerk: int  # every council
    clerk2: int  # every council
    volunteer_clerk: int  # the volunteer council only
    other_villager: int  # a villager of the other village
    other_admin: int  # an admin of the other village
    rules: dict[str, int] = field(default_factory=dict)

    def h(self, user_id: int) -> dict[str, str]:
        return auth(self.app, user_id)


def make_world(app: Flask) -> World:
    village = make_village(app, "幸福村", groups=("一组",))
    other = make_village(app, "邻村", groups=("一组",))
    households = [make_household(app, village, name) for name in ("王建国", "李德明", "张志强")]
    villagers = [make_villager(app, h) for h in households]
    other_household = make_household(app, other, "赵六")
    world = World(
        app=app,
        village=village,
        other_village=other,
        households=households,
        villagers=villagers,
        admin=make_user(app, "admin", village),
        clerk=make_user(app, "clerk", village),
        clerk2=make_user(app, "clerk", village),
        volunteer_clerk=make_user(app, "clerk", village, councils=["volunteer"]),
        other_villager=make_villager(app, other_household),
        other_admin=make_user(app, "admin", other),
    )
    root_admin(app)
    return world


def rule(client, world: World, code: str, **terms: Any) -> int:
    """Create a village rule through the API (as the village admin); returns its id."""
    body = {
        "code": code,
        "name": terms.pop("name", f"规则{code}"),
        "council": terms.pop("council", "volunteer"),
        "points": terms.pop("points", 5),
        "needs_review": terms.pop("needs_review", True),
        "notice_days": terms.pop("notice_days", 0),
        "approvals_required": terms.pop("approvals_required", 1),
        **terms,
    }
    response = client.post("/api/v1/rules", json=body, headers=world.h(world.admin))
    assert response.status_code == 201, response.get_json()
    world.rules[code] = response.get_json()["id"]
    return response.get_json()["id"]


def file_claim(client, world: World, rule_id: int, household: int = 0, by: int | None = None, **extra: Any):
    """A claim filed by the household's villager (or `by`); returns the response."""
    user = by if by is not None else world.villagers[household]
    body = {"household_id": world.households[household]["id"], "rule_id": rule_id, **extra}
    return client.post("/api/v1/claims", json=body, headers=world.h(user))


def claim_id(client, world: World, rule_id: int, household: int = 0, **extra: Any) -> int:
    response = file_claim(client, world, rule_id, household, **extra)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def approve(client, world: World, claim: int, user: int, **body: Any):
    return client.post(f"/api/v1/claims/{claim}/approve", json=body, headers=world.h(user))


def balance(client, world: World, household: int = 0) -> int:
    household_id = world.households[household]["id"]
    response = client.get(f"/api/v1/households/{household_id}", headers=world.h(world.admin))
    return response.get_json()["balance"]


def end_notice(app: Flask, claim: int, ago: timedelta = timedelta(minutes=1)) -> None:
    """Move a claim's notice end into the past (as if the days had gone by)."""
    with app.app_context():
        db.session.execute(update(Claim).where(Claim.id == claim).values(notice_ends_at=utcnow() - ago))
        db.session.commit()
