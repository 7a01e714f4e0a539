"""Report pages: dashboards with SVG charts, rankings, the 红黑榜 (and publishing it), exports, import,
and the sheet of household cards with reissue."""

from __future__ import annotations

import re

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from merit_bank.villages.models import Village
from tests.factories import PASSWORD


def _csrf(client, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _login(client, app, user_id: int) -> None:
    with app.app_context():
        username = db.session.get(User, user_id).username
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(client, "/login")}
    )
    assert response.status_code == 302


def test_village_dashboard_shows_figures_and_charts(story, client):
    _login(client, story.app, story.clerk)
    html = client.get(f"/reports/?village_id={story.village}&month=2026-01").get_data(as_text=True)
    # January: 10 + 10 + 8 + 20 + 2 earned; 3 + 2 deducted (the reversed 4 does not count).
    assert re.search(r'data-testid="issued">50<', html)
    assert re.search(r'data-testid="deducted">5<', html)
    assert html.count("<svg") >= 6
    assert "Reports" in client.get("/").get_data(as_text=True) or "/reports/" in client.get("/").get_data(
        as_text=True
    )


def test_village_staff_cannot_open_another_village(story, client):
    _login(client, story.app, story.other_admin)
    assert client.get(f"/reports/?village_id={story.village}").status_code == 404
    assert client.get(f"/reports/cards?village_id={story.village}").status_code == 404


def test_county_dashboard_compares_villages(story, client):
    _login(client, story.app, story.root)
    assert client.get("/reports/").status_code == 302  # no village chosen: the comparison
    html = client.get("/reports/county?month=2026-01").get_data(as_text=True)
    assert "幸福村" in html and "邻村" in html
    assert re.search(r'data-testid="issued">100<', html)  # 50 here and 50 in the other village
    # Clerks do not compare villages.
    client2 = story.app.test_client()
    _login(client2, story.app, story.clerk)
    assert client2.get("/reports/county").status_code == 403


def test_rankings_page_lists_households_in_rank_order(story, client):
    _login(client, story.app, story.admin)
    html = client.get(f"/reports/rankings?month=2026-01&village_id={story.village}").get_data(as_text=True)
    order = [name for name in ("刘长顺", "王建国", "李德明", "张志强") if name in html]
    assert order == sorted(order, key=html.index) and len(order) == 4


def test_publishing_the_honor_board_makes_it_public(story, client):
    _login(client, story.app, story.admin)
    with story.app.app_context():
        code = db.session.get(Village, story.village).code
    anonymous = story.app.test_client()
    assert anonymous.get(f"/board/{code}/honor?month=2026-01").status_code == 404
    token = _csrf(client, f"/reports/honor-board?village_id={story.village}&month=2026-01")
    response = client.post(
        "/reports/honor-board/publish",
        data={"village_id": story.village, "publish": "1", "csrf_token": token},
    )
    assert response.status_code == 302
    public = anonymous.get(f"/board/{code}/honor?month=2026-01")
    assert public.status_code == 200
    html = public.get_data(as_text=True)
    assert "刘长顺" in html and "李德明" in html
    codes = [h["code"] for h in story.households]
    assert not any(c in html for c in codes), "household codes never appear on the public board"


def test_exports_and_import_pages_render(story, client):
    _login(client, story.app, story.clerk)
    html = client.get(f"/reports/exports?village_id={story.village}&month=2026-01").get_data(as_text=True)
    assert 'data-export="ledger-csv"' in html and "/api/v1/exports/settlement.xlsx" in html
    assert 'id="import-form"' in client.get("/reports/import").get_data(as_text=True)


def test_card_sheet_and_reissue_revoke_the_old_card(story, client):
    _login(client, story.app, story.clerk)
    html = client.get(f"/reports/cards?village_id={story.village}&group_id={story.groups['一组']}").get_data(
        as_text=True
    )
    assert html.count('data-testid="card"') == 3
    target = story.households[0]["id"]
    with story.app.app_context():
        old_token = household_services.card_token(db.session.get(Household, target))
    # The sheet links to a confirmation page; one tap does not reissue.
    sheet = client.get(f"/reports/cards?village_id={story.village}").get_data(as_text=True)
    assert f'href="/reports/cards/reissue?household_id={target}"' in sheet
    confirm = client.get(f"/reports/cards/reissue?household_id={target}")
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.get_data(as_text=True)
    token = _csrf(client, f"/reports/cards/reissue?household_id={target}")
    unconfirmed = client.post("/reports/cards/reissue", data={"household_id": target, "csrf_token": token})
    assert unconfirmed.status_code == 422 and "勾选" in unconfirmed.get_data(as_text=True)
    with story.app.app_context():
        assert db.session.get(Household, target).card_version == 1
    response = client.post(
        "/reports/cards/reissue", data={"household_id": target, "csrf_token": token, "confirm": "1"}
    )
    assert response.status_code == 302 and f"household_id={target}" in response.headers["Location"]
    with story.app.app_context():
        household = db.session.get(Household, target)
        assert household.card_version == 2
        new_token = household_services.card_token(household)
    assert new_token != old_token
    with story.app.app_context():
        assert household_services.household_from_card(new_token).id == target
        try:
            household_services.household_from_card(old_token)
        except Exception as exc:  # the old card is refused
            assert getattr(exc, "code", "") == "invalid-token"
        else:
            raise AssertionError("the old card still works")
