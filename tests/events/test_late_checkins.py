"""Back-dated check-ins (issue #12): late entries (补录) wait for a second person and reopen no monthly cap.

A check-in is late when its deed (the scan time) lies further in the past than the village's grace window
when it reaches the server (an offline queue synced days later), or when its event was created with a start
further in the past than the window. Within the window a check-in posts at once, as before.
"""

from __future__ import annotations

from datetime import timedelta

from tests.events.event_helpers import T0, balance, make_event, make_rule
from tests.events.test_batch_sync import card, scan, sync


def _checkin_by_card(client, world, event, household, user=None):
    return client.post(
        f"/api/v1/events/{event['id']}/checkins",
        json={"card_token": card(world.app, household), "member_id": household["member_ids"][0]},
        headers=world.h(user or world.clerk),
    )


def _approve(client, world, claim_id, user):
    return client.post(f"/api/v1/claims/{claim_id}/approve", json={}, headers=world.h(user))


def _claim(client, world, claim_id):
    return client.get(f"/api/v1/claims/{claim_id}", headers=world.h(world.admin)).get_json()


def _backdated_event(client, world, rule="instant", days=10):
    """An event created now (T0) that claims to have run `days` days ago and is still open."""
    return make_event(
        client,
        world,
        rule,
        starts_at=(T0 - timedelta(days=days)).isoformat(),
        ends_at=(T0 + timedelta(hours=2)).isoformat(),
    )


def test_a_late_check_in_by_its_own_clerk_stays_pending_even_under_an_instant_rule(client, world, clock):
    event = _backdated_event(client, world)
    household = world.households[0]
    response = _checkin_by_card(client, world, event, household)
    assert response.status_code == 201, response.get_json()
    checkin = response.get_json()
    assert checkin["late_entry"] is True
    assert checkin["status"] == "pending"
    assert balance(client, world, household) == 0
    claim = _claim(client, world, checkin["claim_id"])
    assert claim["late_entry"] is True and claim["entered_by_id"] == world.clerk


def test_the_clerk_who_scanned_a_late_check_in_cannot_approve_it(client, world, clock):
    event = _backdated_event(client, world)
    household = world.households[0]
    claim_id = _checkin_by_card(client, world, event, household).get_json()["claim_id"]
    refused = _approve(client, world, claim_id, world.clerk)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "late-entry-needs-second-person"
    assert _claim(client, world, claim_id)["status"] == "pending"
    assert balance(client, world, household) == 0


def test_a_late_check_in_approved_by_a_second_person_posts(client, world, clock):
    event = _backdated_event(client, world)
    household = world.households[0]
    claim_id = _checkin_by_card(client, world, event, household).get_json()["claim_id"]
    approved = _approve(client, world, claim_id, world.admin)
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "posted"
    assert balance(client, world, household) == 5


def test_a_check_in_within_the_window_still_posts_at_once(client, world, clock):
    event = make_event(client, world)
    household = world.households[0]
    checkin = _checkin_by_card(client, world, event, household).get_json()
    assert checkin["late_entry"] is False and checkin["status"] == "posted"
    assert balance(client, world, household) == 5


def test_a_batch_synced_scan_older_than_the_window_becomes_a_late_claim_and_says_so(client, world, clock):
    event = make_event(client, world)
    h0, h1 = world.households[0], world.households[1]
    # The scanner was offline: one queue is synced two days later, the other five days later.
    clock.advance(days=2)
    early = sync(
        client,
        world,
        event,
        [scan("nonce-late-01", T0, household_code=h0["code"], member_id=h0["member_ids"][0])],
    )
    on_time = early.get_json()["results"][0]
    assert on_time["outcome"] == "created", on_time
    assert on_time["checkin"]["late_entry"] is False and on_time["checkin"]["status"] == "posted"
    clock.advance(days=3)
    late = sync(
        client,
        world,
        event,
        [scan("nonce-late-02", T0, household_code=h1["code"], member_id=h1["member_ids"][0])],
    )
    result = late.get_json()["results"][0]
    assert result["outcome"] == "created"  # not refused: the attendance is kept
    assert result["checkin"]["late_entry"] is True and result["checkin"]["status"] == "pending"
    assert balance(client, world, h0) == 5 and balance(client, world, h1) == 0
    # Asked again, the queue's answer is the same.
    again = sync(
        client,
        world,
        event,
        [scan("nonce-late-02", T0, household_code=h1["code"], member_id=h1["member_ids"][0])],
    )
    assert again.get_json()["results"][0]["checkin"]["late_entry"] is True


def test_the_village_setting_changes_the_window_for_synced_scans(client, world, clock):
    widened = client.patch(
        f"/api/v1/villages/{world.village}", json={"late_entry_days": 7}, headers=world.h(world.admin)
    )
    assert widened.status_code == 200, widened.get_json()
    event = make_event(client, world)
    clock.advance(days=5)
    h0 = world.households[0]
    result = sync(
        client,
        world,
        event,
        [scan("nonce-wide-01", T0, household_code=h0["code"], member_id=h0["member_ids"][0])],
    ).get_json()
    assert result["results"][0]["checkin"]["late_entry"] is False
    assert balance(client, world, h0) == 5


def test_a_late_check_in_cannot_reopen_the_full_cap_of_the_month_it_is_entered_in(client, world, clock):
    world.rules["capped"] = make_rule(client, world, "CAPPED", points=5, monthly_cap=5, needs_review=False)
    household = world.households[0]
    # T0 is the first of May: this month's check-in fills May's cap.
    now_event = make_event(client, world, "capped")
    assert _checkin_by_card(client, world, now_event, household).get_json()["status"] == "posted"
    # An April event entered in May: April's cap is empty, May's is full.
    april = _backdated_event(client, world, "capped", days=20)
    april_scan = scan(
        "nonce-april-1",
        T0 - timedelta(days=19),
        household_code=household["code"],
        member_id=household["member_ids"][0],
    )
    claim_id = sync(client, world, april, [april_scan]).get_json()["results"][0]["checkin"]["claim_id"]
    refused = _approve(client, world, claim_id, world.admin)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "monthly-cap-reached"
    assert balance(client, world, household) == 5


def test_a_late_check_in_counts_against_the_month_of_the_deed_too(client, world, clock):
    world.rules["capped"] = make_rule(client, world, "CAPPED", points=5, monthly_cap=5, needs_review=False)
    household = world.households[0]
    april = _backdated_event(client, world, "capped", days=20)
    members = household["member_ids"]
    scans = [
        scan(
            f"nonce-apr-{i:03d}",
            T0 - timedelta(days=19, minutes=-i),
            household_code=household["code"],
            member_id=m,
        )
        for i, m in enumerate(members[:2])
    ]
    results = sync(client, world, april, scans).get_json()["results"]
    first, second = (r["checkin"]["claim_id"] for r in results)
    assert _approve(client, world, first, world.admin).get_json()["status"] == "posted"
    refused = _approve(client, world, second, world.admin)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "monthly-cap-reached"
    # And the April entry, entered in May, also fills May's cap.
    now_event = make_event(client, world, "capped")
    other = _checkin_by_card(client, world, now_event, household).get_json()
    assert other["status"] == "rejected"  # a check-in past the cap is kept, without points
    assert balance(client, world, household) == 5


def test_migration_0010_goes_down_and_up_again_with_claims_and_check_ins_kept(db_url):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import func, select

    from merit_bank.claims.models import Claim, ClaimAction
    from merit_bank.events import tokens
    from merit_bank.events.models import Checkin
    from merit_bank.extensions import db
    from tests.conftest import app_for
    from tests.events.event_helpers import Clock, make_world

    with app_for(db_url) as app:
        saved = tokens.clock
        tokens.clock = Clock()
        try:
            client = app.test_client()
            world = make_world(app, client)
            event = _backdated_event(client, world)
            assert _checkin_by_card(client, world, event, world.households[0]).status_code == 201
        finally:
            tokens.clock = saved
        with app.app_context():
            downgrade(revision="0009")
            upgrade()
            assert db.session.scalar(select(func.count()).select_from(Checkin)) == 1
            assert db.session.scalar(select(func.count()).select_from(ClaimAction)) == 1
            claim = db.session.scalars(select(Claim)).one()
            # The marks are gone with the columns: the claim comes back as an ordinary one.
            assert claim.late_entry is False and claim.entered_by_id is None
