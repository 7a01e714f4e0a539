"""The OpenAPI document describes the errors the server really sends: RFC 9457 problem+json."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs

from tests.factories import auth, make_household, make_village, make_villager, root_admin

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"


def _spec(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def _example_url(spec: dict[str, Any], path: str) -> str:
    """The path with each parameter filled in with a value its schema allows."""
    schemas = {p["name"]: p.get("schema", {}) for p in spec["paths"][path].get("parameters", [])}

    def value(match: re.Match) -> str:
        schema = schemas.get(match.group(1), {})
        if schema.get("enum"):
            return str(schema["enum"][0])
        return "1" if schema.get("type") == "integer" else "x"

    return re.sub(r"\{([^}]+)\}", value, path)


def _resolve(spec: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        *_, kind, name = obj["$ref"].split("/")
        obj = spec["components"][kind][name]
    return obj


def _problem_validator(spec: dict[str, Any]) -> jsonschema_rs.Validator:
    # The components travel along so that any $ref inside the problem schema resolves.
    schema = {**spec["components"]["schemas"]["Problem"], "components": spec["components"]}
    return jsonschema_rs.validator_for(schema)


def test_every_error_response_of_every_operation_is_documented_as_problem_json(client):
    spec = _spec(client)
    operations = list(_operations(spec))
    assert len(operations) >= 80
    wrong = []
    for path, method, operation in operations:
        responses = operation["responses"]
        if "default" not in responses:
            wrong.append(f"{method.upper()} {path}: no default error response")
        for status, response in responses.items():
            if status.startswith(("1", "2", "3")):
                continue
            content = _resolve(spec, response).get("content", {})
            if list(content) != [PROBLEM] or content[PROBLEM]["schema"] != {"$ref": PROBLEM_REF}:
                wrong.append(f"{method.upper()} {path} {status}: {content}")
    assert wrong == []
    assert "Error" not in spec["components"]["schemas"], "flask-smorest's {code, status, message} is not sent"


def test_the_documented_problem_schema_requires_what_every_problem_carries(client):
    problem = _spec(client)["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["status"]["type"] == "integer"
    # Domain errors add members of their own (RFC 9457 extension members).
    assert problem.get("additionalProperties") is not False


def test_operations_document_the_statuses_they_answer_with(client):
    spec = _spec(client)
    for path, method, operation in _operations(spec):
        statuses = set(operation["responses"])
        label = f"{method.upper()} {path}"
        if "{" in path:
            assert "404" in statuses, label
        if "requestBody" in operation:
            assert {"400", "415", "422"} <= statuses, label
        if path not in ("/api/v1/auth/login", "/api/v1/auth/activate") and not path.startswith(
            ("/api/v1/board/", "/api/v1/reports/board/", "/api/v1/public/")
        ):
            assert {"401", "403"} <= statuses, label
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"401", "429"} <= set(login)


def test_every_operation_documenting_401_answers_401_with_problem_json_without_a_token(client):
    spec = _spec(client)
    validator = _problem_validator(spec)
    checked = 0
    for path, method, operation in _operations(spec):
        if "401" not in operation["responses"] or path == "/api/v1/auth/login":
            continue
        body = None if method == "get" else {}
        response = client.open(_example_url(spec, path), method=method.upper(), json=body)
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
        assert response.mimetype == PROBLEM
        validator.validate(response.get_json())
        checked += 1
    assert checked >= 80


def test_the_documented_problem_schema_accepts_the_error_bodies_the_server_sends(app, client):
    spec = _spec(client)
    validator = _problem_validator(spec)
    admin = auth(app, root_admin(app))
    village_id = make_village(app)
    villager = auth(app, make_villager(app, make_household(app, village_id)))

    answers = {
        "no token": client.get("/api/v1/me"),
        "bad token": client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"}),
        "wrong password": client.post(
            "/api/v1/auth/login", json={"username": "root", "password": "nope-nope"}
        ),
        "unknown shop": client.get("/api/v1/shops/987654", headers=admin),
        "unknown route": client.get("/api/v1/no-such-thing", headers=admin),
        "wrong method": client.delete("/api/v1/me", headers=admin),
        "invalid fields": client.post("/api/v1/villages", json={"name": ""}, headers=admin),
        "malformed json": client.post(
            "/api/v1/villages", data="{", content_type="application/json", headers=admin
        ),
        "not json": client.post("/api/v1/villages", data="name=x", content_type="text/plain", headers=admin),
        "villager not allowed": client.post(
            "/api/v1/villages", json={"name": "x", "code": "X1"}, headers=villager
        ),
    }
    for name, response in answers.items():
        assert response.status_code >= 400, name
        assert response.mimetype == PROBLEM, name
        body = response.get_json()
        errors = [error.message for error in validator.iter_errors(body)]
        assert errors == [], f"{name}: {body}"
    assert answers["invalid fields"].status_code == 422
    assert "errors" in answers["invalid fields"].get_json()
    assert {response.status_code for response in answers.values()} >= {400, 401, 403, 404, 405, 415, 422}


def test_every_operation_documents_a_success_response(client):
    spec = _spec(client)
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(spec)
        if not any(status.startswith("2") for status in operation["responses"])
    ]
    assert missing == []


def test_file_downloads_are_documented_with_the_content_types_they_send(app, client):
    spec = _spec(client)
    admin = auth(app, root_admin(app))
    village_id = make_village(app)
    household = make_household(app, village_id)
    downloads = {
        ("/api/v1/ledger/export", "get"): f"/api/v1/ledger/export?village_id={village_id}&format=csv",
        (
            "/api/v1/ledger/export",
            "get",
            "jsonl",
        ): f"/api/v1/ledger/export?village_id={village_id}&format=jsonl",
        (
            "/api/v1/households/{household_id}/card.png",
            "get",
        ): f"/api/v1/households/{household['id']}/card.png",
        ("/api/v1/households/import/template.xlsx", "get"): "/api/v1/households/import/template.xlsx",
        ("/api/v1/exports/{name}.{fmt}", "get"): f"/api/v1/exports/balances.csv?village_id={village_id}",
        (
            "/api/v1/exports/members/{name}.{fmt}",
            "get",
        ): f"/api/v1/exports/members/participation.csv?village_id={village_id}",
    }
    for (path, method, *_), url in downloads.items():
        response = client.get(url, headers=admin)
        assert response.status_code == 200, (url, response.data[:200])
        documented = spec["paths"][path][method]["responses"]["200"].get("content", {})
        assert response.mimetype in documented, (url, response.mimetype, list(documented))
