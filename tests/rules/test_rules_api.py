"""Scoring rules over HTTP: scope, versions, retirement, validation and the default rulebook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.rules.rulebook import DEFAULT_RULEBOOK
from tests.factories import auth, make_household, make_user, make_village, make_villager, root_admin

RULE = {
    "code": "VOL-EACH",
    "name": "志愿服务每次",
    "council": "volunteer",
    "points": 5,
    "unit": "each",
    "needs_review": True,
    "notice_days": 0,
    "approvals_required": 1,
}


def _setup(app):
    village = make_village(app)
    other = make_village(app, "邻村")
    household = make_household(app, village)
    return {
        "village": village,
        "other": other,
        "household": household,
        "root": root_admin(app),
        "admin": make_user(app, "admin", village),
        "other_admin": make_user(app, "admin", other),
        "clerk": make_user(app, "clerk", village),
        "villager": make_villager(app, household),
    }


def _claim(client, app, s, rule_id):
    """A claim on the rule by the test household's villager; returns the response."""
    body = {"household_id": s["household"]["id"], "rule_id": rule_id}
    return client.post("/api/v1/claims", json=body, headers=auth(app, s["villager"]))


def test_an_admin_adds_a_rule_to_their_village(client, app):
    s = _setup(app)
    response = client.post("/api/v1/rules", json=RULE, headers=auth(app, s["admin"]))
    assert response.status_code == 201
    body = response.get_json()
    assert body["version"] == 1
    assert body["village_id"] == s["village"]
    assert body["active"] is True
    assert body["points"] == 5


def test_only_admins_manage_rules_and_only_deployment_admins_deployment_wide_ones(client, app):
    s = _setup(app)
    assert client.post("/api/v1/rules", json=RULE, headers=auth(app, s["clerk"])).status_code == 403
    assert client.post("/api/v1/rules", json=RULE, headers=auth(app, s["villager"])).status_code == 403
    wide = {**RULE, "village_id": None}
    assert client.post("/api/v1/rules", json=wide, headers=auth(app, s["admin"])).status_code == 403
    response = client.post("/api/v1/rules", json=wide, headers=auth(app, s["root"]))
    assert response.status_code == 201
    assert response.get_json()["village_id"] is None
    foreign = {**RULE, "village_id": s["other"]}
    assert client.post("/api/v1/rules", json=foreign, headers=auth(app, s["admin"])).status_code == 404


def test_rules_are_listed_in_scope_and_filtered(client, app):
    s = _setup(app)
    client.post("/api/v1/rules", json=RULE, headers=auth(app, s["admin"]))
    client.post(
        "/api/v1/rules",
        json={**RULE, "code": "W", "council": "wedding_funeral"},
        headers=auth(app, s["admin"]),
    )
    client.post("/api/v1/rules", json={**RULE, "code": "X"}, headers=auth(app, s["other_admin"]))
    client.post(
        "/api/v1/rules", json={**RULE, "code": "ALL", "village_id": None}, headers=auth(app, s["root"])
    )
    mine = client.get("/api/v1/rules", headers=auth(app, s["villager"])).get_json()
    assert sorted(r["code"] for r in mine["items"]) == ["ALL", "VOL-EACH", "W"]
    volunteer = client.get("/api/v1/rules?council=volunteer", headers=auth(app, s["clerk"])).get_json()
    assert sorted(r["code"] for r in volunteer["items"]) == ["ALL", "VOL-EACH"]
    assert client.get("/api/v1/rules?active=false", headers=auth(app, s["admin"])).get_json()["total"] == 0
    assert client.get("/api/v1/rules", headers=auth(app, s["root"])).get_json()["total"] == 4
    assert client.get("/api/v1/rules?council=nope", headers=auth(app, s["admin"])).status_code == 422


def test_another_villages_rule_is_not_found(client, app):
    s = _setup(app)
    rid = client.post("/api/v1/rules", json=RULE, headers=auth(app, s["other_admin"])).get_json()["id"]
    assert client.get(f"/api/v1/rules/{rid}", headers=auth(app, s["admin"])).status_code == 404
    assert (
        client.patch(f"/api/v1/rules/{rid}", json={"points": 1}, headers=auth(app, s["admin"])).status_code
        == 404
    )
    response = client.post(
        "/api/v1/claims",
        json={"household_id": s["household"]["id"], "rule_id": rid},
        headers=auth(app, s["villager"]),
    )
    assert response.status_code == 404


def test_invalid_rules_are_refused(client, app):
    s = _setup(app)
    h = auth(app, s["admin"])
    for bad in (
        {"points": 0},
        {"points": 10**12},
        {"approvals_required": 3},
        {"unit": "day"},
        {"council": "party"},
        {"notice_days": -1},
        {"monthly_cap": 0},
        {"code": ""},
        {"name": "x" * 101},
        {"effective_from": "2026-05-01", "effective_to": "2026-04-01"},
        {"bogus": True},
    ):
        response = client.post("/api/v1/rules", json={**RULE, **bad}, headers=h)
        assert response.status_code == 422, (bad, response.get_json())
        assert response.get_json()["type"] == "validation-error"
    assert client.post("/api/v1/rules", json=RULE, headers=h).status_code == 201
    duplicate = client.post("/api/v1/rules", json=RULE, headers=h)
    assert duplicate.status_code == 409
    assert duplicate.get_json()["type"] == "duplicate-code"


def test_editing_a_rule_makes_a_new_version_and_old_claims_keep_theirs(client, app):
    s = _setup(app)
    h = auth(app, s["admin"])
    rid = client.post("/api/v1/rules", json=RULE, headers=h).get_json()["id"]
    old_claim = client.post(
        "/api/v1/claims",
        json={"household_id": s["household"]["id"], "rule_id": rid},
        headers=auth(app, s["villager"]),
    ).get_json()
    response = client.patch(f"/api/v1/rules/{rid}", json={"points": 8, "name": "志愿服务（新）"}, headers=h)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["version"], body["points"]) == (2, 8)
    assert [(v["version"], v["points"], v["name"]) for v in body["versions"]] == [
        (1, 5, "志愿服务每次"),
        (2, 8, "志愿服务（新）"),
    ]
    # The same terms again make no new version.
    assert client.patch(f"/api/v1/rules/{rid}", json={"points": 8}, headers=h).get_json()["version"] == 2
    new_claim = client.post(
        "/api/v1/claims",
        json={"household_id": s["household"]["id"], "rule_id": rid},
        headers=auth(app, s["villager"]),
    ).get_json()
    assert (old_claim["rule_version"], old_claim["points"]) == (1, 5)
    assert (new_claim["rule_version"], new_claim["points"]) == (2, 8)
    clerk = auth(app, s["clerk"])
    posted = client.post(f"/api/v1/claims/{old_claim['id']}/approve", json={}, headers=clerk).get_json()
    assert posted["status"] == "posted"
    assert posted["rule_name"] == "志愿服务每次"
    with app.app_context():
        tx = ledger.transaction_by_key(f"claim:{old_claim['id']}")
        assert (tx.rule_id, tx.rule_version) == (rid, 1)
        assert ledger.household_balance(s["household"]["id"]) == 5


def test_a_retired_rule_takes_no_claims_and_a_used_rule_is_never_deleted(client, app):
    s = _setup(app)
    h = auth(app, s["admin"])
    rid = client.post("/api/v1/rules", json=RULE, headers=h).get_json()["id"]
    pending = client.post(
        "/api/v1/claims",
        json={"household_id": s["household"]["id"], "rule_id": rid},
        headers=auth(app, s["villager"]),
    ).get_json()
    deleted = client.delete(f"/api/v1/rules/{rid}", headers=h)
    assert deleted.status_code == 409
    assert deleted.get_json()["type"] == "rule-in-use"
    retired = client.post(f"/api/v1/rules/{rid}/retire", headers=h)
    assert retired.status_code == 200
    assert (retired.get_json()["active"], retired.get_json()["retired"]) == (False, True)
    refused = client.post(
        "/api/v1/claims",
        json={"household_id": s["household"]["id"], "rule_id": rid},
        headers=auth(app, s["villager"]),
    )
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "rule-retired"
    patched = client.patch(f"/api/v1/rules/{rid}", json={"points": 1}, headers=h)
    assert patched.status_code == 409
    assert patched.get_json()["type"] == "rule-retired"
    # A claim made before retirement is still reviewed and posted.
    done = client.post(f"/api/v1/claims/{pending['id']}/approve", json={}, headers=auth(app, s["clerk"]))
    assert done.get_json()["status"] == "posted"
    assert client.get(f"/api/v1/rules/{rid}", headers=h).status_code == 200
    # Its code is free again for a successor.
    assert client.post("/api/v1/rules", json=RULE, headers=h).status_code == 201
    # A rule that was never used may be deleted.
    unused = client.post("/api/v1/rules", json={**RULE, "code": "TYPO"}, headers=h).get_json()["id"]
    assert client.delete(f"/api/v1/rules/{unused}", headers=h).status_code == 204
    assert client.get(f"/api/v1/rules/{unused}", headers=h).status_code == 404


def test_a_rule_outside_its_effective_dates_takes_no_claims(client, app):
    s = _setup(app)
    h = auth(app, s["admin"])
    start = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    rid = client.post("/api/v1/rules", json={**RULE, "effective_from": start}, headers=h).get_json()["id"]
    refused = client.post(
        "/api/v1/claims",
        json={"household_id": s["household"]["id"], "rule_id": rid},
        headers=auth(app, s["villager"]),
    )
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "rule-not-effective"


def test_the_default_rulebook_is_imported_once(client, app):
    s = _setup(app)
    h = auth(app, s["admin"])
    response = client.post("/api/v1/rules/import-default", json={"village_id": s["village"]}, headers=h)
    assert response.status_code == 201
    assert response.get_json()["created"] == len(DEFAULT_RULEBOOK) >= 20
    rules = client.get("/api/v1/rules?per_page=200", headers=h).get_json()["items"]
    assert {r["council"] for r in rules} == {
        "volunteer",
        "covenant",
        "wedding_funeral",
        "villagers_council",
        "moral_review",
        "anti_drug_gambling",
    }
    assert any(r["points"] < 0 for r in rules)
    assert any(r["approvals_required"] == 2 for r in rules)
    again = client.post("/api/v1/rules/import-default", json={"village_id": s["village"]}, headers=h)
    assert again.get_json()["created"] == 0
    assert (
        client.post("/api/v1/rules/import-default", json={"village_id": s["other"]}, headers=h).status_code
        == 404
    )


def test_the_cli_loads_the_rulebook(runner, app):
    s = _setup(app)
    with app.app_context():
        from merit_bank.villages.models import Village

        code = db.session.get(Village, s["village"]).code
    result = runner.invoke(args=["load-rulebook", code, "--admin", "root"])
    assert result.exit_code == 0, result.output
    assert f"Added {len(DEFAULT_RULEBOOK)} rule(s)" in result.output
    assert runner.invoke(args=["load-rulebook", "NOPE", "--admin", "root"]).exit_code != 0
