"""Server errors the OpenAPI fuzz test (tests/test_fuzz_openapi.py) found, each answered properly now."""

from __future__ import annotations

from sqlalchemy import func, select

from merit_bank.extensions import db
from merit_bank.villages.models import Village
from tests.factories import auth, root_admin


def test_creating_a_village_with_a_group_named_twice_is_a_422_naming_the_field_not_a_500(app, client):
    admin = auth(app, root_admin(app))
    body = {"name": "双组村", "code": "DUP1", "groups": ["一组", "二组", " 一组 "]}
    response = client.post("/api/v1/villages", json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "validation-error"
    assert list(problem["errors"]) == ["groups"]
    assert list(problem["errors"]["groups"]) == ["2"]  # the repeated entry, by its index
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Village).where(Village.code == "DUP1")) == 0

    body["groups"] = ["一组", "二组"]
    assert client.post("/api/v1/villages", json=body, headers=admin).status_code == 201


def test_blank_village_and_group_names_are_refused_with_422_and_never_stored_empty(app, client):
    admin = auth(app, root_admin(app))
    blank_group = client.post(
        "/api/v1/villages", json={"name": "白村", "code": "BLANK1", "groups": ["一组", "   "]}, headers=admin
    )
    assert blank_group.status_code == 422, blank_group.get_json()
    assert list(blank_group.get_json()["errors"]["groups"]) == ["1"]
    blank_name = client.post("/api/v1/villages", json={"name": "  ", "code": "BLANK2"}, headers=admin)
    assert blank_name.status_code == 422
    assert "name" in blank_name.get_json()["errors"]

    created = client.post("/api/v1/villages", json={"name": "白村", "code": "BLANK3"}, headers=admin)
    assert created.status_code == 201
    village_id = created.get_json()["id"]
    added = client.post(f"/api/v1/villages/{village_id}/groups", json={"name": " "}, headers=admin)
    assert added.status_code == 422
    assert "name" in added.get_json()["errors"]
    groups = client.get(f"/api/v1/villages/{village_id}", headers=admin).get_json()["groups"]
    assert groups == []
