"""Every role's scope: in scope works, out of scope is 404 (403 for a role that never may), lists filtered."""

from __future__ import annotations

import pytest

from tests.factories import (
    auth,
    make_household,
    make_shop,
    make_user,
    make_village,
    make_villager,
    root_admin,
)


@pytest.fixture
def world(app):
    a = make_village(app, "东村", "EAST")
    b = make_village(app, "西村", "WEST")
    ha1 = make_household(app, a, "甲一")
    ha2 = make_household(app, a, "甲二")
    hb1 = make_household(app, b, "乙一")
    shop_a = make_shop(app, a)
    return {
        "a": a,
        "b": b,
        "ha1": ha1,
        "ha2": ha2,
        "hb1": hb1,
        "root": root_admin(app),
        "admin_a": make_user(app, "admin", a),
        "clerk_a": make_user(app, "clerk", a, councils=["volunteer"]),
        "shopkeeper_a": make_user(app, "shopkeeper", a, shop_id=shop_a),
        "villager_a1": make_villager(app, ha1),
    }


def _ids(response):
    assert response.status_code == 200, response.json
    return {item["id"] for item in response.json["items"]}


def test_village_lists_are_filtered_by_scope(app, client, world):
    assert _ids(client.get("/api/v1/villages", headers=auth(app, world["root"]))) == {world["a"], world["b"]}
    for role in ("admin_a", "clerk_a", "shopkeeper_a", "villager_a1"):
        assert _ids(client.get("/api/v1/villages", headers=auth(app, world[role]))) == {world["a"]}


def test_another_village_is_not_found_rather_than_forbidden(app, client, world):
    for role in ("admin_a", "clerk_a", "villager_a1"):
        response = client.get(f"/api/v1/villages/{world['b']}", headers=auth(app, world[role]))
        assert response.status_code == 404
        assert response.json["type"] == "not-found"


def test_household_lists_are_filtered_by_scope(app, client, world):
    ha1, ha2, hb1 = world["ha1"]["id"], world["ha2"]["id"], world["hb1"]["id"]
    assert _ids(client.get("/api/v1/households", headers=auth(app, world["root"]))) == {ha1, ha2, hb1}
    assert _ids(client.get("/api/v1/households", headers=auth(app, world["admin_a"]))) == {ha1, ha2}
    assert _ids(client.get("/api/v1/households", headers=auth(app, world["clerk_a"]))) == {ha1, ha2}
    assert _ids(client.get("/api/v1/households", headers=auth(app, world["villager_a1"]))) == {ha1}
    filtered = client.get(f"/api/v1/households?village_id={world['b']}", headers=auth(app, world["clerk_a"]))
    assert _ids(filtered) == set()


def test_single_households_out_of_scope_are_404(app, client, world):
    hb1, ha2 = world["hb1"]["id"], world["ha2"]["id"]
    assert client.get(f"/api/v1/households/{hb1}", headers=auth(app, world["clerk_a"])).status_code == 404
    assert client.get(f"/api/v1/households/{hb1}", headers=auth(app, world["admin_a"])).status_code == 404
    assert client.get(f"/api/v1/households/{ha2}", headers=auth(app, world["villager_a1"])).status_code == 404
    assert client.get(f"/api/v1/households/{ha2}", headers=auth(app, world["clerk_a"])).status_code == 200
    own = client.get(f"/api/v1/households/{world['ha1']['id']}", headers=auth(app, world["villager_a1"]))
    assert own.status_code == 200


def test_creating_households_needs_a_manager_of_that_village(app, client, world):
    body = {"village_id": world["b"], "head_name": "丙", "members": [{"name": "丙"}]}
    assert (
        client.post("/api/v1/households", headers=auth(app, world["clerk_a"]), json=body).status_code == 404
    )
    body["village_id"] = world["a"]
    assert (
        client.post("/api/v1/households", headers=auth(app, world["villager_a1"]), json=body).status_code
        == 403
    )
    assert (
        client.post("/api/v1/households", headers=auth(app, world["shopkeeper_a"]), json=body).status_code
        == 403
    )
    created = client.post("/api/v1/households", headers=auth(app, world["clerk_a"]), json=body)
    assert created.status_code == 201
    assert created.json["balance"] == 0 and created.json["earned_total"] == 0


def test_only_a_deployment_admin_creates_villages(app, client, world):
    body = {"name": "南村", "code": "SOUTH"}
    assert client.post("/api/v1/villages", headers=auth(app, world["admin_a"]), json=body).status_code == 403
    assert client.post("/api/v1/villages", headers=auth(app, world["clerk_a"]), json=body).status_code == 403
    created = client.post("/api/v1/villages", headers=auth(app, world["root"]), json=body)
    assert created.status_code == 201
    assert created.json["code"] == "SOUTH"
    again = client.post("/api/v1/villages", headers=auth(app, world["root"]), json=body)
    assert again.status_code == 409


def test_users_are_managed_by_admins_within_their_scope(app, client, world):
    body = {"username": "newclerk", "password": "long-enough-1", "role": "clerk", "councils": ["covenant"]}
    assert (
        client.post(
            "/api/v1/users", headers=auth(app, world["clerk_a"]), json={**body, "village_id": world["a"]}
        ).status_code
        == 403
    )
    # A village admin cannot reach another village, nor make a deployment-wide admin.
    other = client.post(
        "/api/v1/users", headers=auth(app, world["admin_a"]), json={**body, "village_id": world["b"]}
    )
    assert other.status_code == 404
    root_like = {"username": "root2", "password": "long-enough-1", "role": "admin"}
    assert (
        client.post("/api/v1/users", headers=auth(app, world["admin_a"]), json=root_like).status_code == 404
    )
    created = client.post(
        "/api/v1/users", headers=auth(app, world["admin_a"]), json={**body, "village_id": world["a"]}
    )
    assert created.status_code == 201
    assert "password" not in created.json
    listed = {
        u["username"] for u in client.get("/api/v1/users", headers=auth(app, world["admin_a"])).json["items"]
    }
    assert "newclerk" in listed and "root" not in listed
    assert (
        client.get(f"/api/v1/users/{world['root']}", headers=auth(app, world["admin_a"])).status_code == 404
    )


def test_household_card_is_for_its_villagers_and_village_staff(app, client, world):
    ha1, ha2 = world["ha1"]["id"], world["ha2"]["id"]
    assert (
        client.get(f"/api/v1/households/{ha1}/card.png", headers=auth(app, world["villager_a1"])).status_code
        == 200
    )
    assert (
        client.get(f"/api/v1/households/{ha2}/card.png", headers=auth(app, world["villager_a1"])).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/households/{ha2}/card.svg", headers=auth(app, world["clerk_a"])).status_code
        == 200
    )
    assert (
        client.get(f"/api/v1/households/{ha1}/card.png", headers=auth(app, world["shopkeeper_a"])).status_code
        == 404
    )
    hb1 = world["hb1"]["id"]
    assert (
        client.get(f"/api/v1/households/{hb1}/card.png", headers=auth(app, world["admin_a"])).status_code
        == 404
    )
