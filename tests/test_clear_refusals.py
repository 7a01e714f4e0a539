"""Inputs that used to end in a 500 (or a Python repr on a page) get a clear refusal naming the field,
and a refused form explains itself in plain sentences while keeping what the person typed."""

from __future__ import annotations

from tests.factories import (
    PASSWORD,
    auth,
    csrf_token,
    make_household,
    make_shop,
    make_user,
    make_village,
    page_login,
    root_admin,
)


def test_a_new_village_with_a_repeated_group_name_is_a_422_naming_groups(app, client):
    admin = root_admin(app)
    body = {"name": "重名村", "code": "DUP", "groups": ["一组", "二组", "一组 "]}
    response = client.post("/api/v1/villages", headers=auth(app, admin), json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "一组" in response.json["errors"]["groups"]["2"][0]
    # Nothing half done: the village was not created.
    listed = client.get("/api/v1/villages", headers=auth(app, admin)).json["items"]
    assert all(v["code"] != "DUP" for v in listed)


def test_an_adjustment_naming_a_shop_of_another_village_is_404_like_any_unseen_id(app, client):
    home, elsewhere = make_village(app, code="HOME"), make_village(app, code="AWAY")
    chief = make_user(app, "admin", home, username="cunzhang")
    foreign_shop = make_shop(app, elsewhere)
    body = {"village_id": home, "shop_id": foreign_shop, "points": 5, "memo": "补差"}
    headers = {**auth(app, chief), "Idempotency-Key": "adj-1"}
    response = client.post("/api/v1/ledger/adjustments", headers=headers, json=body)
    assert response.status_code == 404
    assert response.json["type"] == "not-found"
    # The same answer as for a shop id that exists nowhere: nothing tells which ids live elsewhere.
    absent = client.post(
        "/api/v1/ledger/adjustments",
        headers={**headers, "Idempotency-Key": "adj-2"},
        json={**body, "shop_id": foreign_shop + 1000},
    )
    assert (absent.status_code, absent.json["detail"]) == (404, response.json["detail"])


def test_linking_a_login_to_a_member_who_already_has_one_is_a_422_naming_member_id(app, client):
    village = make_village(app)
    household = make_household(app, village)
    admin = root_admin(app)
    member = household["member_ids"][0]
    first = {"username": "13600000001", "password": "246810", "role": "villager", "member_id": member}
    assert client.post("/api/v1/users", headers=auth(app, admin), json=first).status_code == 201
    second = {**first, "username": "13600000002"}
    response = client.post("/api/v1/users", headers=auth(app, admin), json=second)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["member_id"]


def test_the_users_page_explains_a_refusal_in_plain_chinese_and_keeps_what_was_typed(app):
    village = make_village(app)
    household = make_household(app, village)
    make_user(app, "admin", None, username="boss")
    make_user(app, "villager", member_id=household["member_ids"][0], username="13600000001")
    browser = app.test_client()
    assert page_login(browser, "boss", PASSWORD).status_code == 302
    form = {
        "csrf_token": csrf_token(browser, "/admin/users"),
        "username": "13600000009",
        "password": "246810",
        "role": "villager",
        "display_name": "王小二",
        "member_id": str(household["member_ids"][0]),
    }
    page = browser.post("/admin/users", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "成员：该成员已有登录账号。" in html
    assert "[l'" not in html and "member_id" not in html.split("<form")[0].split("New user")[-1]
    assert 'value="13600000009"' in html and 'value="王小二"' in html
    assert f'value="{household["member_ids"][0]}"' in html
    assert '<option value="villager" selected>' in html


def test_a_refused_household_form_names_the_member_row_in_plain_words(app):
    village = make_village(app)
    make_user(app, "admin", None, username="boss")
    browser = app.test_client()
    page_login(browser, "boss", PASSWORD)
    form = {
        "csrf_token": csrf_token(browser, "/admin/households"),
        "village_id": str(village),
        "head_name": "李四",
        "member_name": ["李四", "李五"],
        "member_phone": ["", "12ab"],
        "member_id_number": ["", ""],
        "member_relation": ["户主", "儿子"],
    }
    page = browser.post("/admin/households", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "家庭成员 2 · 手机号：应为 11 位、以 13–19 开头的手机号码。" in html
    assert "{" not in html.split('class="error"')[1].split("</p>")[0]
    assert 'value="李四"' in html and 'value="李五"' in html and 'value="12ab"' in html


def test_a_refused_new_item_keeps_what_the_shopkeeper_typed_and_says_why_in_chinese(app):
    village = make_village(app)
    shop = make_shop(app, village)
    make_user(app, "shopkeeper", village, username="dianzhu", shop_id=shop)
    browser = app.test_client()
    assert page_login(browser, "dianzhu", PASSWORD).status_code == 302
    form = {
        "csrf_token": csrf_token(browser, f"/shop/{shop}/stock"),
        "name": "东北大米",
        "unit": "袋",
        "price_points": "十五",
        "stock": "3",
    }
    page = browser.post(f"/shop/{shop}/items", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "积分价格：请输入整数。" in html
    assert (
        'value="东北大米"' in html and 'value="袋"' in html and 'value="十五"' in html and 'value="3"' in html
    )
