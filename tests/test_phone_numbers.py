"""A phone number is a mainland mobile number (11 digits, 13-19): a 7-digit one is refused with a 422
naming the field wherever phones are entered — households and members (API and page), the roster import
and activation."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook

from tests.factories import (
    PASSWORD,
    auth,
    csrf_token,
    make_household,
    make_village,
    page_login,
    root_admin,
)

SHORT = "8123456"  # a 7-digit landline number: it can never be a villager's login


@pytest.mark.parametrize("phone", [SHORT, "12345678901", "1391234567", "139123456789", "+8613912345678"])
def test_the_household_api_refuses_a_phone_that_is_not_a_mobile_number(app, client, phone):
    village = make_village(app)
    body = {"village_id": village, "head_name": "王建国", "members": [{"name": "王建国", "phone": phone}]}
    response = client.post("/api/v1/households", json=body, headers=auth(app, root_admin(app)))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "phone" in str(errors["members"])
    assert "11" in str(errors["members"])  # says what a good number looks like, in Chinese


def test_the_member_api_refuses_a_short_phone_and_takes_a_mobile_number(app, client):
    village = make_village(app)
    household = make_household(app, village)
    headers = auth(app, root_admin(app))
    url = f"/api/v1/households/{household['id']}/members"
    refused = client.post(url, json={"name": "李秀英", "phone": SHORT}, headers=headers)
    assert refused.status_code == 422 and "phone" in refused.get_json()["errors"]
    taken = client.post(url, json={"name": "李秀英", "phone": "13712345678"}, headers=headers)
    assert taken.status_code == 201


def test_the_households_page_refuses_a_short_phone_and_takes_a_spaced_one(app, client):
    village = make_village(app)
    assert page_login(client, "root", PASSWORD).status_code == 302
    form = {
        "csrf_token": csrf_token(client, "/admin/households"),
        "village_id": str(village),
        "head_name": "王建国",
        "member_name": "王建国",
        "member_phone": SHORT,
        "member_id_number": "",
        "member_relation": "户主",
    }
    refused = client.post("/admin/households", data=form)
    assert refused.status_code == 422
    assert "11 位" in refused.get_data(as_text=True)
    taken = client.post("/admin/households", data={**form, "member_phone": "139 1234 0099"})
    assert taken.status_code == 302


def test_the_roster_import_refuses_a_short_phone(app, client):
    village = make_village(app, groups=("一组",))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["村民小组", "户主姓名", "姓名", "与户主关系", "手机号"])
    sheet.append(["一组", "孙大伟", "孙大伟", "户主", SHORT])
    sheet.append(["一组", "钱老四", "钱老四", "户主", "139-0000-0002"])
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    response = client.post(
        f"/api/v1/households/import?village_id={village}&dry_run=1",
        data={"file": (data, "roster.xlsx")},
        content_type="multipart/form-data",
        headers=auth(app, root_admin(app)),
    )
    report = response.get_json()
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(2, "手机号")]
    assert "11 位" in report["errors"][0]["problem"]


def test_activation_refuses_a_short_phone_with_a_field_error(app, client):
    api = client.post("/api/v1/auth/activate", json={"phone": SHORT, "pin": "246810", "card_code": "ABCDEF"})
    assert api.status_code == 422 and "phone" in api.get_json()["errors"]
    page = client.post(
        "/activate",
        data={
            "csrf_token": csrf_token(client, "/activate"),
            "phone": SHORT,
            "pin": "246810",
            "pin_again": "246810",
            "proof_kind": "card_code",
            "proof": "ABCDEF",
        },
    )
    assert page.status_code == 422
    assert re.search(r"11 位", page.get_data(as_text=True))
