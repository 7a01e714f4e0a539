"""Village groups sort in the village's own order: numbers as numbers (一组 … 十组、十一组; 1组 … 10组),
free-text names by an explicit position; the same order on every page that lists groups."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger import services as ledger
from merit_bank.villages.models import VillageGroup
from merit_bank.villages.ordering import chinese_number, group_key, name_key
from tests.factories import PASSWORD, auth, make_household, make_user, make_village, page_login, root_admin

SCRAMBLED = ("三组", "十一组", "一组", "十组", "二组")
IN_ORDER = ["一组", "二组", "三组", "十组", "十一组"]


@pytest.mark.parametrize(
    ("text", "value"), [("一", 1), ("十", 10), ("十一", 11), ("二十", 20), ("二十三", 23), ("一百零五", 105)]
)
def test_chinese_numerals_read_as_numbers(text, value):
    assert chinese_number(text) == value


def test_names_sort_by_their_numbers_not_by_character_code():
    assert sorted(SCRAMBLED, key=name_key) == IN_ORDER
    assert sorted(["10组", "2组", "1组", "11组"], key=name_key) == ["1组", "2组", "10组", "11组"]
    assert sorted(["第十组", "第二组", "第一组"], key=name_key) == ["第一组", "第二组", "第十组"]
    # By character code 一组 < 三组 < 二组: the bug this order fixes.
    assert sorted(["一组", "三组", "二组"]) != sorted(["一组", "三组", "二组"], key=name_key)


def test_any_names_compare_without_error():
    names = ["一", "一组", "1组", "组", "A1", "A", "东片", "十里铺", "２组", "", "第3组", "3"]
    ordered = sorted(names, key=name_key)
    assert ordered.index("一") < ordered.index("一组") and ordered.index("２组") < ordered.index("3")


def test_a_position_comes_before_the_name_and_no_group_comes_last():
    groups = [("东片", 2), ("西片", 1), ("二组", None), ("一组", None), (None, None)]
    ordered = sorted(groups, key=lambda g: group_key(*g))
    assert ordered == [("西片", 1), ("东片", 2), ("一组", None), ("二组", None), (None, None)]


def _village(app) -> int:
    return make_village(app, "排序村", groups=SCRAMBLED)


def test_the_api_lists_groups_in_order_and_sets_a_position(app, client):
    village = _village(app)
    headers = auth(app, root_admin(app))
    body = client.get(f"/api/v1/villages/{village}", headers=headers).get_json()
    assert [g["name"] for g in body["groups"]] == IN_ORDER
    assert all(g["position"] is None for g in body["groups"])
    ten = next(g for g in body["groups"] if g["name"] == "十组")
    response = client.patch(
        f"/api/v1/villages/{village}/groups/{ten['id']}", json={"position": 0}, headers=headers
    )
    assert response.status_code == 200 and response.get_json()["position"] == 0
    body = client.get(f"/api/v1/villages/{village}", headers=headers).get_json()
    assert [g["name"] for g in body["groups"]] == ["十组", "一组", "二组", "三组", "十一组"]
    # Back to the order of its name.
    client.patch(f"/api/v1/villages/{village}/groups/{ten['id']}", json={"position": None}, headers=headers)
    body = client.get(f"/api/v1/villages/{village}", headers=headers).get_json()
    assert [g["name"] for g in body["groups"]] == IN_ORDER
    # A new group may come with its place.
    response = client.post(
        f"/api/v1/villages/{village}/groups", json={"name": "东片", "position": 1}, headers=headers
    )
    assert response.status_code == 201 and response.get_json()["position"] == 1


@pytest.mark.parametrize("position", [-1, "x", 10000, 1.5])
def test_a_bad_position_is_a_422_naming_the_field(app, client, position):
    village = _village(app)
    headers = auth(app, root_admin(app))
    group = client.get(f"/api/v1/villages/{village}", headers=headers).get_json()["groups"][0]
    response = client.patch(
        f"/api/v1/villages/{village}/groups/{group['id']}", json={"position": position}, headers=headers
    )
    assert response.status_code == 422
    assert "position" in response.get_json()["errors"]


def test_a_group_of_another_village_is_not_found(app, client):
    village, other = _village(app), make_village(app, "邻村", groups=("一组",))
    headers = auth(app, root_admin(app))
    foreign = client.get(f"/api/v1/villages/{other}", headers=headers).get_json()["groups"][0]["id"]
    response = client.patch(
        f"/api/v1/villages/{village}/groups/{foreign}", json={"position": 1}, headers=headers
    )
    assert response.status_code == 404


def _names_in(html: str, names: list[str]) -> list[str]:
    """The given names in the order they first appear in the html as whole element texts (一组 ≠ 十一组)."""
    found = sorted((html.index(f">{n}<"), n) for n in names if f">{n}<" in html)
    return [n for _at, n in found]


def test_the_villages_page_shows_and_sets_the_order(app, client):
    village = _village(app)
    assert page_login(client, "root", PASSWORD).status_code == 302
    html = client.get("/admin/villages").get_data(as_text=True)
    cell = re.search(r'data-testid="village-groups">([^<]*)<', html).group(1)
    assert cell == "、".join(IN_ORDER)
    with app.app_context():
        ids = {g.name: g.id for g in db.session.query(VillageGroup).filter_by(village_id=village)}
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = {"csrf_token": token, f"position-{ids['三组']}": "1", f"position-{ids['一组']}": "2"}
    response = client.post(f"/admin/villages/{village}/group-order", data=form)
    assert response.status_code == 302
    html = client.get("/admin/villages").get_data(as_text=True)
    cell = re.search(r'data-testid="village-groups">([^<]*)<', html).group(1)
    assert cell == "、".join(["三组", "一组", "二组", "十组", "十一组"])
    form = {"csrf_token": token, f"position-{ids['二组']}": "abc"}
    response = client.post(f"/admin/villages/{village}/group-order", data=form)
    assert response.status_code == 422
    assert "0 到 9999" in response.get_data(as_text=True)


def test_reports_follow_the_village_order(app, client, monkeypatch):
    village = _village(app)
    households = {name: make_household(app, village, f"户主{name}", group=name) for name in SCRAMBLED}
    clerk = make_user(app, "clerk", village)
    # Equal points everywhere: the rankings' tie-break is the group order.
    monkeypatch.setattr(ledger_posting, "utcnow", lambda: datetime(2026, 3, 5, 2, 0, tzinfo=UTC))
    with app.app_context():
        for n, h in enumerate(households.values()):
            ledger.award(
                village_id=village, household_id=h["id"], council="volunteer", points=5,
                idempotency_key=f"order:{n}", actor_id=clerk,
            )  # fmt: skip
    with app.app_context():
        username = db.session.get(User, clerk).username
    assert page_login(client, username, PASSWORD).status_code == 302

    rankings = client.get(f"/reports/rankings?village_id={village}&month=2026-03").get_data(as_text=True)
    select = rankings[rankings.index('id="group_id"') :]
    assert _names_in(select[: select.index("</select>")], IN_ORDER) == IN_ORDER
    table = rankings[rankings.index("<tbody") :]
    assert _names_in(table, [f"户主{n}" for n in IN_ORDER]) == [f"户主{n}" for n in IN_ORDER]

    board = client.get(f"/reports/honor-board?village_id={village}&month=2026-03").get_data(as_text=True)
    red = board[board.index("<tbody") :]
    assert _names_in(red, [f"户主{n}" for n in IN_ORDER]) == [f"户主{n}" for n in IN_ORDER]

    dashboard = client.get(f"/reports/?village_id={village}&month=2026-03").get_data(as_text=True)
    chart = dashboard[dashboard.index("<svg", dashboard.index('data-testid="chart-groups"')) :]
    assert _names_in(chart[: chart.index("</svg>")], IN_ORDER) == IN_ORDER

    cards = client.get(f"/reports/cards?village_id={village}").get_data(as_text=True)
    assert _names_in(cards[cards.index('data-testid="sheet"') :], [f"户主{n}" for n in IN_ORDER]) == [
        f"户主{n}" for n in IN_ORDER
    ]
    select = cards[cards.index('id="group_id"') :]
    assert _names_in(select[: select.index("</select>")], IN_ORDER) == IN_ORDER


def test_the_activation_overview_counts_groups_in_the_village_order(app):
    from merit_bank.auth import activation

    village = _village(app)
    for name in SCRAMBLED:
        make_household(app, village, f"户主{name}", group=name)
    clerk = make_user(app, "clerk", village)
    with app.app_context():
        groups, members = activation.overview(db.session.get(User, clerk))
    assert [g.group for g in groups] == IN_ORDER
    assert [m.group for m in members] == [n for n in IN_ORDER for _ in range(len(members) // len(IN_ORDER))]
