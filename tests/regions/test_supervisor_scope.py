"""A township's supervisor reads every village of the township, nothing outside it, and changes nothing.

The GET endpoints and pages exercised (each for both villages of township A, and 404 for township B's):
villages, households (list, one, by code, transactions, balance, views), the ledger (transactions, one
transaction, verification, export), claims (list, one with its history, the claim page with its history,
the review queue), redemptions (list, one), shops (list, one, items, an item, its stock log, settlement as
JSON, CSV and XLSX, stock verification), events (list, one, check-ins, scans), reports (stats, rankings,
honor board, village comparison), every export (ledger, balances, claims, check-ins, redemptions,
settlement, CSV and XLSX), checkpoints (the public list, the ledger page), and the pages: dashboard,
rankings, county comparison, exports, claim page, review queue, shop redemptions, stock and settlement.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from flask import Flask

from merit_bank.auth.read_only import open_to_read_only  # noqa: F401  (the marker the sweep respects)
from tests.factories import PASSWORD, page_login
from tests.regions.region_helpers import MONTH, RegionWorld, Seeded, make_region_world

EXPORTS = ("ledger", "balances", "claims", "checkins", "redemptions", "settlement")


@pytest.fixture
def world(app, client) -> RegionWorld:
    return make_region_world(app, client)


def api_reads(v: Seeded) -> list[str]:
    """Every GET of one village that a village admin may make, as the supervisor makes it."""
    h, s, i = v.household, v.shop, v.item
    paths = [
        f"/api/v1/villages/{v.id}",
        f"/api/v1/households/{h}",
        f"/api/v1/households/by-code/{v.household_code}",
        f"/api/v1/households/{h}/transactions",
        f"/api/v1/households/{h}/views",
        f"/api/v1/ledger/households/{h}/balance",
        f"/api/v1/ledger/transactions?household_id={h}",
        f"/api/v1/ledger/transactions/{v.transaction}",
        f"/api/v1/ledger/verify?village_id={v.id}",
        f"/api/v1/ledger/export?village_id={v.id}",
        f"/api/v1/ledger/export?village_id={v.id}&format=csv",
        f"/api/v1/claims/{v.claims[0]}",
        f"/api/v1/claims/{v.claims[1]}",
        f"/api/v1/redemptions/{v.redemption}",
        f"/api/v1/redemptions?shop_id={s}",
        f"/api/v1/shops/{s}",
        f"/api/v1/shops/{s}/items",
        f"/api/v1/shops/{s}/items/{i}",
        f"/api/v1/shops/{s}/items/{i}/movements",
        f"/api/v1/shops/{s}/settlement?month={MONTH}",
        f"/api/v1/shops/{s}/settlement.csv?month={MONTH}",
        f"/api/v1/shops/{s}/settlement.xlsx?month={MONTH}",
        f"/api/v1/shops/{s}/stock/verify",
        f"/api/v1/events/{v.event}",
        f"/api/v1/events/{v.event}/checkins",
        f"/api/v1/events/{v.event}/scans",
        f"/api/v1/reports/stats?village_id={v.id}",
        f"/api/v1/reports/rankings?village_id={v.id}",
        f"/api/v1/reports/honor-board?village_id={v.id}",
    ]
    paths += [
        f"/api/v1/exports/{name}.{fmt}?village_id={v.id}" for name in EXPORTS for fmt in ("csv", "xlsx")
    ]
    return paths


def page_reads(v: Seeded) -> list[str]:
    return [
        f"/reports/?village_id={v.id}",
        f"/reports/rankings?village_id={v.id}",
        f"/reports/exports?village_id={v.id}",
        f"/claims/{v.claims[0]}",
        f"/claims/{v.claims[1]}",
        f"/shop/{v.shop}/redemptions",
        f"/shop/{v.shop}/stock",
        f"/shop/{v.shop}/settlement?month={MONTH}",
    ]


# Lists over the whole scope: the supervisor's region, and nothing of township B in them.
SCOPE_LISTS = [
    "/api/v1/villages",
    "/api/v1/households",
    "/api/v1/claims",
    "/api/v1/redemptions",
    "/api/v1/shops",
    "/api/v1/events",
    "/api/v1/ledger/transactions",
    "/api/v1/ledger/verify",
    "/api/v1/reports/villages",
    "/api/v1/shops/stock/verify",
    "/api/v1/regions",
    "/api/v1/me",
]
SCOPE_PAGES = [
    "/",
    "/reports/",
    "/reports/county",
    "/claims/review",
    "/claims/review?status=posted",
    "/shop/",
]


def _text(response) -> str:
    """A response body as text, an XLSX opened up (its strings live in zipped XML)."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return data.decode("utf-8", "replace")


def _assert_private(w: RegionWorld, path: str, response) -> None:
    """No identity number, even masked, and no phone number in full, in anything a supervisor gets."""
    body = _text(response)
    for number in w.id_numbers:
        assert number not in body and number[:4] + "*" not in body and number[-4:] + '"' not in body, path
    for phone in w.phones:
        assert phone not in body, f"{path} shows the phone {phone}"


def test_a_supervisor_reads_every_village_of_the_township_and_nothing_of_another(world, client):
    w = world
    sup = w.h(w.supervisor)
    for village in w.in_scope:
        for path in api_reads(village):
            response = client.get(path, headers=sup)
            assert response.status_code == 200, (path, response.status_code, response.get_data()[:300])
            _assert_private(w, path, response)
    for path in api_reads(w.out_of_scope):
        if "/verify" in path and "stock" not in path and "village_id" not in path:
            continue
        response = client.get(path, headers=sup)
        assert response.status_code == 404, (path, response.status_code, response.get_data()[:300])
    # Asked for township B's village by filter, the lists refuse or come back empty.
    b = w.out_of_scope
    for path in (
        f"/api/v1/households?village_id={b.id}",
        f"/api/v1/claims?village_id={b.id}",
        f"/api/v1/shops?village_id={b.id}",
        f"/api/v1/events?village_id={b.id}",
    ):
        response = client.get(path, headers=sup)
        assert response.status_code == 404 or response.get_json()["items"] == [], path
    for path in SCOPE_LISTS:
        response = client.get(path, headers=sup)
        assert response.status_code == 200, (path, response.get_data()[:300])
        _assert_private(w, path, response)
        body = response.get_json()
        items = body.get("villages" if path == "/api/v1/reports/villages" else "items", [])
        if path in ("/api/v1/villages", "/api/v1/reports/villages"):
            ids = {item.get("village_id", item.get("id")) for item in items}
            assert ids == {v.id for v in w.in_scope}, path
        elif path != "/api/v1/regions" and isinstance(items, list):
            assert b.id not in {item.get("village_id") for item in items if isinstance(item, dict)}, path


def test_the_pages_too(world, client):
    w = world
    assert page_login(client, w.supervisor_name, PASSWORD).status_code == 302
    for village in w.in_scope:
        for path in page_reads(village):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            _assert_private(w, path, response)
    for path in SCOPE_PAGES:
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, (path, response.status_code)
        _assert_private(w, path, response)
        assert "b1村" not in response.get_data(as_text=True), path
    for path in page_reads(w.out_of_scope):
        assert client.get(path).status_code == 404, path
    # The county comparison lists both villages of the township, and not township B's.
    county = client.get("/reports/county").get_data(as_text=True)
    assert "a1村" in county and "a2村" in county and "b1村" not in county


def test_households_show_masked_phones_and_no_identity_numbers(world, client):
    w = world
    v = w.in_scope[0]
    member = client.get(f"/api/v1/households/{v.household}", headers=w.h(w.supervisor)).get_json()["members"][
        0
    ]
    assert member["phone"] == "138****0001"
    assert member["id_number"] is None
    # The village's own admin still sees the full phone and the masked number.
    own = client.get(f"/api/v1/households/{v.household}", headers=w.h(v.admin)).get_json()["members"][0]
    assert own["phone"] == "13800000001" and own["id_number"].startswith(w.id_numbers[0][:4])


def _fill(rule: str, app: Flask, w: RegionWorld, v: Seeded) -> str:
    """A URL of a rule, its converters filled with ids of a village of the township."""
    values = {
        "village_id": v.id,
        "household_id": v.household,
        "member_id": v.member,
        "claim_id": v.claims[1],
        "rule_id": v.rule,
        "shop_id": v.shop,
        "item_id": v.item,
        "redemption_id": v.redemption,
        "event_id": v.event,
        "checkin_id": 1,
        "transaction_id": v.transaction,
        "user_id": w.supervisor,
        "flag_id": 1,
        "region_id": w.township_a,
        "code": v.code,
        "village_code": v.code,
        "token": "X",
        "name": "x",
        "fmt": "csv",
    }
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values.get(m.group(1), 1)), rule)


def _writes(app: Flask) -> list[tuple[str, str, str]]:
    rows = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "open_to_read_only", False):
            continue  # signing in and out: the supervisor's own session, not the villages' data
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            rows.append((method, rule.rule, rule.endpoint))
    return rows


def test_every_write_is_refused_as_read_only_on_the_api_and_the_pages(world, app, client):
    w = world
    sup = w.h(w.supervisor)
    writes = _writes(app)
    assert len(writes) > 40  # the sweep sees the whole map, not a hand-picked list
    before = _state(app)
    for method, rule, endpoint in writes:
        path = _fill(rule, app, w, w.in_scope[0])
        body = {"json": {}} if rule.startswith("/api/") else {"data": {}}
        response = client.open(path, method=method, headers=sup, **body)
        assert response.status_code in (403, 404), (method, path, endpoint, response.status_code)
        if rule.startswith("/api/") and response.status_code == 403:
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["type"] == "read-only", (method, path)
    # The same forms as a browser: signed in by the page, with a real CSRF token.
    assert page_login(client, w.supervisor_name, PASSWORD).status_code == 302
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/reports/county").get_data(as_text=True)
    )
    assert token
    for method, rule, endpoint in writes:
        if rule.startswith("/api/"):
            continue
        path = _fill(rule, app, w, w.in_scope[0])
        response = client.open(path, method=method, data={"csrf_token": token.group(1)})
        assert response.status_code in (403, 404), (method, path, endpoint, response.status_code)
    assert _state(app) == before
    # Signing out stays possible.
    assert client.post("/logout", data={"csrf_token": token.group(1)}).status_code == 302


SUMMARY_TABLES = (
    "summary_marks",
    "village_month_summary",
    "household_month_summary",
    "household_year_summary",
)


def _state(app: Flask) -> dict[str, int]:
    """Row counts of every table: a refused write leaves the database exactly as it was."""
    from sqlalchemy import func, select

    from merit_bank.extensions import db

    with app.app_context():
        counts = {}
        for table in db.metadata.sorted_tables:
            # Sign-in bookkeeping, and the points summary: a cache of the ledger that reads fold forward
            # (the county page the test takes its form token from), not a write of the supervisor's.
            if table.name in ("login_failures", "revoked_tokens") or table.name in SUMMARY_TABLES:
                continue
            counts[table.name] = db.session.scalar(select(func.count()).select_from(table))
        return counts


def test_credentials_are_not_for_supervisors(world, client):
    """Household cards and event codes let their holder act; a supervisor reads, so gets neither."""
    w = world
    v = w.in_scope[0]
    sup = w.h(w.supervisor)
    for path in (
        f"/api/v1/households/{v.household}/card.png",
        f"/api/v1/households/{v.household}/card.svg",
        f"/api/v1/events/{v.event}/code",
        f"/api/v1/events/{v.event}/qr.png",
    ):
        assert client.get(path, headers=sup).status_code in (403, 404), path
    assert page_login(client, w.supervisor_name, PASSWORD).status_code == 302
    assert client.get(f"/reports/cards?village_id={v.id}").status_code == 403
    assert client.get(f"/reports/import?village_id={v.id}").status_code == 403
    dashboard = client.get(f"/reports/?village_id={v.id}").get_data(as_text=True)
    assert "/reports/cards" not in dashboard
    stock = client.get(f"/shop/{v.shop}/stock").get_data(as_text=True)
    assert "/restock" not in stock and "/stocktake" not in stock and f'/shop/{v.shop}/items"' not in stock
