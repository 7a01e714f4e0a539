"""HTML lists page instead of cutting at a fixed limit: the total shows, the next page holds the rest."""

from __future__ import annotations

import re

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.paging import PAGE_SIZE
from tests.claims.claim_helpers import claim_id, make_world, rule
from tests.factories import PASSWORD, PIN, make_household, make_user, make_village
from tests.shop.shop_helpers import build_world, redeem, web_login

PAGER = 'data-testid="pager"'


def _client(app, user_id: int):
    """A browser-like client logged in as the user (villagers log in with their PIN)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        username, role = user.username, user.role
    client = app.test_client()
    web_login(client, username, PIN if role == "villager" else PASSWORD)
    return client


def _queued_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="claim_ids" value="(\d+)"', html)]


def _total(html: str) -> str:
    match = re.search(r'data-testid="pager-total">([^<]*)<', html)
    assert match, "no pager on the page"
    return match.group(1)


def test_the_review_queue_shows_the_oldest_claims_first_with_the_count_and_pages_on_to_the_rest(client, app):
    world = make_world(app)
    rid = rule(client, world, "VOL", points=5)
    filed = [claim_id(client, world, rid, household=n % 3) for n in range(PAGE_SIZE + 5)]
    clerk = _client(app, world.clerk)

    first = clerk.get("/claims/review?status=review")
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert _queued_ids(html) == filed[:PAGE_SIZE]
    waiting = re.search(r'data-testid="waiting-count">([^<]*)<', html)
    assert waiting and str(PAGE_SIZE + 5) in waiting.group(1)
    assert str(PAGE_SIZE + 5) in _total(html)
    next_link = re.search(r'href="([^"]+)"[^>]*data-testid="pager-next"', html)
    assert next_link
    href = next_link.group(1).replace("&amp;", "&")
    assert "status=review" in href and "page=2" in href

    second = clerk.get(href).get_data(as_text=True)
    assert _queued_ids(second) == filed[PAGE_SIZE:]
    assert 'data-testid="pager-prev"' in second and 'data-testid="pager-next"' not in second


def test_a_page_past_the_end_or_a_page_number_that_is_not_one_shows_a_list_not_an_error(client, app):
    world = make_world(app)
    rid = rule(client, world, "VOL", points=5)
    filed = [claim_id(client, world, rid) for _ in range(2)]
    clerk = _client(app, world.clerk)
    past = clerk.get("/claims/review?page=999999")
    assert past.status_code == 200
    assert _queued_ids(past.get_data(as_text=True)) == []
    assert "2" in _total(past.get_data(as_text=True))
    for bad in ("0", "-1", "abc", "²", "99999999999999999999", ""):
        response = clerk.get(f"/claims/review?page={bad}")
        assert response.status_code == 200, bad
        assert _queued_ids(response.get_data(as_text=True)) == filed, bad


def test_every_other_list_page_of_staff_and_villagers_shows_its_pager(client, app):
    world = make_world(app)
    rid = rule(client, world, "VOL", points=5)
    claim_id(client, world, rid)
    admin = _client(app, world.admin)
    pages = {
        admin: [
            "/admin/households",
            "/admin/users",
            "/events",
            "/events/scan",
            f"/reports/cards?village_id={world.village}",
        ],
        _client(app, world.villagers[0]): ["/claims/mine"],
    }
    for session, urls in pages.items():
        for url in urls:
            for suffix in ("", "&page=500" if "?" in url else "?page=500"):
                response = session.get(url + suffix)
                assert response.status_code == 200, url + suffix
                assert PAGER in response.get_data(as_text=True), url + suffix


def test_the_households_page_pages_on_past_the_first_page_and_keeps_the_search(app):
    village = make_village(app, "大村", groups=("一组",))
    for n in range(PAGE_SIZE + 1):
        make_household(app, village, f"户主{n}")
    admin = _client(app, make_user(app, "admin", village))
    first = admin.get("/admin/households?q=户主").get_data(as_text=True)
    assert str(PAGE_SIZE + 1) in _total(first)
    assert first.count("<tr><td>") == PAGE_SIZE
    second = admin.get("/admin/households?q=户主&page=2").get_data(as_text=True)
    assert second.count("<tr><td>") == 1
    assert "q=%E6%88%B7%E4%B8%BB" in first or "q=户主" in first


def test_the_shop_pages_show_their_pager_and_the_day_total_counts_every_page(client, app):
    world = build_world(app, households=1)
    keeper = app.test_client()
    with app.app_context():
        username = db.session.get(User, world.shopkeeper_id).username
    web_login(keeper, username)
    household = world.households[0]
    for _ in range(2):
        body = {
            "shop_id": world.shop_id,
            "household_id": household["id"],
            "lines": [{"item_id": world.items["食盐"], "quantity": 1}],
        }
        assert redeem(client, world.keeper, body).status_code == 201
    movements = keeper.get(f"/shop/{world.shop_id}/items/{world.items['食盐']}/movements")
    assert movements.status_code == 200 and PAGER in movements.get_data(as_text=True)
    day = keeper.get(f"/shop/{world.shop_id}/redemptions")
    assert day.status_code == 200 and PAGER in day.get_data(as_text=True)
    assert "<th>10</th>" in day.get_data(as_text=True)
    past = keeper.get(f"/shop/{world.shop_id}/redemptions?page=9").get_data(as_text=True)
    assert "<th>10</th>" in past and 'data-testid="redemption-' not in past
