"""Builders shared by the events tests: a village with rules, staff and villagers; a movable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from merit_bank.events import tokens
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from tests.factories import auth, make_household, make_user, make_village, make_villager, root_admin

# Mid-step, so that a test moving the clock by whole steps never lands on a boundary by accident.
T0 = datetime(2026, 5, 1, 2, 0, 10, tzinfo=UTC)


class Clock:
    """The events clock, moved by tests instead of sleeping."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@dataclass
class World:
    app: Flask
    village: int
    other_village: int
    households: list[dict[str, Any]]
    villagers: list[int]
    admin: int
    clerk: int
    volunteer_clerk: int
    other_clerk: int
    other_villager: int
    single: dict[str, Any]  # a household of one member
    rules: dict[str, int] = field(default_factory=dict)

    def h(self, user_id: int) -> dict[str, str]:
        return auth(self.app, user_id)


def make_world(app: Flask, client) -> World:
    village = make_village(app, "幸福村", groups=("一组",))
    other = make_village(app, "邻村", groups=("一组",))
    households = [make_household(app, village, name) for name in ("王建国", "李德明", "张志强")]
    villagers = [make_villager(app, h) for h in households]
    other_household = make_household(app, other, "赵六")
    single = make_household(app, village, "孤老人", members=[{"name": "孤老人", "relation": "户主"}])
    world = World(
        app=app,
        village=village,
        other_village=other,
        households=households,
        villagers=villagers,
        admin=make_user(app, "admin", village),
        clerk=make_user(app, "clerk", village),
        volunteer_clerk=make_user(app, "clerk", village, councils=["moral_review"]),
        other_clerk=make_user(app, "clerk", other),
        other_villager=make_villager(app, other_household),
        single=single,
    )
    root_admin(app)
    world.rules["instant"] = make_rule(client, world, "CLEANUP", points=5, needs_review=False)
    world.rules["reviewed"] = make_rule(client, world, "MEETING", points=3, needs_review=True)
    world.rules["hourly"] = make_rule(client, world, "ELDERS", points=10, needs_review=False, unit="hour")
    return world


def make_rule(client, world: World, code: str, **terms: Any) -> int:
    body = {
        "code": code,
        "name": terms.pop("name", f"规则{code}"),
        "council": terms.pop("council", "volunteer"),
        "points": terms.pop("points", 5),
        "needs_review": terms.pop("needs_review", False),
        "notice_days": terms.pop("notice_days", 0),
        "approvals_required": 1,
        "village_id": world.village,
        **terms,
    }
    response = client.post("/api/v1/rules", json=body, headers=world.h(world.admin))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def make_event(client, world: World, rule: str = "instant", *, by: int | None = None, **extra: Any):
    """Create an event through the API, open from T0 - 1 h to T0 + 2 h unless told otherwise."""
    body = {
        "village_id": world.village,
        "title": extra.pop("title", "河道清理"),
        "rule_id": world.rules[rule],
        "starts_at": extra.pop("starts_at", (T0 - timedelta(hours=1)).isoformat()),
        "ends_at": extra.pop("ends_at", (T0 + timedelta(hours=2)).isoformat()),
        **extra,
    }
    response = client.post("/api/v1/events", json=body, headers=world.h(by or world.clerk))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def token_for(app: Flask, event_id: int, *, rotating: bool = False, at: datetime | None = None) -> str:
    with app.app_context():
        if rotating:
            return tokens.rotating_token(event_id, at)
        return tokens.static_token(event_id)


def card_for(app: Flask, household: dict[str, Any]) -> str:
    """The token printed on a household's card."""
    with app.app_context():
        return household_services.card_token(db.session.get(Household, household["id"]))


def balance(client, world: World, household: dict[str, Any]) -> int:
    response = client.get(f"/api/v1/households/{household['id']}", headers=world.h(world.admin))
    return response.get_json()["balance"]
