"""What a rule says will happen to a claim (rules/paths.py) is what the workflow does, on every page and
in the API; the review page says how claims post after their notice, and how many are due."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from merit_bank.claims.models import Claim
from merit_bank.database import utcnow
from merit_bank.extensions import db
from merit_bank.households.models import Household
from merit_bank.rules.models import Rule
from merit_bank.rules.paths import RulePath, rule_path
from tests.claims.claim_helpers import approve, claim_id, end_notice, rule
from tests.claims.test_claims_pages import _csrf, _login

# (code, approvals_required, notice_days, needs_review)
TERMS = [
    ("AT-ONCE", 1, 0, True),
    ("NOTICE", 1, 3, True),
    ("FOUR-EYES", 2, 0, True),
    ("FOUR-EYES-NOTICE", 2, 5, True),
    ("CHECKIN", 1, 0, False),
]


@pytest.mark.parametrize(
    ("reviewers", "notice", "checkins", "expected"),
    [
        (1, 0, False, "Reviewed by the council; posted as soon as it is approved."),
        (
            1,
            3,
            False,
            "Reviewed by the council; then on the village notice board for 3 day(s), and posted if nobody "
            "objects.",
        ),
        (2, 0, False, "Needs two reviewers, one after the other; posted as soon as the second approves."),
        (
            2,
            7,
            True,
            "Needs two reviewers, one after the other; then on the village notice board for 7 day(s), and "
            "posted if nobody objects. A check-in at an event posts at once.",
        ),
    ],
)
def test_a_path_in_words(reviewers, notice, checkins, expected):
    path = RulePath(reviewers=reviewers, notice_days=notice, checkins_post_at_once=checkins)
    assert path.summary == expected
    assert path.kind == ("public_notice" if notice else "at_once")


def test_every_rule_of_the_default_rulebook_posts_as_its_path_says(client, world, app):
    """File, approve by as many reviewers as the path names: posted at once, or in notice for N days."""
    with app.app_context():
        from merit_bank.auth.models import User
        from merit_bank.rules import services as rule_services

        created = rule_services.import_rulebook(db.session.get(User, world.admin), world.village)
        rules = [(r.id, r.points, rule_path(r)) for r in created]
    assert {p.kind for _i, _p, p in rules} == {"at_once", "public_notice"}
    assert {p.reviewers for _i, _p, p in rules} == {1, 2}
    for rule_id, points, path in rules:
        # A deduction is recorded by the council (the clerk), so the admin and a second clerk review it.
        filer, reviewers = (
            (world.villagers[0], [world.clerk, world.clerk2])
            if points > 0
            else (world.clerk, [world.admin, world.clerk2])
        )
        claim = claim_id(client, world, rule_id, by=filer)
        for n, reviewer in enumerate(reviewers[: path.reviewers], start=1):
            before = utcnow()
            response = approve(client, world, claim, reviewer)
            assert response.status_code == 200, response.get_json()
            status = response.get_json()["status"]
            if n < path.reviewers:
                assert status == "approved"
        if path.kind == "at_once":
            assert status == "posted", (rule_id, path)
        else:
            assert status == "in_notice", (rule_id, path)
            with app.app_context():
                ends = db.session.get(Claim, claim).notice_ends_at
            assert (
                before + timedelta(days=path.notice_days)
                <= ends
                <= utcnow() + timedelta(days=path.notice_days)
            )


def test_the_rules_api_carries_the_path(client, world):
    ids = {
        code: rule(
            client, world, code, approvals_required=approvals, notice_days=notice, needs_review=needs_review
        )
        for code, approvals, notice, needs_review in TERMS
    }
    items = client.get("/api/v1/rules?per_page=200", headers=world.h(world.admin)).get_json()["items"]
    by_code = {item["code"]: item for item in items}
    for code, approvals, notice, needs_review in TERMS:
        path = by_code[code]["path"]
        assert path["reviewers"] == approvals and path["notice_days"] == notice
        assert path["kind"] == ("public_notice" if notice else "at_once")
        assert path["checkins_post_at_once"] is (not needs_review)
        # In the request's language (Chinese by default).
        assert ("两名审核人" in path["summary"]) is (approvals == 2)
        assert (f"公示 {notice} 天" in path["summary"]) is bool(notice)
        assert ("立即入账" in path["summary"]) is (not notice)
        assert ("签到即时入账" in path["summary"]) is (not needs_review)
    detail = client.get(f"/api/v1/rules/{ids['NOTICE']}?lang=en", headers=world.h(world.admin)).get_json()
    assert detail["path"]["summary"].startswith("Reviewed by the council; then on the village notice board")
    assert detail["versions"][0]["path"] == detail["path"]


def _options(page: str) -> dict[int, str]:
    return {
        int(rule_id): html_lib.unescape(path)
        for rule_id, path in re.findall(r'<option value="(\d+)" data-path="([^"]*)"', page)
    }


def _shown_path(page: str) -> str:
    match = re.search(r'data-testid="rule-path">([^<]*)<', page)
    assert match, "the claim form shows no path"
    return html_lib.unescape(match.group(1))


def test_the_claim_form_says_what_happens_under_the_chosen_rule(client, world, app):
    for code, approvals, notice, needs_review in TERMS:
        rule(client, world, code, approvals_required=approvals, notice_days=notice, needs_review=needs_review)
    with app.test_request_context("/"):  # the paths in the page's language
        paths = {r.id: r.path.claim_summary for r in db.session.scalars(select(Rule))}
        household_code = db.session.get(Household, world.households[1]["id"]).code
    villager = _login(app, world.villagers[0])
    page = villager.get("/claims/new").get_data(as_text=True)
    assert "通过的积分先在村公示栏公示" not in page  # the old promise, true of some rules only
    options = _options(page)
    assert options == {rule_id: paths[rule_id] for rule_id in options} and len(options) == len(TERMS)
    assert _shown_path(page) == next(iter(options.values()))
    # The script updates the path as the choice changes.
    assert re.search(
        r'<script src="[^"]*/js/rule-path\.js(\?v=[0-9a-f]+)?"', page
    )  # updates it as the choice changes
    four_eyes = world.rules["FOUR-EYES-NOTICE"]
    page = villager.get(f"/claims/new?rule_id={four_eyes}").get_data(as_text=True)
    assert (
        _shown_path(page)
        == paths[four_eyes]
        == "须两名审核人先后审核通过，再在村公示栏公示 5 天，无人提出异议即入账。"
    )

    # A clerk's form, after finding the household by its card code, says the same.
    clerk = _login(app, world.clerk)
    page = clerk.get(f"/claims/new?household_code={household_code}&rule_id={world.rules['AT-ONCE']}")
    text = page.get_data(as_text=True)
    assert _shown_path(text) == paths[world.rules["AT-ONCE"]] == "村里审核通过后立即入账，不公示。"
    assert set(_options(text)) == set(options)


def test_the_rulebook_and_a_waiting_claim_say_the_path(client, world, app):
    for code, approvals, notice, needs_review in TERMS:
        rule(client, world, code, approvals_required=approvals, notice_days=notice, needs_review=needs_review)
    admin = _login(app, world.admin)
    page = html_lib.unescape(admin.get("/rules/").get_data(as_text=True))
    cells = re.findall(r'data-testid="rule-path">([^<]*)<', page)
    with app.test_request_context("/"):
        summaries = [r.path.summary for r in db.session.scalars(select(Rule))]
    assert sorted(cells) == sorted(summaries)
    assert "村里审核通过后立即入账，不公示。 参加活动扫码签到即时入账。" in cells

    claim = claim_id(client, world, world.rules["FOUR-EYES"])
    page = html_lib.unescape(admin.get(f"/claims/{claim}").get_data(as_text=True))
    assert 'data-testid="claim-path">须两名审核人先后审核通过，第二人通过后立即入账，不公示。<' in page
    approve(client, world, claim, world.clerk)
    approve(client, world, claim, world.clerk2)
    page = admin.get(f"/claims/{claim}").get_data(as_text=True)
    assert 'data-testid="claim-path"' not in page  # decided: nothing left to happen


def test_the_review_page_says_how_claims_post_after_the_notice_and_posts_the_due_ones(client, world, app):
    notice = rule(client, world, "NOTICE", notice_days=3)
    due, running = claim_id(client, world, notice), claim_id(client, world, notice, household=1)
    for claim in (due, running):
        assert approve(client, world, claim, world.clerk).get_json()["status"] == "in_notice"
    end_notice(app, due)
    for user in (world.admin, world.clerk):
        page = _login(app, user).get("/claims/review").get_data(as_text=True)
        assert 'data-testid="due-count">有 1 条申报公示期满且无人提出异议，等待入账。<' in page
        assert "flask --app merit_bank post-due" in page
        assert "*/5 * * * *  cd /srv/merit-bank &amp;&amp; . ./env &amp;&amp; .venv/bin/flask --app" in page
    # A villager sees no such page at all.
    assert _login(app, world.villagers[0]).get("/claims/review").status_code in (302, 403)

    admin = _login(app, world.admin)
    response = admin.post("/claims/post-due", data={"csrf_token": _csrf(admin, "/claims/review")})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Claim, due).status == "posted"
        assert db.session.get(Claim, running).status == "in_notice"
    page = admin.get("/claims/review").get_data(as_text=True)
    assert 'data-testid="due-count">有 0 条申报' in page


def test_the_event_pages_say_what_a_check_in_gets(client, world, app):
    for code, approvals, notice, needs_review in TERMS:
        rule(client, world, code, approvals_required=approvals, notice_days=notice, needs_review=needs_review)
    start = utcnow()
    ids = {}
    for code in ("CHECKIN", "NOTICE"):
        response = client.post(
            "/api/v1/events",
            json={
                "village_id": world.village,
                "title": f"活动{code}",
                "rule_id": world.rules[code],
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=2)).isoformat(),
            },
            headers=world.h(world.admin),
        )
        assert response.status_code == 201, response.get_json()
        ids[code] = response.get_json()["id"]
    admin = _login(app, world.admin)
    page = admin.get(f"/events/{ids['CHECKIN']}").get_data(as_text=True)
    assert 'data-testid="rule-path">参加活动扫码签到即时入账。<' in page
    page = admin.get(f"/events/{ids['NOTICE']}").get_data(as_text=True)
    assert 'data-testid="rule-path">村里审核通过后，在村公示栏公示 3 天，无人提出异议即入账。<' in page
    form = admin.get("/events").get_data(as_text=True)
    assert "参加活动扫码签到即时入账。</option>" in form
