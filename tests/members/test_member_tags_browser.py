"""In Chromium: a clerk ticks members' tags on the household page; participation and party pages open."""

from __future__ import annotations

import pytest

from merit_bank.auth.models import User
from merit_bank.extensions import db
from merit_bank.households.models import Member
from tests.browser_support import login
from tests.factories import PASSWORD, make_household, make_user, make_village

pytestmark = pytest.mark.browser


def test_a_clerk_tags_members_and_reads_participation(live_server, browser_page):
    app = live_server.app
    village = make_village(app, "幸福村")
    household = make_household(app, village, "王建国")
    clerk = make_user(app, "clerk", village)
    with app.app_context():
        username = db.session.get(User, clerk).username
    first, second = household["member_ids"]
    page = browser_page
    login(page, live_server.url, username, PASSWORD)
    page.goto(f"{live_server.url}/admin/households")
    page.click("[data-testid=household-link]")
    page.wait_for_selector("[data-testid=member-tags-form]")
    page.check(f"[data-testid=member-tags-{first}] input[value=党员]")
    page.check(f"[data-testid=member-tags-{second}] input[value=志愿者]")
    page.click("[data-testid=save-tags]")
    page.wait_for_selector("[data-testid=tags-saved]")
    assert page.is_checked(f"[data-testid=member-tags-{first}] input[value=党员]")
    with app.app_context():
        assert db.session.get(Member, first).tag_list == ["党员"]
        assert db.session.get(Member, second).tag_list == ["志愿者"]
    page.goto(f"{live_server.url}/reports/participation?village_id={village}")
    page.wait_for_selector("[data-testid=participation]")
    assert "党员" in page.text_content("[data-testid=participation]")
    assert page.locator("[data-testid=absent] tbody tr").count() == 2
    page.goto(f"{live_server.url}/reports/party-members?village_id={village}")
    assert page.locator("[data-testid=party-members] tbody tr").count() == 1
