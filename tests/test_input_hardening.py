"""Every bad input gets a clear 4xx, never a 500: control characters in text, ids beyond a column's range.

The walkers go over the app's own route map and OpenAPI document, so a route or field added later is
covered without touching this file.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import event, func, select
from werkzeug.routing import AnyConverter, IntegerConverter

from merit_bank.extensions import db
from merit_bank.households.models import Household
from merit_bank.villages.models import Village
from tests.factories import PASSWORD, auth, make_household, make_shop, make_village, make_villager, root_admin

MAX_INT = 2**31 - 1
BEYOND = [2**31, 10**20]  # past PostgreSQL's INTEGER; past SQLite's 64-bit integer
# NUL (PostgreSQL refuses it), a C0 control, DEL, and a lone surrogate (UTF-8 cannot encode it).
BAD_TEXT = ["a\u0000b", "Wang\u0001", "x\u007fy", "z\ud800"]


def _csrf(client, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _login(client, username: str = "root", password: str = PASSWORD) -> None:
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": _csrf(client, "/login")}
    )
    assert response.status_code == 302


class SqlParameters:
    """Every parameter the app sends to the database while active."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: list[Any] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        rows = parameters if executemany else [parameters]
        for row in rows:
            self.seen.extend(row.values() if isinstance(row, dict) else row or ())

    def __enter__(self) -> SqlParameters:
        with self.app.app_context():
            self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


# --- finding 5: ids out of range ---------------------------------------------------------------------


def _fill(rule: str, number: int, text: str = "x") -> str:
    """A concrete path for a rule: every int is `number`, an `any` its first choice, any other `text`."""

    def value(match: re.Match) -> str:
        converter, args = match.group(1) or "default", match.group(2) or ""
        if converter == "int":
            return str(number)
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        return text

    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", value, rule)


@pytest.mark.parametrize("number", BEYOND, ids=["2^31", "10^20"])
def test_every_route_with_an_int_id_answers_404_for_an_id_beyond_the_column_without_querying_it(
    app, client, number
):
    root = root_admin(app)
    _login(client)
    headers = auth(app, root)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in r._converters.values())
    ]
    assert len(rules) >= 30  # the review counted about 30 such routes; there are more now
    token = _csrf(client, "/admin/villages")
    with SqlParameters(app) as sql:
        for rule in rules:
            path = _fill(rule.rule, number)
            api = path.startswith("/api/")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                body = {} if api else {"csrf_token": token}
                if method == "GET":
                    response = client.get(path, headers=headers)
                elif api:
                    response = client.open(path, method=method, headers=headers, json=body)
                else:
                    response = client.open(path, method=method, headers=headers, data=body)
                assert response.status_code == 404, (method, path, response.status_code)
                if api:
                    assert response.mimetype == "application/problem+json", (method, path)
    assert number not in sql.seen and str(number) not in sql.seen


def test_the_openapi_document_bounds_every_integer_a_client_can_send(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict, where: str, seen: frozenset = frozenset()) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], where, seen | {name})
            return
        if schema.get("readOnly"):
            return  # not sent by a client
        if schema.get("type") == "integer" and not (
            "maximum" in schema and schema["maximum"] <= 2**63 - 1 and "minimum" in schema
        ):
            unbounded.append(where)
        for key, sub in schema.get("properties", {}).items():
            walk(sub, f"{where}.{key}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in [*operations.get("parameters", []), *operation.get("parameters", [])]:
                walk(parameter.get("schema", {}), f"{method} {path} {parameter['in']}:{parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), f"{method} {path} body")
    assert unbounded == []
    path_ids = [
        p["schema"]
        for operations in spec["paths"].values()
        for p in operations.get("parameters", [])
        if p["in"] == "path" and p["schema"].get("type") == "integer"
    ]
    assert path_ids and all(s["maximum"] == MAX_INT for s in path_ids)


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", "/api/v1/households?village_id=99999999999", None, "village_id"),
        ("GET", "/api/v1/households?page=99999999999999999999", None, "page"),
        ("GET", "/api/v1/claims?household_id=2147483648", None, "household_id"),
        ("POST", "/api/v1/claims", {"household_id": 2**31, "rule_id": 1}, "household_id"),
        ("POST", "/api/v1/claims", {"household_id": 1, "rule_id": 10**20}, "rule_id"),
        ("POST", "/api/v1/shops", {"village_id": 10**20, "name": "超市"}, "village_id"),
    ],
)
def test_an_id_beyond_the_column_in_a_query_or_body_is_a_422_naming_the_field(
    app, client, method, url, body, field
):
    root = root_admin(app)
    response = client.open(url, method=method, json=body, headers=auth(app, root))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


# --- findings 3 and 4: control characters and NUL ----------------------------------------------------


def test_the_reviewers_nul_requests_are_422_naming_the_field(app, client):
    village = make_village(app)
    household = make_household(app, village)
    villager = make_villager(app, household)
    root = root_admin(app)
    checkin = client.post("/api/v1/checkins", json={"token": "a\u0000"}, headers=auth(app, villager))
    assert checkin.status_code == 422 and "token" in checkin.get_json()["errors"]
    created = client.post(
        "/api/v1/households",
        json={"village_id": village, "head_name": "a\u0000b", "members": [{"name": "a", "relation": "户主"}]},
        headers=auth(app, root),
    )
    assert created.status_code == 422 and "head_name" in created.get_json()["errors"]
    search = client.get("/api/v1/households?q=%00", headers=auth(app, root))
    assert search.status_code == 422 and "q" in search.get_json()["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Household)) == 1


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _string_fields(spec: dict, schema: dict, prefix: tuple = (), depth: int = 0) -> list[tuple]:
    """Paths to every string in a request body: ('members', 0, 'name'), ('groups', 0), ('title',)."""
    schema = _resolve(spec, schema)
    if depth > 4:
        return []
    found: list[tuple] = []
    for name, sub in schema.get("properties", {}).items():
        if sub.get("readOnly"):
            continue
        sub = _resolve(spec, sub)
        if sub.get("type") == "string" and sub.get("format") not in ("date", "date-time", "binary"):
            found.append((*prefix, name))
        elif sub.get("type") == "array":
            items = _resolve(spec, sub.get("items", {}))
            if items.get("type") == "string":
                found.append((*prefix, name, 0))
            elif items.get("type") == "object" or "properties" in items:
                found.extend(_string_fields(spec, items, (*prefix, name, 0), depth + 1))
        elif sub.get("type") == "object" or "properties" in sub:
            found.extend(_string_fields(spec, sub, (*prefix, name), depth + 1))
    return found


def _body_with(path: tuple, value: str) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return [_body_with(rest, value)]
    return {head: _body_with(rest, value)}


def _error_at(errors: Any, path: tuple) -> bool:
    for part in path:
        if not isinstance(errors, dict):
            return False
        key = str(part) if str(part) in errors else part
        if key not in errors:
            return False
        errors = errors[key]
    return bool(errors)


@pytest.fixture
def people(app):
    village = make_village(app)
    household = make_household(app, village)
    make_shop(app, village)
    return {"root": auth(app, root_admin(app)), "villager": auth(app, make_villager(app, household))}


def test_every_string_field_of_every_request_body_refuses_control_characters_with_a_422_naming_it(
    app, client, people
):
    spec = client.get("/api/v1/openapi.json").get_json()
    checked = 0
    missed: list[str] = []
    for path, operations in spec["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", "/api/v1" + path if not path.startswith("/api/") else path)
        for method, operation in operations.items():
            content = (
                operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            )
            if "application/json" not in content:
                continue
            for field in _string_fields(spec, content["application/json"]["schema"]):
                for bad in BAD_TEXT:
                    body = _body_with(field, bad)
                    for who in ("root", "villager"):
                        headers = {**people[who], "Idempotency-Key": uuid.uuid4().hex}
                        response = client.open(url, method=method.upper(), json=body, headers=headers)
                        if response.status_code not in (401, 403):
                            break
                    checked += 1
                    errors = (response.get_json() or {}).get("errors", {})
                    if response.status_code != 422 or not _error_at(errors, field):
                        missed.append(
                            f"{method.upper()} {url} {field} {bad!r}: {response.status_code} {errors}"
                        )
    assert missed == []
    assert checked >= 4 * 40  # households, members, items, shops, rules, claims, events, villages, users...


def test_every_string_query_parameter_refuses_control_characters_with_a_422_naming_it(app, client, people):
    spec = client.get("/api/v1/openapi.json").get_json()
    missed: list[str] = []
    checked = 0
    for path, operations in spec["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", "/api/v1" + path if not path.startswith("/api/") else path)
        for method, operation in operations.items():
            if method != "get" or not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query" or parameter.get("schema", {}).get("type") != "string":
                    continue
                for bad in BAD_TEXT[:3]:  # a lone surrogate cannot be written in a URL at all
                    response = client.get(url, query_string={parameter["name"]: bad}, headers=people["root"])
                    checked += 1
                    errors = (response.get_json() or {}).get("errors", {})
                    if response.status_code != 422 or parameter["name"] not in errors:
                        missed.append(f"{url}?{parameter['name']}={bad!r}: {response.status_code}")
    assert missed == [] and checked > 0


@pytest.mark.parametrize("bad", ["a%00b", "a%01b", "%7F", "%0A"])
def test_a_control_character_in_any_text_path_segment_is_a_404(app, client, bad):
    headers = auth(app, root_admin(app))
    _login(client)
    token = _csrf(client, "/admin/villages")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        converters = rule._converters.values()
        if all(isinstance(c, IntegerConverter | AnyConverter) for c in converters):
            continue
        path = _fill(rule.rule, 1, bad)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, headers=headers, data={"csrf_token": token})
            assert response.status_code in (400, 404), (method, path, response.status_code)


def test_single_line_fields_refuse_a_line_break_while_notes_and_addresses_keep_theirs(app, client):
    village = make_village(app)
    headers = auth(app, root_admin(app))
    body = {"village_id": village, "head_name": "张三", "members": [{"name": "张三", "relation": "户主"}]}
    broken = client.post("/api/v1/households", json={**body, "head_name": "张\n三"}, headers=headers)
    assert broken.status_code == 422 and "head_name" in broken.get_json()["errors"]
    tabbed = client.post("/api/v1/households", json={**body, "group": "一组\t"}, headers=headers)
    assert tabbed.status_code == 422 and "group" in tabbed.get_json()["errors"]
    kept = client.post("/api/v1/households", json={**body, "address": "幸福路\r\n3号\t东屋"}, headers=headers)
    assert kept.status_code == 201, kept.get_json()
    assert kept.get_json()["address"] == "幸福路\r\n3号\t东屋"
    adjusted = client.post(
        "/api/v1/ledger/adjustments",
        json={
            "village_id": village,
            "household_id": kept.get_json()["id"],
            "points": 5,
            "memo": "补录\n第二行",
        },
        headers={**headers, "Idempotency-Key": "memo-lines"},
    )
    assert adjusted.status_code == 201, adjusted.get_json()


def test_a_form_with_a_control_character_is_refused_with_422_naming_the_field(app, client):
    village = make_village(app)
    _login(client)
    token = _csrf(client, "/admin/households")
    response = client.post(
        "/admin/households",
        data={"csrf_token": token, "village_id": village, "head_name": "Wang\u0001", "member_name": "Wang"},
    )
    assert response.status_code == 422
    assert "head_name" in response.get_data(as_text=True)
    # A single-line field with a line break is refused by its schema, shown beside the form.
    token = _csrf(client, "/admin/villages")
    response = client.post("/admin/villages", data={"csrf_token": token, "name": "新\n村", "code": "NEWV"})
    assert response.status_code == 422 and 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Household)) == 0
        assert db.session.scalar(select(func.count()).select_from(Village).where(Village.code == "NEWV")) == 0


def test_a_roster_row_with_a_control_character_is_listed_as_an_error(app, client):
    village = make_village(app)
    headers = auth(app, root_admin(app))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["村民小组", "户主姓名", "地址", "姓名", "与户主关系"])
    writer.writerow(["一组", "Wang\u0001", "幸福路\n3号", "Wang\u0001", "户主"])
    writer.writerow(["一组", "李四", "幸福路4号", "李四", "户主"])
    data = buffer.getvalue().encode("utf-8-sig")
    response = client.post(
        f"/api/v1/households/import?village_id={village}&dry_run=1",
        data={"file": (io.BytesIO(data), "roster.csv")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    report = response.get_json()
    errors = report.get("errors") or report.get("report", {}).get("errors")
    assert {(e["row"], e["column"]) for e in errors} == {(2, "户主姓名"), (2, "姓名")}


def test_command_line_text_and_ids_are_refused_with_a_usage_error(app, runner):
    root_admin(app)
    bad_code = runner.invoke(args=["load-rulebook", "V\u00001", "--admin", "root"])
    assert bad_code.exit_code == 2 and "control characters" in bad_code.output
    bad_admin = runner.invoke(args=["create-admin", "x\u0001y", "--password", "long-enough-password"])
    assert bad_admin.exit_code == 2
    too_big = runner.invoke(args=["verify-stock", "--shop", str(2**31)])
    assert too_big.exit_code == 2
    too_big = runner.invoke(args=["export-ledger", str(10**20)])
    assert too_big.exit_code == 2


@pytest.mark.parametrize("number", ["²", "١", "9999999999", "99999999999999999999"])
def test_a_number_typed_into_a_page_form_or_query_is_refused_or_ignored_never_a_500(app, client, number):
    village = make_village(app)
    _login(client)
    token = _csrf(client, "/admin/users")
    pages = [
        client.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "username": "clerk9",
                "password": PASSWORD,
                "role": "clerk",
                "village_id": number,
            },
        ),
        client.post("/claims/review", data={"csrf_token": token, "claim_ids": number, "decision": "approve"}),
        client.post(
            "/events",
            data={"csrf_token": token, "village_id": str(village), "title": "义务劳动", "rule_id": number},
        ),
        client.get(f"/reports/?village_id={number}"),
        client.get(f"/reports/rankings?village_id={village}&group_id={number}"),
        client.get(f"/api/v1/households?village_id={number}", headers=auth(app, root_admin(app))),
    ]
    for response in pages:
        assert response.status_code < 500, (response.request.path, response.status_code)
