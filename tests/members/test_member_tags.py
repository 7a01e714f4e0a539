"""Member tags (身份标签): the village's list, members' tags from it, who sets them, and the roster."""

from __future__ import annotations

import io

from openpyxl import Workbook

from merit_bank.extensions import db
from merit_bank.households.models import Member
from tests.factories import (
    PASSWORD,
    auth,
    csrf_token,
    make_household,
    make_user,
    make_village,
    make_villager,
    page_login,
    root_admin,
)

DEFAULTS = ["党员", "村干部", "村民代表", "网格员", "志愿者"]


def _patch(client, headers, household, member_id, tags):
    return client.patch(
        f"/api/v1/households/{household['id']}/members/{member_id}", headers=headers, json={"tags": tags}
    )


def _tags(app, member_id):
    with app.app_context():
        return db.session.get(Member, member_id).tag_list


def test_a_village_starts_with_the_default_tags_and_its_admin_edits_them(app, client):
    village = make_village(app)
    admin = auth(app, make_user(app, "admin", village))
    clerk = auth(app, make_user(app, "clerk", village))
    assert client.get(f"/api/v1/villages/{village}", headers=admin).json["member_tags"] == DEFAULTS
    refused = client.patch(f"/api/v1/villages/{village}", headers=clerk, json={"member_tags": ["党员"]})
    assert refused.status_code == 403
    twice = client.patch(f"/api/v1/villages/{village}", headers=admin, json={"member_tags": ["党员", "党员"]})
    assert twice.status_code == 422 and "member_tags" in twice.json["errors"]
    changed = client.patch(
        f"/api/v1/villages/{village}", headers=admin, json={"member_tags": ["党员", "妇女代表"]}
    )
    assert changed.status_code == 200 and changed.json["member_tags"] == ["党员", "妇女代表"]


def test_clerks_set_tags_from_the_list_and_an_unknown_tag_is_422_on_tags(app, client):
    village = make_village(app)
    household = make_household(app, village)
    member = household["member_ids"][0]
    clerk = auth(app, make_user(app, "clerk", village))
    ok = _patch(client, clerk, household, member, ["志愿者", "党员", "党员"])
    assert ok.status_code == 200, ok.json
    # Once each, in the village's order.
    assert ok.json["tags"] == ["党员", "志愿者"]
    assert client.get(f"/api/v1/households/{household['id']}", headers=clerk).json["members"][0]["tags"] == [
        "党员",
        "志愿者",
    ]
    bad = _patch(client, clerk, household, member, ["党员", "会长"])
    assert bad.status_code == 422
    assert "tags" in bad.json["errors"] and "会长" in bad.json["detail"]
    assert _tags(app, member) == ["党员", "志愿者"], "a refused change writes nothing"
    too_long = _patch(client, clerk, household, member, ["党" * 21])
    assert too_long.status_code == 422 and "tags" in too_long.json["errors"]
    cleared = _patch(client, clerk, household, member, [])
    assert cleared.status_code == 200 and cleared.json["tags"] == []
    # A member of another household through this household's path is absent.
    other = make_household(app, village, "李四")
    assert _patch(client, clerk, household, other["member_ids"][0], ["党员"]).status_code == 404


def test_tags_on_a_new_member_are_checked_too(app, client):
    village = make_village(app)
    household = make_household(app, village)
    admin = auth(app, root_admin(app))
    path = f"/api/v1/households/{household['id']}/members"
    bad = client.post(path, headers=admin, json={"name": "王小", "tags": ["会长"]})
    assert bad.status_code == 422 and "tags" in bad.json["errors"]
    good = client.post(path, headers=admin, json={"name": "王小", "tags": ["网格员"]})
    assert good.status_code == 201 and good.json["tags"] == ["网格员"]


def test_villagers_shopkeepers_and_other_villages_may_not_set_tags(app, client):
    village = make_village(app)
    other = make_village(app, "别村")
    household = make_household(app, village)
    member = household["member_ids"][0]
    villager = auth(app, make_villager(app, household))
    assert _patch(client, villager, household, member, ["党员"]).status_code == 403
    other_clerk = auth(app, make_user(app, "clerk", other))
    assert _patch(client, other_clerk, household, member, ["党员"]).status_code == 404
    other_admin = auth(app, make_user(app, "admin", other))
    assert (
        client.patch(f"/api/v1/villages/{village}", headers=other_admin, json={"member_tags": []}).status_code
        == 404
    )
    assert _tags(app, member) == []


def test_a_tag_taken_off_the_list_is_taken_off_members(app, client):
    village = make_village(app)
    household = make_household(app, village)
    member = household["member_ids"][0]
    admin = auth(app, make_user(app, "admin", village))
    assert _patch(client, admin, household, member, ["党员", "网格员"]).status_code == 200
    assert (
        client.patch(f"/api/v1/villages/{village}", headers=admin, json={"member_tags": ["党员"]}).status_code
        == 200
    )
    assert _tags(app, member) == ["党员"]


def test_a_clerk_ticks_tags_on_the_household_page(app, client):
    village = make_village(app)
    household = make_household(app, village)
    first, second = household["member_ids"]
    make_user(app, "clerk", village, username="tagclerk")
    assert page_login(client, "tagclerk", PASSWORD).status_code == 302
    listing = client.get("/admin/households").get_data(as_text=True)
    assert f"/admin/households/{household['id']}" in listing
    path = f"/admin/households/{household['id']}"
    page = client.get(path)
    assert page.status_code == 200 and f'name="tags-{first}"' in page.get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(client, path),
        f"tags-{first}": ["党员", "村干部"],
        f"tags-{second}": "志愿者",
    }
    saved = client.post(path, data=data)
    assert saved.status_code == 302
    assert _tags(app, first) == ["党员", "村干部"] and _tags(app, second) == ["志愿者"]
    bad = client.post(path, data={"csrf_token": csrf_token(client, path), f"tags-{first}": "会长"})
    assert bad.status_code == 422 and "会长" in bad.get_data(as_text=True)
    assert _tags(app, first) == ["党员", "村干部"]
    # Unticking every box clears a member's tags.
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 302
    assert _tags(app, first) == [] and _tags(app, second) == []


def test_an_admin_edits_the_list_on_the_villages_page(app, client):
    village = make_village(app)
    make_user(app, "admin", village, username="tagadmin")
    assert page_login(client, "tagadmin", PASSWORD).status_code == 302
    page = client.get("/admin/villages").get_data(as_text=True)
    assert f"/admin/villages/{village}/member-tags" in page and "村民代表" in page
    path = f"/admin/villages/{village}/member-tags"
    token = csrf_token(client, "/admin/villages")
    assert (
        client.post(path, data={"csrf_token": token, "member_tags": "党员\r\n老党员、 网格员\n"}).status_code
        == 302
    )
    with app.app_context():
        from merit_bank.villages.models import Village

        assert db.session.get(Village, village).tag_list == ["党员", "老党员", "网格员"]
    bad = client.post(path, data={"csrf_token": token, "member_tags": "党员\n党员"})
    assert bad.status_code == 422


# --- the roster's 身份标签 column --------------------------------------------------------------------------


def _roster(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["户主姓名", "姓名", "与户主关系", "身份标签"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _import(client, headers, village, data, dry_run=False):
    return client.post(
        f"/api/v1/households/import?village_id={village}&dry_run={'1' if dry_run else '0'}",
        data={"file": (io.BytesIO(data), "roster.xlsx")},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_the_roster_column_sets_tags_and_an_unknown_tag_is_a_row_error(app, client):
    village = make_village(app)
    admin = auth(app, make_user(app, "admin", village))
    bad = _import(
        client,
        admin,
        village,
        _roster([["周一", "周一", "户主", "党员"], ["周一", "周二", "子", "党员，会长"]]),
    )
    assert bad.status_code == 422
    errors = bad.json["report"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "身份标签")] and "会长" in errors[0]["problem"]
    rows = [
        ["周一", "周一", "户主", "党员、村干部"],
        ["周一", "周二", "子", "网格员;志愿者"],
        ["周一", "周三", "女", ""],
    ]
    ok = _import(client, admin, village, _roster(rows))
    assert ok.status_code == 200, ok.json
    with app.app_context():
        tags = {m.name: m.tag_list for m in db.session.query(Member).filter(Member.name.like("周%"))}
    assert tags == {"周一": ["党员", "村干部"], "周二": ["网格员", "志愿者"], "周三": []}
    # A re-import that names tags replaces those of members already registered; a blank cell keeps them.
    rows[0][3] = "村民代表"
    rows[1][3] = ""
    again = _import(client, admin, village, _roster(rows))
    assert again.status_code == 200 and again.json["members_added"] == 0
    with app.app_context():
        tags = {m.name: m.tag_list for m in db.session.query(Member).filter(Member.name.like("周%"))}
    assert tags == {"周一": ["村民代表"], "周二": ["网格员", "志愿者"], "周三": []}
