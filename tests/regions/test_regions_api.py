"""Regions through the admin API: counties, townships, and villages moved between them."""

from __future__ import annotations

from tests.factories import auth, make_user, make_village, root_admin


def _post(client, headers, **body):
    return client.post("/api/v1/regions", json=body, headers=headers)


def test_a_deployment_admin_keeps_counties_and_townships_and_places_villages(app, client):
    root = auth(app, root_admin(app))
    county = _post(client, root, name="甲县", kind="county")
    assert county.status_code == 201, county.get_json()
    county_id = county.get_json()["id"]
    township = _post(client, root, name="东镇", kind="township", parent_id=county_id)
    assert township.status_code == 201
    township_id = township.get_json()["id"]
    assert township.get_json()["parent_id"] == county_id
    # The same name elsewhere is fine; twice under one parent is not.
    assert _post(client, root, name="东镇", kind="township", parent_id=county_id).status_code == 422
    assert _post(client, root, name="甲县", kind="county").status_code == 422
    other = _post(client, root, name="乙县", kind="county").get_json()["id"]
    assert _post(client, root, name="东镇", kind="township", parent_id=other).status_code == 201
    listed = client.get("/api/v1/regions", headers=root).get_json()["items"]
    assert {(r["name"], r["kind"]) for r in listed} == {
        ("甲县", "county"),
        ("乙县", "county"),
        ("东镇", "township"),
    } and len(listed) == 4

    village = make_village(app)
    moved = client.patch(f"/api/v1/villages/{village}", json={"region_id": township_id}, headers=root)
    assert moved.status_code == 200 and moved.get_json()["region_id"] == township_id
    # A village sits in a township, never straight in a county or nowhere that exists.
    for bad in (county_id, 999_999):
        refused = client.patch(f"/api/v1/villages/{village}", json={"region_id": bad}, headers=root)
        assert refused.status_code == 422 and "region_id" in refused.get_json()["errors"]
    out = client.patch(f"/api/v1/villages/{village}", json={"region_id": None}, headers=root)
    assert out.status_code == 200 and out.get_json()["region_id"] is None


def test_bad_kinds_and_parents_are_refused_naming_the_field(app, client):
    root = auth(app, root_admin(app))
    county = _post(client, root, name="甲县", kind="county").get_json()["id"]
    township = _post(client, root, name="东镇", kind="township", parent_id=county).get_json()["id"]
    cases = [
        ({"name": "x", "kind": "village"}, "kind"),
        ({"name": "x", "kind": "county", "parent_id": county}, "parent_id"),
        ({"name": "x", "kind": "township"}, "parent_id"),
        ({"name": "x", "kind": "township", "parent_id": township}, "parent_id"),
        ({"name": "x", "kind": "township", "parent_id": 999_999}, "parent_id"),
        ({"name": " ", "kind": "county"}, "name"),
    ]
    for body, field in cases:
        response = _post(client, root, **body)
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json"
        assert field in response.get_json()["errors"], (body, response.get_json())


def test_only_a_deployment_admin_keeps_regions_or_moves_villages(app, client):
    root = auth(app, root_admin(app))
    village = make_village(app)
    county = _post(client, root, name="甲县", kind="county").get_json()["id"]
    township = _post(client, root, name="东镇", kind="township", parent_id=county).get_json()["id"]
    village_admin = auth(app, make_user(app, "admin", village))
    clerk = auth(app, make_user(app, "clerk", village))
    for headers in (village_admin, clerk):
        assert _post(client, headers, name="丙县", kind="county").status_code == 403
        assert client.get("/api/v1/regions", headers=headers).status_code == 403
        moved = client.patch(f"/api/v1/villages/{village}", json={"region_id": township}, headers=headers)
        assert moved.status_code == 403
