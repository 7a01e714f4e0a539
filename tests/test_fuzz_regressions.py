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
