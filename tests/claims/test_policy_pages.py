"""Pages show the review, object and post-due controls exactly when claims/policy.py says so, and the page
and the API give one answer for the same person."""

from __future__ import annotations

from datetime import timedelta

from merit_bank.extensions import db
from tests.claims.claim_helpers import approve, claim_id, end_notice, rule
from tests.claims.test_claims_pages import _csrf, _login
from tests.factories import make_user

APPROVE = 'data-testid="approve"'
OBJECT = "/object"
POST_DUE = 'action="/claims/post-due"'


def test_a_clerk_may_run_post_due_on_the_page_as_through_the_api(client, world, app):
    rid = rule(client, world, "VOL", notice_days=3)
    cid = claim_id(client, world, rid)
    approve(client, world, cid, world.clerk)
    end_notice(app, cid)

    clerk = _login(app, world.clerk)
    queue = clerk.get("/claims/review").get_data(as_text=True)
    assert POST_DUE in queue  # the button is offered to the clerk...
    page = clerk.post("/claims/post-due", data={"csrf_token": _csrf(clerk, "/claims/review")})
    assert page.status_code == 200  # ...and the page accepts it, as the API does
    api = client.post("/api/v1/claims/post-due", headers=world.h(world.clerk))
    assert api.status_code == 200
    with app.app_context():
        from merit_bank.claims.models import Claim

        assert db.session.get(Claim, cid).status == "posted"


def test_a_villager_is_refused_post_due_on_the_page_and_through_the_api(client, world, app):
    villager = _login(app, world.villagers[0])
    page = villager.post("/claims/post-due", data={"csrf_token": _csrf(villager, "/claims/new")})
    api = client.post("/api/v1/claims/post-due", headers=world.h(world.villagers[0]))
    assert page.status_code == api.status_code == 403


def test_the_review_controls_show_only_to_those_who_may_decide_the_claim(client, world, app):
    rid = rule(client, world, "VOL")
    cid = claim_id(client, world, rid)  # filed by the household's villager
    relative = make_user(app, "clerk", world.village, member_id=world.households[0]["member_ids"][1])

    def page(user: int) -> str:
        response = _login(app, user).get(f"/claims/{cid}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def queue(user: int) -> str:
        return _login(app, user).get("/claims/review").get_data(as_text=True)

    assert APPROVE in page(world.clerk)
    assert f'name="claim_ids" value="{cid}"' in queue(world.clerk)
    # The clerk of the claim's own household sees the claim, but no control to decide it.
    assert APPROVE not in page(relative)
    assert f'name="claim_ids" value="{cid}"' not in queue(relative)
    assert APPROVE not in page(world.villagers[0])

    # A claim a clerk filed himself is not his to decide; another clerk decides it.
    staff_filed = client.post(
        "/api/v1/claims",
        json={"household_id": world.households[1]["id"], "rule_id": rid},
        headers=world.h(world.clerk),
    ).get_json()["id"]
    assert APPROVE not in _login(app, world.clerk).get(f"/claims/{staff_filed}").get_data(as_text=True)
    assert APPROVE in _login(app, world.clerk2).get(f"/claims/{staff_filed}").get_data(as_text=True)

    # Once decided, nobody gets the controls.
    assert approve(client, world, cid, world.clerk).status_code == 200
    assert APPROVE not in page(world.clerk)


def test_the_object_control_shows_only_while_the_notice_runs_to_people_of_the_village(client, world, app):
    rid = rule(client, world, "DEED", council="moral_review", points=20, notice_days=3)
    cid = claim_id(client, world, rid)
    link = f"/claims/{cid}{OBJECT}"
    assert link not in _login(app, world.villagers[0]).get(f"/claims/{cid}").get_data(as_text=True)

    approve(client, world, cid, world.clerk)
    own = _login(app, world.villagers[0]).get(f"/claims/{cid}").get_data(as_text=True)
    assert link in own
    # A neighbour reads it on the board; a person of another village gets no link there.
    with app.app_context():
        from merit_bank.villages.models import Village

        code = db.session.get(Village, world.village).code
    assert link in _login(app, world.villagers[1]).get(f"/board/{code}").get_data(as_text=True)
    assert link not in _login(app, world.other_villager).get(f"/board/{code}").get_data(as_text=True)

    # When the notice has ended (post-due has not run yet) an objection would be refused: no control.
    end_notice(app, cid, ago=timedelta(minutes=5))
    assert link not in _login(app, world.villagers[0]).get(f"/claims/{cid}").get_data(as_text=True)
    refused = client.post(
        f"/api/v1/claims/{cid}/objections", json={"reason": "不实"}, headers=world.h(world.villagers[1])
    )
    assert refused.status_code == 409 and refused.get_json()["type"] == "notice-ended"
