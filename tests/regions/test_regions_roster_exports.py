"""The roster import and the exports carry the township (乡镇); admin pages keep regions and supervisors."""

from __future__ import annotations

import csv
import io

from tests.factories import PASSWORD, auth, csrf_token, make_user, make_village, page_login, root_admin

EXPORTS = ("ledger", "balances", "claims", "checkins", "redemptions", "settlement")


def _regions(app, client) -> tuple[int, int, int]:
    root = auth(app, root_admin(app))
    county = client.post(
        "/api/v1/regions", json={"name": "清河县", "kind": "county"}, headers=root
    ).get_json()["id"]
    town = client.post(
        "/api/v1/regions", json={"name": "东湖镇", "kind": "township", "parent_id": county}, headers=root
    ).get_json()["id"]
    other = client.post(
        "/api/v1/regions", json={"name": "西山乡", "kind": "township", "parent_id": county}, headers=root
    ).get_json()["id"]
    return county, town, other


def _import(client, headers, village: int, text: str, dry_run: bool = True):
    return client.post(
        f"/api/v1/households/import?village_id={village}&dry_run={'1' if dry_run else '0'}",
        data={"file": (io.BytesIO(text.encode("utf-8")), "roster.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_a_roster_naming_the_township_must_name_the_villages_own(app, client):
    _county, town, _other = _regions(app, client)
    root = auth(app, root_admin(app))
    village = make_village(app, name="幸福村")
    admin = auth(app, make_user(app, "admin", village))
    roster = "乡镇,村民小组,户主姓名,地址,姓名,与户主关系\r\n{t},一组,王五,一组1号,王五,户主\r\n"
    # Not placed yet: the township named is refused, naming the column.
    refused = _import(client, admin, village, roster.format(t="东湖镇")).get_json()
    assert {(e["row"], e["column"]) for e in refused["errors"]} == {(2, "乡镇")}
    assert (
        client.patch(f"/api/v1/villages/{village}", json={"region_id": town}, headers=root).status_code == 200
    )
    assert (
        _import(client, admin, village, roster.format(t="西山乡")).get_json()["errors"][0]["column"] == "乡镇"
    )
    done = _import(client, admin, village, roster.format(t="东湖镇"), dry_run=False)
    assert done.status_code == 200, done.get_json()
    # The column is optional: rosters without it import as before.
    plain = "村民小组,户主姓名,地址,姓名,与户主关系\r\n一组,李四,一组2号,李四,户主\r\n"
    assert _import(client, admin, village, plain).get_json()["ok"]
    template = client.get("/api/v1/households/import/template.xlsx", headers=admin)
    assert template.status_code == 200


def test_every_export_has_the_township_beside_the_village(app, client):
    _county, town, _other = _regions(app, client)
    root = auth(app, root_admin(app))
    village = make_village(app, name="幸福村")
    client.patch(f"/api/v1/villages/{village}", json={"region_id": town}, headers=root)
    from tests.factories import make_household
    from tests.shop.shop_helpers import award

    household = make_household(app, village)
    award(app, village, household["id"], 10)
    for name in EXPORTS:
        response = client.get(f"/api/v1/exports/{name}.csv?village_id={village}&header=both", headers=root)
        assert response.status_code == 200, name
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        keys = rows[1]
        assert keys[keys.index("village") + 1] == "township", name
        for row in rows[2:]:
            assert row[keys.index("township")] == "东湖镇", (name, row)


def test_the_admin_pages_keep_regions_move_villages_and_name_supervisors(app, client):
    root_admin(app)
    village = make_village(app, name="幸福村")
    assert page_login(client, "root", PASSWORD).status_code == 302
    token = csrf_token(client, "/admin/villages")
    assert (
        client.post(
            "/admin/regions", data={"csrf_token": token, "name": "清河县", "kind": "county"}
        ).status_code
        == 302
    )
    page = client.get("/admin/villages").get_data(as_text=True)
    assert "清河县" in page
    from merit_bank.extensions import db
    from merit_bank.villages.models import Region, Village

    with app.app_context():
        county = db.session.query(Region).filter_by(name="清河县").one().id
    made = client.post(
        "/admin/regions",
        data={"csrf_token": token, "name": "东湖镇", "kind": "township", "parent_id": str(county)},
    )
    assert made.status_code == 302
    # A township without a county is refused on the page, naming the field, in the page's language.
    bad = client.post("/admin/regions", data={"csrf_token": token, "name": "西山乡", "kind": "township"})
    assert bad.status_code == 422 and "error" in bad.get_data(as_text=True)
    with app.app_context():
        town = db.session.query(Region).filter_by(name="东湖镇").one().id
    moved = client.post(
        f"/admin/villages/{village}/region", data={"csrf_token": token, "region_id": str(town)}
    )
    assert moved.status_code == 302
    with app.app_context():
        assert db.session.get(Village, village).region_id == town
    assert (
        client.post(
            f"/admin/villages/{village}/region", data={"csrf_token": token, "region_id": str(county)}
        ).status_code
        == 422
    )
    # A supervisor login over the township, from the users page.
    token = csrf_token(client, "/admin/users")
    created = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "jijian1",
            "password": PASSWORD,
            "role": "supervisor",
            "region_id": str(town),
        },
    )
    assert created.status_code == 302
    me = client.get("/api/v1/me", headers=auth(app, _user_id(app, "jijian1"))).get_json()
    assert me["role"] == "supervisor" and me["region_id"] == town and me["village_id"] is None
    # Without a region, or by a village's admin, a supervisor is refused.
    refused = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "jijian2", "password": PASSWORD, "role": "supervisor"},
    )
    assert refused.status_code == 422
    village_admin = auth(app, make_user(app, "admin", village))
    body = {"username": "jijian3", "password": PASSWORD, "role": "supervisor", "region_id": town}
    assert client.post("/api/v1/users", json=body, headers=village_admin).status_code == 403


def _user_id(app, username: str) -> int:
    from merit_bank.auth.models import User
    from merit_bank.extensions import db

    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id
