"""Chinese pages and answers say things in Chinese: 401 details, the staff greeting, village names."""

from __future__ import annotations

import re

import pytest

from merit_bank.auth.models import User
from merit_bank.extensions import db
from tests.factories import PASSWORD, make_shop, make_user, make_village, page_login

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Bearer a.b.c"}],
    ids=["missing", "garbage", "malformed"],
)
def test_a_401_detail_is_in_the_request_language(client, headers):
    chinese = client.get("/api/v1/claims", headers=headers)
    assert chinese.status_code == 401
    assert CJK.search(chinese.get_json()["detail"]), chinese.get_json()
    english = client.get("/api/v1/claims?lang=en", headers=headers)
    assert english.status_code == 401
    assert not CJK.search(english.get_json()["detail"]), english.get_json()


def test_staff_are_greeted_by_name_never_by_username(app, client):
    village = make_village(app)
    shop = make_shop(app, village)
    keeper = make_user(app, "shopkeeper", village, username="shopkeeper-x", shop_id=shop)
    assert page_login(client, "shopkeeper-x", PASSWORD).status_code == 302
    heading = re.search(r"<h1>([^<]*)</h1>", client.get("/").get_data(as_text=True)).group(1)
    assert "shopkeeper" not in heading and CJK.search(heading)
    with app.app_context():
        db.session.get(User, keeper).display_name = "孙小梅"
        db.session.commit()
    heading = re.search(r"<h1>([^<]*)</h1>", client.get("/").get_data(as_text=True)).group(1)
    assert "孙小梅" in heading


def test_the_users_page_names_villages(app, client):
    village = make_village(app, "幸福村")
    make_user(app, "clerk", village, username="clerk-of-xingfu")
    assert page_login(client, "root", PASSWORD).status_code == 302
    html = client.get("/admin/users").get_data(as_text=True)
    row = html[html.index("clerk-of-xingfu") :]
    assert re.search(r'data-testid="user-village">([^<]*)<', row).group(1) == "幸福村"
