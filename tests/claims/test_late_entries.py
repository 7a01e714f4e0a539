"""Back-dating (issue #12): a claim whose deed lies beyond the village's grace window is a late entry (补录).

It waits for a second person (never the one who entered it), it is marked 补录 wherever claims are listed,
and it counts against the monthly cap of the month of the deed and of the month it was entered.
"""

from __future__ import annotations

from datetime import date, timedelta

from merit_bank.claims.services import local_today
from merit_bank.extensions import db
from merit_bank.villages.models import Village
from tests.claims.claim_helpers import approve, balance, claim_id, file_claim, rule
from tests.claims.test_claims_pages import _csrf, _login


def _today(app) -> date:
    with app.app_context():
        return local_today()


def _first_of_last_month(app) -> date:
    return (_today(app).replace(day=1) - timedelta(days=1)).replace(day=1)


def _window(client, world, days: int) -> None:
    response = client.patch(
        f"/api/v1/villages/{world.village}", json={"late_entry_days": days}, headers=world.h(world.admin)
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["late_entry_days"] == days


def _claim(client, world, cid: int) -> dict:
    return client.get(f"/api/v1/claims/{cid}", headers=world.h(world.admin)).get_json()


def test_the_grace_window_is_a_village_setting_of_three_days_by_default(client, world):
    shown = client.get(f"/api/v1/villages/{world.village}", headers=world.h(world.admin)).get_json()
    assert shown["late_entry_days"] == 3
    _window(client, world, 10)
    refused = client.patch(
        f"/api/v1/villages/{world.village}", json={"late_entry_days": -1}, headers=world.h(world.admin)
    )
    assert refused.status_code == 422
    by_clerk = client.patch(
        f"/api/v1/villages/{world.village}", json={"late_entry_days": 30}, headers=world.h(world.clerk)
    )
    assert by_clerk.status_code == 403


def test_a_claim_filed_with_a_deed_date_beyond_the_window_is_a_late_entry(client, world, app):
    rid = rule(client, world, "HELP", points=5)
    today = _today(app)
    old = claim_id(client, world, rid, occurred_on=(today - timedelta(days=4)).isoformat())
    edge = claim_id(client, world, rid, occurred_on=(today - timedelta(days=3)).isoformat())
    fresh = claim_id(client, world, rid)
    assert _claim(client, world, old)["late_entry"] is True
    assert _claim(client, world, old)["entered_by_id"] == world.villagers[0]
    assert _claim(client, world, edge)["late_entry"] is False
    assert _claim(client, world, fresh)["late_entry"] is False


def test_the_village_setting_moves_the_window(client, world, app):
    rid = rule(client, world, "HELP", points=5)
    ten_days_ago = (_today(app) - timedelta(days=10)).isoformat()
    _window(client, world, 10)
    assert (
        _claim(client, world, claim_id(client, world, rid, occurred_on=ten_days_ago))["late_entry"] is False
    )
    _window(client, world, 0)
    yesterday = (_today(app) - timedelta(days=1)).isoformat()
    assert _claim(client, world, claim_id(client, world, rid, occurred_on=yesterday))["late_entry"] is True


def test_a_late_claim_entered_by_a_clerk_is_approved_by_a_second_person_only(client, world, app):
    rid = rule(client, world, "HELP", points=5, notice_days=0)
    old = (_today(app) - timedelta(days=9)).isoformat()
    response = file_claim(client, world, rid, by=world.clerk, occurred_on=old)
    assert response.status_code == 201, response.get_json()
    cid = response.get_json()["id"]
    assert response.get_json()["late_entry"] is True
    assert response.get_json()["entered_by_id"] == world.clerk

    refused = approve(client, world, cid, world.clerk)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "late-entry-needs-second-person"
    batch = client.post(
        "/api/v1/claims/batch-review",
        json={"claim_ids": [cid], "decision": "approve"},
        headers=world.h(world.clerk),
    )
    assert batch.get_json()["results"][0]["error"]["type"] == "late-entry-needs-second-person"
    assert _claim(client, world, cid)["status"] == "pending"
    assert balance(client, world) == 0

    assert approve(client, world, cid, world.clerk2).get_json()["status"] == "posted"
    assert balance(client, world) == 5


def test_a_late_entry_cannot_reopen_a_full_cap_of_the_month_it_is_entered_in(client, world, app):
    rid = rule(client, world, "CAP", points=5, monthly_cap=5, notice_days=0)
    this_month = claim_id(client, world, rid)
    assert approve(client, world, this_month, world.clerk).get_json()["status"] == "posted"
    # Last month's cap is untouched, but the late entry also counts against this month, which is full.
    late = claim_id(client, world, rid, occurred_on=_first_of_last_month(app).isoformat())
    assert _claim(client, world, late)["late_entry"] is True
    refused = approve(client, world, late, world.clerk)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "monthly-cap-reached"
    assert balance(client, world) == 5


def test_a_late_entry_cannot_pass_a_full_cap_of_the_month_of_its_deed(client, world, app):
    rid = rule(client, world, "CAP", points=5, monthly_cap=5, notice_days=0)
    last_month = _first_of_last_month(app).isoformat()
    # Within a wide window, last month's work fills only last month's cap.
    _window(client, world, 62)
    in_time = claim_id(client, world, rid, occurred_on=last_month)
    assert approve(client, world, in_time, world.clerk).get_json()["status"] == "posted"
    _window(client, world, 3)
    late = claim_id(client, world, rid, occurred_on=last_month)
    refused = approve(client, world, late, world.clerk)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "monthly-cap-reached"
    # This month is still open to this month's work.
    now = claim_id(client, world, rid)
    assert approve(client, world, now, world.clerk).get_json()["status"] == "posted"
    assert balance(client, world) == 10


def test_a_posted_late_entry_fills_the_cap_of_the_month_it_was_entered_in(client, world, app):
    rid = rule(client, world, "CAP", points=5, monthly_cap=5, notice_days=0)
    late = claim_id(client, world, rid, occurred_on=_first_of_last_month(app).isoformat())
    assert approve(client, world, late, world.clerk).get_json()["status"] == "posted"
    now = claim_id(client, world, rid)
    refused = approve(client, world, now, world.clerk)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "monthly-cap-reached"


def test_late_entries_are_marked_in_the_queue_the_detail_my_claims_and_the_public_board(client, world, app):
    rid = rule(client, world, "FLOOD", name="参加防汛值守", points=20, notice_days=3)
    old = (_today(app) - timedelta(days=7)).isoformat()
    late = claim_id(client, world, rid, occurred_on=old)
    fresh = claim_id(client, world, rid)

    clerk = _login(app, world.clerk)
    queue = clerk.get("/claims/review").get_data(as_text=True)
    assert queue.count('data-testid="late-entry"') == 1
    assert "补录" in queue
    detail = clerk.get(f"/claims/{late}").get_data(as_text=True)
    assert "补录" in detail and 'data-testid="late-entry-note"' in detail
    assert "补录" not in clerk.get(f"/claims/{fresh}").get_data(as_text=True)
    mine = _login(app, world.villagers[0]).get("/claims/mine").get_data(as_text=True)
    assert mine.count('data-testid="late-entry"') == 1

    approve(client, world, late, world.clerk)
    with app.app_context():
        code = db.session.get(Village, world.village).code
    board = client.get(f"/board/{code}").get_data(as_text=True)
    assert "参加防汛值守" in board and "补录" in board


def test_the_clerk_who_entered_a_late_claim_gets_no_approve_control(client, world, app):
    rid = rule(client, world, "HELP", points=5)
    old = (_today(app) - timedelta(days=9)).isoformat()
    cid = file_claim(client, world, rid, by=world.clerk, occurred_on=old).get_json()["id"]
    entering = _login(app, world.clerk)
    assert 'data-testid="approve"' not in entering.get(f"/claims/{cid}").get_data(as_text=True)
    second = _login(app, world.clerk2)
    page = second.get(f"/claims/{cid}").get_data(as_text=True)
    assert 'data-testid="approve"' in page
    response = second.post(
        f"/claims/{cid}/approve", data={"csrf_token": _csrf(second, f"/claims/{cid}"), "comment": ""}
    )
    assert response.status_code in (200, 302, 303)
    assert _claim(client, world, cid)["status"] == "posted"
