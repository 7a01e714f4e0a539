"""The ledger's HTTP API: history, transaction lists, verification, export and corrections, within scope."""

from __future__ import annotations

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from tests.factories import (
    auth,
    make_household,
    make_shop,
    make_user,
    make_village,
    make_villager,
    root_admin,
)


def _setup(app):
    village = make_village(app)
    other_village = make_village(app, name="别村")
    home = make_household(app, village)
    neighbour = make_household(app, village)
    far = make_household(app, other_village)
    shop = make_shop(app, village)
    with app.app_context():
        ledger.open_shop_account(village_id=village, shop_id=shop)
        ledger.award(village_id=village, household_id=home["id"], council="volunteer", points=10,
                     idempotency_key="a1", actor_id=None, memo="扫雪")  # fmt: skip
        ledger.redeem(village_id=village, household_id=home["id"], shop_id=shop, points=3,
                      idempotency_key="r1", actor_id=None)  # fmt: skip
        ledger.award(village_id=village, household_id=neighbour["id"], council="covenant", points=-2,
                     idempotency_key="d1", actor_id=None)  # fmt: skip
        db.session.remove()
    return village, other_village, home, neighbour, far, shop


def test_a_villager_sees_their_own_history_and_nobody_elses(app, client):
    _, _, home, neighbour, _, _ = _setup(app)
    headers = auth(app, make_villager(app, home))
    response = client.get(f"/api/v1/households/{home['id']}/transactions", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 2 and body["page"] == 1
    assert [(r["kind"], r["amount"], r["balance_after"]) for r in body["items"]] == [
        ("redemption", -3, 7),
        ("award", 10, 10),
    ]
    assert set(body["items"][0]) == {
        "id",
        "kind",
        "amount",
        "balance_after",
        "memo",
        "created_at",
        "reverses_id",
        "member_name",
    }
    assert (
        client.get(f"/api/v1/households/{neighbour['id']}/transactions", headers=headers).status_code == 404
    )
    assert client.get("/api/v1/households/99999/transactions", headers=headers).status_code == 404
    listed = client.get("/api/v1/ledger/transactions", headers=headers).get_json()
    assert listed["total"] == 2 and {t["amount"] for t in listed["items"]} == {10, -3}


def test_a_clerk_lists_their_village_only(app, client):
    village, other, home, _, far, _ = _setup(app)
    headers = auth(app, make_user(app, "clerk", village))
    body = client.get("/api/v1/ledger/transactions", headers=headers).get_json()
    assert body["total"] == 3
    assert all(len(t["entries"]) == 2 for t in body["items"])
    body = client.get(f"/api/v1/ledger/transactions?household_id={home['id']}", headers=headers).get_json()
    assert [t["balance_after"] for t in body["items"]] == [7, 10]
    assert client.get(f"/api/v1/ledger/transactions?village_id={other}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/households/{far['id']}/transactions", headers=headers).status_code == 404
    assert client.get("/api/v1/ledger/verify", headers=headers).status_code == 403


def test_time_filters_and_balance_as_of(app, client):
    _, _, home, _, _, _ = _setup(app)
    headers = auth(app, root_admin(app))
    body = client.get(
        "/api/v1/ledger/transactions?from=2000-01-01T00:00:00%2B08:00", headers=headers
    ).get_json()
    assert body["total"] == 3
    body = client.get("/api/v1/ledger/transactions?to=2000-01-01T00:00:00Z", headers=headers).get_json()
    assert body["total"] == 0
    response = client.get(f"/api/v1/ledger/households/{home['id']}/balance", headers=headers)
    assert response.get_json()["balance"] == 7
    response = client.get(
        f"/api/v1/ledger/households/{home['id']}/balance?as_of=2000-01-01T00:00:00Z", headers=headers
    )
    assert response.get_json()["balance"] == 0
    assert client.get("/api/v1/ledger/transactions?from=yesterday", headers=headers).status_code == 422


def test_verify_and_export_for_admins(app, client):
    village, *_ = _setup(app)
    headers = auth(app, root_admin(app))
    body = client.get("/api/v1/ledger/verify", headers=headers).get_json()
    assert body["ok"] is True and body["transactions"] == 3
    response = client.get(f"/api/v1/ledger/export?village_id={village}&format=csv", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True).count("\n") == 1 + 6
    response = client.get(f"/api/v1/ledger/export?village_id={village}", headers=headers)
    assert response.mimetype == "application/x-ndjson"


def test_reversal_and_adjustment_are_idempotent_by_header(app, client):
    village, _, home, neighbour, _, _ = _setup(app)
    admin = make_user(app, "admin", village)
    headers = auth(app, admin)
    history = client.get(f"/api/v1/households/{home['id']}/transactions", headers=headers).get_json()["items"]
    redemption = next(item for item in history if item["kind"] == "redemption")
    refused = client.post(
        f"/api/v1/ledger/transactions/{redemption['id']}/reversal",
        json={"memo": "undo"},
        headers={**headers, "Idempotency-Key": "k0"},
    )
    assert (refused.status_code, refused.get_json()["type"]) == (409, "use-redemption-void")
    deductions = client.get(f"/api/v1/households/{neighbour['id']}/transactions", headers=headers).get_json()
    tx_id = deductions["items"][0]["id"]
    url = f"/api/v1/ledger/transactions/{tx_id}/reversal"
    assert client.post(url, json={"memo": "void"}, headers=headers).status_code == 400
    keyed = {**headers, "Idempotency-Key": "k1"}
    first = client.post(url, json={"memo": "void"}, headers=keyed)
    assert first.status_code == 201 and first.get_json()["reverses_id"] == tx_id
    again = client.post(url, json={"memo": "void"}, headers=keyed)
    assert (again.status_code, again.get_json()["id"]) == (201, first.get_json()["id"])
    reused = client.post(url, json={"memo": "other"}, headers=keyed)
    assert (reused.status_code, reused.get_json()["type"]) == (422, "idempotency-key-reused")
    twice = client.post(url, json={"memo": "void"}, headers={**headers, "Idempotency-Key": "k2"})
    assert (twice.status_code, twice.get_json()["type"]) == (409, "already-reversed")
    body = {"village_id": village, "household_id": home["id"], "points": -100, "memo": "fix"}
    response = client.post(
        "/api/v1/ledger/adjustments", json=body, headers={**headers, "Idempotency-Key": "j"}
    )
    assert (response.status_code, response.get_json()["type"]) == (409, "insufficient-balance")
    body["points"] = 5
    response = client.post(
        "/api/v1/ledger/adjustments", json=body, headers={**headers, "Idempotency-Key": "j"}
    )
    assert response.status_code == 201 and response.get_json()["kind"] == "adjustment"
    with app.app_context():
        assert ledger.household_balance(home["id"]) == 12
        assert ledger.household_balance(neighbour["id"]) == 0
        assert ledger.verify()["ok"]
