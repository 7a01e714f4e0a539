"""HTML pages: login with the HttpOnly cookie, CSRF on every form, admin forms, language choice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import zxingcpp
from PIL import Image

from merit_bank.extensions import db
from merit_bank.households.models import Household
from merit_bank.qr import qr_png
from merit_bank.villages.models import Village
from tests.factories import PASSWORD, csrf_token, make_user, make_village, page_login, root_admin

_csrf = csrf_token
_login = page_login


def test_a_form_without_its_csrf_token_is_refused(app, client):
    root_admin(app)
    response = client.post("/login", data={"username": "root", "password": PASSWORD})
    assert response.status_code == 400
    assert "text/html" in response.content_type


def test_login_sets_an_httponly_cookie_and_logout_revokes_it(app, client):
    root_admin(app)
    response = _login(client, "root", PASSWORD)
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    access = next(c for c in cookies if c.startswith("mb_access="))
    assert "HttpOnly" in access and "SameSite=Lax" in access
    assert client.get("/").status_code == 200
    stolen = access.split(";", 1)[0].split("=", 1)[1]
    token = _csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    # The old cookie value no longer works anywhere, even if someone kept a copy.
    client.set_cookie("mb_access", stolen)
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_a_wrong_password_shows_the_form_again(app, client):
    root_admin(app)
    response = _login(client, "root", "wrong-password")
    assert response.status_code == 401
    assert 'role="alert"' in response.get_data(as_text=True)


def test_login_redirects_only_to_local_paths(app, client):
    root_admin(app)
    token = _csrf(client, "/login")
    response = client.post(
        "/login?next=//evil.example/x", data={"username": "root", "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_admin_creates_a_village_a_household_and_a_user_through_the_forms(app, client):
    root_admin(app)
    _login(client, "root", PASSWORD)
    token = _csrf(client, "/admin/villages")
    response = client.post(
        "/admin/villages", data={"name": "新村", "code": "XIN", "groups": "一组\n二组", "csrf_token": token}
    )
    assert response.status_code == 302
    with app.app_context():
        village = db.session.query(Village).filter_by(code="XIN").one()
        village_id = village.id
        assert [g.name for g in village.groups] == ["一组", "二组"]
    token = _csrf(client, "/admin/households")
    response = client.post(
        "/admin/households",
        data={
            "csrf_token": token,
            "village_id": str(village_id),
            "head_name": "赵六",
            "group": "二组",
            "address": "",
            "member_name": ["赵六", ""],
            "member_phone": ["13600000000", ""],
            "member_id_number": ["", ""],
            "member_relation": ["户主", ""],
        },
    )
    assert response.status_code == 302
    with app.app_context():
        household = db.session.query(Household).filter_by(head_name="赵六").one()
        member_id = household.members[0].id
    page = client.get("/admin/households").get_data(as_text=True)
    assert "赵六" in page
    token = _csrf(client, "/admin/users")
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "13600000000",
            "password": "112233",
            "role": "villager",
            "member_id": str(member_id),
        },
    )
    assert response.status_code == 302
    assert "13600000000" in client.get("/admin/users").get_data(as_text=True)


def test_a_form_with_bad_input_shows_errors_not_a_crash(app, client):
    root_admin(app)
    _login(client, "root", PASSWORD)
    token = _csrf(client, "/admin/villages")
    response = client.post("/admin/villages", data={"name": "", "code": "!!", "csrf_token": token})
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)


def test_pages_for_other_roles_are_refused(app, client):
    village = make_village(app)
    make_user(app, "clerk", village, username="wenshu")
    _login(client, "wenshu", PASSWORD)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/households").status_code == 200


def test_chinese_by_default_and_english_on_request(client):
    chinese = client.get("/login").get_data(as_text=True)
    assert "登录" in chinese
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english and "登录" not in english
    client.get("/lang/en")
    assert "Log in" in client.get("/login").get_data(as_text=True)


def test_qr_codes_made_in_many_threads_at_once_all_decode_to_their_own_text():
    texts = [f"H{n}.1.ABCDEFGHIJKLMNOP" for n in range(64)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        images = list(pool.map(qr_png, texts))
    for text, png in zip(texts, images, strict=True):
        decoded = zxingcpp.read_barcodes(Image.open(BytesIO(png)))
        assert [d.text for d in decoded] == [text]
