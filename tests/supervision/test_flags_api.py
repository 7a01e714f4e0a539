"""The flags API and pages: a supervisor's scope, a flag's stable identity, and its check with a note."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import PASSWORD, auth, csrf_token, make_user, page_login, root_admin
from tests.supervision.helpers import install_clock, make_supervisor, make_township, make_v


@pytest.fixture
def town(app, monkeypatch):
    """Township A (one village with adjustments to flag) and township B (the same), with a supervisor each."""
    clk, day = install_clock(monkeypatch)
    a = make_v(app, "甲村")
    b = make_v(app, "乙村")
    clk.at(day, 9)
    for village in (a, b):
        for n in range(3):
            clk.tick(60)
            village.adjust(n, 10)
    region_a = make_township(app, "甲镇", [a.id])
    region_b = make_township(app, "乙镇", [b.id])
    sup_a = make_supervisor(app, region_a, "sup_a")
    sup_b = make_supervisor(app, region_b, "sup_b")
    query = {"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=9)).isoformat()}
    return {
        "a": a,
        "b": b,
        "region_a": region_a,
        "region_b": region_b,
        "sup_a": sup_a,
        "sup_b": sup_b,
        "query": query,
        "clock": clk,
    }


def _get(client, app, user, **query):
    return client.get("/api/v1/supervision/flags", query_string=query, headers=auth(app, user))


def test_a_supervisor_reads_the_flags_of_their_township_only(app, client, town):
    q = town["query"]
    mine = _get(client, app, town["sup_a"], region_id=town["region_a"], **q)
    assert mine.status_code == 200
    items = mine.get_json()["items"]
    assert items and {i["village_id"] for i in items} == {town["a"].id}
    assert set(items[0]) >= {"id", "code", "village_id", "reason", "evidence", "status"}
    # Without a region: every village they supervise, which is the same.
    assert {i["id"] for i in _get(client, app, town["sup_a"], **q).get_json()["items"]} == {
        i["id"] for i in items
    }
    # Township B, or one of its villages: as absent as a region that does not exist.
    assert _get(client, app, town["sup_a"], region_id=town["region_b"], **q).status_code == 404
    assert _get(client, app, town["sup_a"], village_id=town["b"].id, **q).status_code == 404
    assert _get(client, app, town["sup_a"], region_id=999_999, **q).status_code == 404
    # A deployment admin reads any township.
    root = root_admin(app)
    assert {
        i["village_id"] for i in _get(client, app, root, region_id=town["region_b"], **q).get_json()["items"]
    } == {town["b"].id}


def test_village_staff_and_villagers_do_not_read_flags(app, client, town):
    clerk = town["a"].clerks[0]
    admin = town["a"].admin
    for user in (clerk, admin, town["a"].villager(0)):
        assert _get(client, app, user, **town["query"]).status_code == 403
    response = client.post(
        "/api/v1/supervision/flags/1/check", json={"note": "看过"}, headers=auth(app, admin)
    )
    assert response.status_code in (403, 404)


def test_bad_period_is_a_422_naming_the_field(app, client, town):
    response = _get(client, app, town["sup_a"], **{"from": "2026-13-01"})
    assert response.status_code == 422
    assert "from" in response.get_json()["errors"]


def test_a_flag_keeps_its_id_and_its_check_when_computed_again(app, client, town):
    q = town["query"]
    first = _get(client, app, town["sup_a"], **q).get_json()["items"]
    flag = next(i for i in first if i["code"] == "adjustments")
    assert flag["status"] == "open" and flag["checked_by"] is None

    empty = client.post(
        f"/api/v1/supervision/flags/{flag['id']}/check", json={"note": "  "}, headers=auth(app, town["sup_a"])
    )
    assert empty.status_code == 422 and "note" in empty.get_json()["errors"]
    # Township B's supervisor cannot see (nor check) township A's flag.
    other = client.post(
        f"/api/v1/supervision/flags/{flag['id']}/check",
        json={"note": "看过"},
        headers=auth(app, town["sup_b"]),
    )
    assert other.status_code == 404
    assert (
        client.get(f"/api/v1/supervision/flags/{flag['id']}", headers=auth(app, town["sup_b"])).status_code
        == 404
    )

    checked = client.post(
        f"/api/v1/supervision/flags/{flag['id']}/check",
        json={"note": "已核实：三笔更正均有村民签字的申请。"},
        headers=auth(app, town["sup_a"]),
    )
    assert checked.status_code == 200, checked.get_json()
    body = checked.get_json()
    assert body["status"] == "checked" and body["checked_by"]["id"] == town["sup_a"]
    assert body["checked_at"] and body["note"].startswith("已核实")

    again = _get(client, app, town["sup_a"], **q).get_json()["items"]
    same = next(i for i in again if i["code"] == "adjustments")
    assert same["id"] == flag["id"]
    assert same["status"] == "checked" and same["note"].startswith("已核实")
    assert same["checked_by"]["id"] == town["sup_a"]
    one = client.get(f"/api/v1/supervision/flags/{flag['id']}", headers=auth(app, town["sup_a"]))
    assert one.status_code == 200 and one.get_json()["status"] == "checked"

    # A fourth adjustment: new evidence the check did not see opens the flag again, the check kept.
    town["clock"].tick(60)
    town["a"].adjust(3, 10)
    reopened = next(
        i for i in _get(client, app, town["sup_a"], **q).get_json()["items"] if i["id"] == flag["id"]
    )
    assert reopened["status"] == "open" and reopened["figures"]["count"] == 4
    assert reopened["note"].startswith("已核实") and reopened["checked_by"]["id"] == town["sup_a"]


def test_the_flags_page_in_chinese_opens_a_flag_down_to_its_transaction(app, client, town):
    page_login(client, "sup_a", PASSWORD)
    html = client.get("/supervision/", query_string=town["query"]).get_data(as_text=True)
    assert "监督" in html and "甲村" in html and "乙村" not in html
    assert "更正" in html or "调整" in html  # the adjustments flag, named in Chinese
    flags = client.get(
        "/api/v1/supervision/flags", query_string=town["query"], headers=auth(app, town["sup_a"])
    )
    flag = next(i for i in flags.get_json()["items"] if i["code"] == "adjustments")
    detail = client.get(f"/supervision/flags/{flag['id']}").get_data(as_text=True)
    tx_id = next(e["id"] for e in flag["evidence"] if e["kind"] == "transaction")
    assert f"/supervision/transactions/{tx_id}" in detail
    tx_page = client.get(f"/supervision/transactions/{tx_id}")
    assert tx_page.status_code == 200 and "更正" in tx_page.get_data(as_text=True)
    # Township B's transaction is not theirs to open.
    other = client.get(
        "/api/v1/supervision/flags", query_string=town["query"], headers=auth(app, town["sup_b"])
    )
    other_tx = next(
        e["id"] for i in other.get_json()["items"] for e in i["evidence"] if e["kind"] == "transaction"
    )
    assert client.get(f"/supervision/transactions/{other_tx}").status_code == 404
    # Marked checked through the page's form; an empty note is refused in Chinese.
    token = csrf_token(client, f"/supervision/flags/{flag['id']}")
    refused = client.post(f"/supervision/flags/{flag['id']}/check", data={"note": "", "csrf_token": token})
    assert refused.status_code == 422 and "必填" in refused.get_data(as_text=True)
    done = client.post(f"/supervision/flags/{flag['id']}/check", data={"note": "已核实", "csrf_token": token})
    assert done.status_code == 302
    assert "已核实" in client.get(f"/supervision/flags/{flag['id']}").get_data(as_text=True)


def test_the_pages_are_not_for_village_staff(app, client, town):
    username = "clerk_page"
    make_user(app, "clerk", town["a"].id, username=username)
    page_login(client, username, PASSWORD)
    assert client.get("/supervision/").status_code == 403


def test_a_county_supervisor_reads_each_township_of_the_county(app, client, town):
    from merit_bank.extensions import db
    from merit_bank.villages.models import Region

    with app.app_context():
        county = Region(name="甲县", kind="county")
        db.session.add(county)
        db.session.flush()
        db.session.get_one(Region, town["region_a"]).parent_id = county.id
        county_id = county.id
        db.session.commit()
    sup = make_supervisor(app, county_id, "sup_county")
    q = town["query"]
    by_township = _get(client, app, sup, region_id=town["region_a"], **q)
    assert by_township.status_code == 200
    assert {i["village_id"] for i in by_township.get_json()["items"]} == {town["a"].id}
    whole = _get(client, app, sup, **q).get_json()["items"]
    assert {i["village_id"] for i in whole} == {town["a"].id}  # township B is in no county of theirs
    assert _get(client, app, sup, region_id=town["region_b"], **q).status_code == 404
