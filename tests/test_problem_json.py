"""No request, however malformed, gets a 500 or an HTML page from /api/v1: every write endpoint is probed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import auth, make_household, make_village, root_admin

HUGE = 10**40
LONG = "长" * 20_000


def _write_operations(client) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/api/v1/openapi.json").json
    components = spec.get("components", {}).get("schemas", {})
    operations = []
    for path, item in spec["paths"].items():
        for method in ("post", "patch", "put"):
            operation = item.get(method)
            if operation is None:
                continue
            schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            if "$ref" in schema:
                schema = components[schema["$ref"].rsplit("/", 1)[-1]]
            if "requestBody" in operation:
                operations.append(
                    (method.upper(), re.sub(r"\{[^}]+\}", "1", path), schema.get("properties", {}))
                )
    return operations


def _bodies(properties: dict[str, Any]):
    yield "wrong top-level type", ["not", "an", "object"]
    yield "a bare string", "hello"
    yield "unknown field", {"definitely_not_a_field": 1}
    if properties:
        yield "huge numbers", dict.fromkeys(properties, HUGE)
        yield "negative huge numbers", dict.fromkeys(properties, -HUGE)
        yield "very long strings", dict.fromkeys(properties, LONG)
        yield "wrong types", {key: {"nested": [1, 2, 3]} for key in properties}
        yield "nulls", dict.fromkeys(properties, None)
        yield "floats", dict.fromkeys(properties, 1.5)


@pytest.fixture
def seeded(app):
    village = make_village(app)
    make_household(app, village)
    return auth(app, root_admin(app))


def _assert_problem(response, what: str) -> None:
    assert response.status_code < 500, (
        f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    )
    assert response.status_code >= 400 or response.status_code in (200, 201, 204), what
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", f"{what}: {response.mimetype}"
        body = response.json
        assert {"type", "title", "status", "detail"} <= set(body), what
        assert body["status"] == response.status_code, what


def test_every_write_endpoint_answers_malformed_bodies_with_problem_json(app, client, seeded):
    operations = _write_operations(client)
    assert len(operations) >= 8
    for method, path, properties in operations:
        not_json = client.open(
            path, method=method, headers={**seeded, "Content-Type": "application/json"}, data="{nope"
        )
        _assert_problem(not_json, f"{method} {path} not JSON")
        assert not_json.status_code >= 400, f"{method} {path}: {not_json.status_code}"
        form = client.open(path, method=method, headers=seeded, data={"a": "b"})
        _assert_problem(form, f"{method} {path} form body")
        for what, body in _bodies(properties):
            response = client.open(
                path, method=method, headers={**seeded, "Idempotency-Key": "probe"}, json=body
            )
            _assert_problem(response, f"{method} {path} {what}")


def test_a_body_over_the_limit_is_413(app, client, seeded):
    response = client.post(
        "/api/v1/households",
        headers={**seeded, "Content-Type": "application/json"},
        data=b'{"x": "' + b"a" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}',
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == "payload-too-large"


def test_unknown_fields_are_named_in_errors(app, client, seeded):
    response = client.post(
        "/api/v1/villages", headers=seeded, json={"name": "x", "code": "XX", "colour": "red"}
    )
    assert response.status_code == 422
    assert response.json["type"] == "validation-error"
    assert "colour" in response.json["errors"]


def test_unknown_paths_and_methods_are_problem_json(client, seeded):
    missing = client.get("/api/v1/no-such-thing", headers=seeded)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = client.delete("/api/v1/villages", headers=seeded)
    assert wrong.status_code == 405 and wrong.json["type"] == "method-not-allowed"


def test_an_unexpected_exception_is_logged_with_a_request_id_and_never_leaks_a_traceback(app, caplog):
    @app.get("/api/v1/_boom")
    def _boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/_boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == "internal-error"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert "req-42" in response.json["detail"]
    assert response.headers["X-Request-ID"] == "req-42"
    assert any("req-42" in record.getMessage() and record.exc_info for record in caplog.records)
