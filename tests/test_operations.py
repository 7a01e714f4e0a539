"""Health, OpenAPI, docs, configuration safety and the command line."""

from __future__ import annotations

import re

import pytest

from merit_bank import create_app
from merit_bank.extensions import db
from merit_bank.households.models import Household
from merit_bank.villages.models import Village


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_openapi_spec_is_generated_from_the_schemas(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/auth/login", "/api/v1/households", "/api/v1/users/{user_id}", "/api/v1/villages"):
        assert path in spec["paths"]
    assert "HouseholdCreate" in spec["components"]["schemas"]


def test_docs_page_works_offline(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the docs page must not load from a CDN"
    for asset in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html):
        assert client.get(asset).status_code == 200, asset


def test_production_refuses_development_secrets(db_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": db_url, "PRODUCTION": True})
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "PRODUCTION": True,
            "SECRET_KEY": "a" * 48,
            "JWT_SECRET_KEY": "b" * 48,
            "CHECKPOINT_SIGNING_KEY": "Y2hlY2twb2ludC1zaWduaW5nLWtleS0zMi1ieXRlcyE=",
        }
    )
    assert app.config["PRODUCTION"] is True


def test_production_setting_comes_from_the_environment(monkeypatch, db_url):
    monkeypatch.setenv("MERIT_BANK_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": db_url})


def test_create_admin_command(app, runner, client):
    result = runner.invoke(args=["create-admin", "chief", "--password", "chief-password-1"])
    assert result.exit_code == 0, result.output
    login = client.post("/api/v1/auth/login", json={"username": "chief", "password": "chief-password-1"})
    assert login.status_code == 200
    again = runner.invoke(args=["create-admin", "chief", "--password", "chief-password-1"])
    assert again.exit_code != 0


def test_seed_demo_prints_logins_and_refuses_to_run_twice(app, runner, client):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "13800000001" in result.output and "admin" in result.output
    with app.app_context():
        assert db.session.query(Village).count() == 1
        assert db.session.query(Household).count() == 12
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0
    with app.app_context():
        assert db.session.query(Household).count() == 12
    for username, password in (
        ("admin", "admin-demo-2026"),
        ("clerk", "clerk-demo-2026"),
        ("13800000005", "246810"),
    ):
        response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, username
