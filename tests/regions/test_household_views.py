"""A supervisor's every look at a household is logged, and the household sees who looked, when and where."""

from __future__ import annotations

from tests.factories import PIN, page_login
from tests.regions.region_helpers import make_region_world


def test_each_look_is_logged_and_the_household_sees_it_in_the_api_and_on_its_home_page(app, client):
    w = make_region_world(app, client)
    v = w.in_scope[0]
    sup = w.h(w.supervisor)
    looks = [
        f"/api/v1/households/{v.household}",
        f"/api/v1/households/{v.household}/transactions",
        f"/api/v1/ledger/households/{v.household}/balance",
        f"/api/v1/claims/{v.claims[0]}",
        f"/api/v1/redemptions/{v.redemption}",
    ]
    for path in looks:
        assert client.get(path, headers=sup).status_code == 200, path
    # Staff of the village are not logged: their work is the household's register itself.
    assert client.get(f"/api/v1/households/{v.household}", headers=w.h(v.admin)).status_code == 200

    # The household, through its villager (whose username is the head's phone number).
    villager = w.h(_villager_id(app, v.member))
    views = client.get(f"/api/v1/households/{v.household}/views", headers=villager)
    assert views.status_code == 200
    items = views.get_json()["items"]
    assert [i["location"] for i in reversed(items)] == [f"GET {p}" for p in looks]
    assert {i["viewer"] for i in items} == {"东湖镇纪委 李监督"}
    assert {i["viewer_id"] for i in items} == {w.supervisor} and all(i["at"] for i in items)
    # Another village's household never sees this one's log, and the log is the household's only.
    other = w.in_scope[1]
    assert client.get(f"/api/v1/households/{other.household}/views", headers=villager).status_code == 404
    assert (
        client.get(f"/api/v1/households/{other.household}/views", headers=w.h(other.admin)).get_json()[
            "items"
        ]
        == []
    )

    # On the villager's home page, in Chinese.
    client.set_cookie("lang", "zh_Hans_CN")
    assert page_login(client, w.phones[0], PIN).status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "谁查看了您家" in home and "东湖镇纪委 李监督" in home
    assert f"GET /api/v1/households/{v.household}" in home


def test_a_supervisors_page_views_are_logged_too(app, client):
    from tests.factories import PASSWORD

    w = make_region_world(app, client)
    v = w.in_scope[0]
    assert page_login(client, w.supervisor_name, PASSWORD).status_code == 302
    assert client.get(f"/claims/{v.claims[0]}").status_code == 200
    assert client.get(f"/shop/receipts/{v.redemption}").status_code == 200
    items = client.get(f"/api/v1/households/{v.household}/views", headers=w.h(v.admin)).get_json()["items"]
    assert [i["location"] for i in reversed(items)] == [
        f"GET /claims/{v.claims[0]}",
        f"GET /shop/receipts/{v.redemption}",
    ]


def _villager_id(app, member_id: int) -> int:
    from sqlalchemy import select

    from merit_bank.auth.models import User
    from merit_bank.extensions import db

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.member_id == member_id))
