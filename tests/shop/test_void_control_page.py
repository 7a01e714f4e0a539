"""The receipt page offers the void control exactly when shop/policy.py would let the void through."""

from __future__ import annotations

from datetime import timedelta

from merit_bank.database import utcnow
from merit_bank.shop import months as shop_months
from tests.factories import PIN
from tests.shop.shop_helpers import FixedClock, build_world, redeem, villager_of, web_login
from tests.shop.test_shop_pages import _username

VOID = "/void"


def _receipt(app, user_id: int, redemption_id: int, password: str | None = None) -> str:
    client = app.test_client()
    if password is None:
        web_login(client, _username(app, user_id))
    else:
        web_login(client, _username(app, user_id), password)
    response = client.get(f"/shop/receipts/{redemption_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_void_control_follows_the_policy_for_keeper_admin_villager_and_a_later_day(app, monkeypatch):
    world = build_world(app)
    household = world.households[0]
    villager = villager_of(app, household)
    lines = [{"item_id": world.items["食盐"], "quantity": 1}]
    body = {"shop_id": world.shop_id, "household_id": household["id"], "lines": lines}
    r = redeem(app.test_client(), world.keeper, body).get_json()

    # The same day: the shopkeeper and the admin may void; the household's villager sees no control.
    assert VOID in _receipt(app, world.shopkeeper_id, r["id"])
    assert VOID in _receipt(app, world.admin_id, r["id"])
    assert VOID not in _receipt(app, villager, r["id"], PIN)

    # Two days later a shopkeeper's void is refused (void-too-late): no control; an admin still may.
    monkeypatch.setattr(shop_months, "clock", FixedClock(utcnow() + timedelta(days=2)))
    assert VOID not in _receipt(app, world.shopkeeper_id, r["id"])
    late = world.app.test_client().post(
        f"/api/v1/redemptions/{r['id']}/void", json={"reason": "退货"}, headers=world.keeper
    )
    assert late.status_code == 409 and late.get_json()["type"] == "void-too-late"
    assert VOID in _receipt(app, world.admin_id, r["id"])

    # Voided, nobody gets it.
    voided = world.app.test_client().post(
        f"/api/v1/redemptions/{r['id']}/void", json={"reason": "退货"}, headers=world.admin
    )
    assert voided.status_code in (200, 201), voided.get_json()
    assert VOID not in _receipt(app, world.admin_id, r["id"])
