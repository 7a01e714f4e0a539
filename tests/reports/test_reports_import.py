"""Roster import: a dry run reports every bad row; a bad file writes nothing; a clean one twice, once."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from merit_bank.extensions import db
from merit_bank.households.models import Household, Member
from merit_bank.ledger.models import Account
from tests.factories import id_number, make_household

HEAD = ["村民小组", "户主姓名", "地址", "姓名", "与户主关系", "身份证号", "手机号"]


def _xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["幸福村户籍花名册"])  # a title row above the headings, as rosters often have
    sheet.append(HEAD)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _csv(rows: list[list], encoding: str = "utf-8-sig") -> bytes:
    lines = [",".join(HEAD)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _post(client, w, data: bytes, name: str, dry_run: bool):
    return client.post(
        f"/api/v1/households/import?village_id={w.village}&dry_run={'1' if dry_run else '0'}",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=w.h(w.admin),
    )


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.query(Household).count(),
            db.session.query(Member).count(),
            db.session.query(Account).filter_by(kind="household").count(),
        )


def _clean_rows() -> list[list]:
    a, b = id_number(901), id_number(902)
    return [
        ["一组", "孙大伟", "幸福村一组8号", "孙大伟", "户主", a, "13900000001"],
        ["一组", "孙大伟", "幸福村一组8号", "周小红", "配偶", b, ""],
        ["一组", "孙大伟", "幸福村一组8号", "孙小明", "子", "", ""],
        ["二组", "钱老四", "幸福村二组3号", "钱老四", "户主", "", "139-0000-0002"],
    ]


def test_a_clean_roster_imported_twice_writes_once(rworld, client):
    before = _counts(rworld.app)
    data = _xlsx(_clean_rows())
    dry = _post(client, rworld, data, "roster.xlsx", dry_run=True).get_json()
    assert dry["ok"] and dry["households_created"] == 2 and dry["members_added"] == 4
    assert _counts(rworld.app) == before, "a dry run writes nothing"

    first = _post(client, rworld, data, "roster.xlsx", dry_run=False)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["written"] and first.get_json()["households_created"] == 2
    after = _counts(rworld.app)
    assert after == (before[0] + 2, before[1] + 4, before[2] + 2), "households, members and their accounts"

    second = _post(client, rworld, data, "roster.xlsx", dry_run=False).get_json()
    assert second["households_created"] == 0 and second["members_added"] == 0
    assert second["households_existing"] == 2 and second["members_existing"] == 4
    assert _counts(rworld.app) == after
    with rworld.app.app_context():
        sun = db.session.query(Household).filter_by(head_name="孙大伟").one()
        assert sun.group.name == "一组" and [m.name for m in sun.members] == ["孙大伟", "周小红", "孙小明"]
        assert sun.members[0].id_number_masked.endswith(_clean_rows()[0][5][-4:])
        qian = db.session.query(Household).filter_by(head_name="钱老四").one()
        assert qian.members[0].phone == "13900000002"


def test_a_new_member_in_a_re_import_is_added_to_the_same_household(rworld, client):
    rows = _clean_rows()
    _post(client, rworld, _csv(rows), "roster.csv", dry_run=False)
    before = _counts(rworld.app)
    rows.append(["一组", "孙大伟", "幸福村一组8号", "孙小芳", "女", "", ""])
    report = _post(client, rworld, _csv(rows), "roster.csv", dry_run=False).get_json()
    assert report["households_created"] == 0 and report["members_added"] == 1
    assert _counts(rworld.app) == (before[0], before[1] + 1, before[2])


def test_gbk_csv_from_excel_is_read(rworld, client):
    report = _post(client, rworld, _csv(_clean_rows()[3:], "gb18030"), "花名册.csv", dry_run=True).get_json()
    assert report["ok"] and report["households_created"] == 1


def test_every_bad_row_is_reported_and_nothing_is_written(rworld, client):
    taken = id_number(903)
    make_household(rworld.app, rworld.village, "已登记", members=[{"name": "已登记", "id_number": taken}])
    before = _counts(rworld.app)
    good = id_number(904)
    bad_check_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [
        ["一组", "孙大伟", "一组8号", "孙大伟", "户主", good, "13900000001"],  # row 3: fine
        ["一组", "孙大伟", "一组8号", "", "配偶", "", ""],  # row 4: no name
        ["一组", "孙大伟", "一组8号", "孙二", "子", good, ""],  # row 5: same id as row 3
        ["九组", "李四", "九组1号", "李四", "户主", "", ""],  # row 6: no such group
        ["二组", "王五", "二组2号", "王五", "户主", bad_check_digit, ""],  # row 7: bad check digit
        ["二组", "王五", "二组2号", "王小五", "子", "", "12ab"],  # row 8: bad phone
        ["二组", "赵六", "二组6号", "赵六", "户主", taken, ""],  # row 9: registered elsewhere
        ["二组", "钱七", "二组7号", "钱七", "户主", 110101199001010011, ""],  # row 10: a number in Excel
    ]
    response = _post(client, rworld, _xlsx(rows), "roster.xlsx", dry_run=True)
    report = response.get_json()
    assert response.status_code == 200 and not report["ok"]
    found = {(e["row"], e["column"]) for e in report["errors"]}
    assert found == {
        (4, "姓名"),
        (5, "身份证号"),
        (6, "村民小组"),
        (7, "身份证号"),
        (8, "手机号"),
        (9, "身份证号"),
        (10, "身份证号"),
    }
    assert all(e["problem"] for e in report["errors"])

    refused = _post(client, rworld, _xlsx(rows), "roster.xlsx", dry_run=False)
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["type"] == "import-invalid"
    assert {(e["row"], e["column"]) for e in body["report"]["errors"]} == found
    assert _counts(rworld.app) == before


def test_import_needs_a_file_and_a_village_in_scope(rworld, client):
    assert (
        client.post(
            f"/api/v1/households/import?village_id={rworld.village}", headers=rworld.h(rworld.admin)
        ).status_code
        == 400
    )
    response = client.post(
        f"/api/v1/households/import?village_id={rworld.village}&dry_run=1",
        data={"file": (io.BytesIO(_csv(_clean_rows())), "r.csv")},
        content_type="multipart/form-data",
        headers=rworld.h(rworld.other_admin),
    )
    assert response.status_code == 404
    garbage = _post(client, rworld, b"PK\x03\x04not a zip", "x.xlsx", dry_run=True)
    assert garbage.status_code == 422 and garbage.get_json()["type"] == "unreadable-file"
    no_headings = _post(client, rworld, b"a,b\r\n1,2\r\n", "x.csv", dry_run=True)
    assert no_headings.status_code == 422 and no_headings.get_json()["type"] == "missing-columns"


def test_the_template_opens_and_imports_as_an_empty_roster(rworld, client):
    response = client.get("/api/v1/households/import/template.xlsx", headers=rworld.h(rworld.clerk))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    assert [c.value for c in sheet[1]] == [*HEAD, "身份标签"]
    report = _post(client, rworld, response.get_data(), "template.xlsx", dry_run=True).get_json()
    assert report["ok"] and report["rows"] == 0


def test_cli_imports_with_a_progress_bar(rworld, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(_xlsx(_clean_rows()))
    runner = rworld.app.test_cli_runner()
    with rworld.app.app_context():
        from merit_bank.villages.models import Village

        code = db.session.get(Village, rworld.village).code
    dry = runner.invoke(args=["import-households", code, str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert _counts(rworld.app)[0] == 7
    result = runner.invoke(args=["import-households", code, str(path)])
    assert result.exit_code == 0, result.output
    assert "2" in result.output and _counts(rworld.app)[0] == 9
    again = runner.invoke(args=["import-households", code, str(path)])
    assert again.exit_code == 0 and _counts(rworld.app)[0] == 9
