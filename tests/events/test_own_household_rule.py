"""The own-household rule holds wherever points can reach a household, not only in the claims review.

A staff member linked to a household (users.member_id) may not give it points by reviewing its claim, by
scanning its card or typing its code at an event, by syncing an offline queue that holds such a scan, or by
an adjustment; another staff member may, and the villager's own check-in with the event code still works.
"""

from __future__ import annotations

from datetime import timedelta

from merit_bank.events.models import Checkin, ScanLog
from merit_bank.extensions import db
from tests.events.event_helpers import T0, balance, card_for, make_event, token_for
from tests.factories import make_user


def _linked(app, world, role: str, household: int = 0) -> int:
    """A staff login of the village linked to the household's second member (the first is its villager)."""
    return make_user(app, role, world.village, member_id=world.households[household]["member_ids"][1])


def _checkin(client, world, event, user, **body):
    return client.post(f"/api/v1/events/{event['id']}/checkins", json=body, headers=world.h(user))


def test_a_clerk_cannot_check_in_his_own_household_by_card_but_another_clerk_can(client, world):
    relative = _linked(world.app, world, "clerk")
    event = make_event(client, world, by=relative)
    household = world.households[0]
    card, member = card_for(world.app, household), household["member_ids"][0]

    refused = _checkin(client, world, event, relative, card_token=card, member_id=member)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "own-household"
    assert balance(client, world, household) == 0
    with world.app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Checkin)) == 0
        logged = db.session.scalars(db.select(ScanLog.outcome)).all()
    assert logged == ["own-household"]  # the refusal is audited like any refused scan

    allowed = _checkin(client, world, event, world.clerk, card_token=card, member_id=member)
    assert allowed.status_code == 201
    assert balance(client, world, household) == 5
    # His scans of other households are not affected.
    other = world.households[1]
    other_card = card_for(world.app, other)
    theirs = _checkin(client, world, event, relative, card_token=other_card, member_id=other["member_ids"][0])
    assert theirs.status_code == 201


def test_a_clerk_cannot_check_in_his_own_household_by_its_code_but_another_clerk_can(client, world):
    relative = _linked(world.app, world, "clerk")
    event = make_event(client, world, by=relative)
    household = world.households[0]
    body = {"household_code": household["code"], "member_id": household["member_ids"][0]}

    refused = _checkin(client, world, event, relative, **body)
    assert refused.status_code == 403 and refused.get_json()["type"] == "own-household"
    assert balance(client, world, household) == 0

    allowed = _checkin(client, world, event, world.clerk, **body)
    assert allowed.status_code == 201
    assert balance(client, world, household) == 5


def test_an_admin_linked_to_a_household_cannot_check_it_in_either(client, world):
    admin = _linked(world.app, world, "admin")
    event = make_event(client, world)
    household = world.households[0]
    body = {"household_code": household["code"], "member_id": household["member_ids"][0]}
    refused = _checkin(client, world, event, admin, **body)
    assert refused.status_code == 403 and refused.get_json()["type"] == "own-household"
    assert _checkin(client, world, event, world.admin, **body).status_code == 201


def test_a_synced_scan_of_ones_own_household_is_refused_alone_and_the_rest_of_the_batch_posts(client, world):
    relative = _linked(world.app, world, "clerk")
    event = make_event(client, world, by=relative)
    own, other = world.households[0], world.households[1]
    scans = [
        {
            "nonce": "own-0001",
            "scanned_at": (T0 - timedelta(minutes=20)).isoformat(),
            "card_token": card_for(world.app, own),
            "member_id": own["member_ids"][0],
        },
        {
            "nonce": "own-0002",
            "scanned_at": (T0 - timedelta(minutes=19)).isoformat(),
            "household_code": own["code"],
            "member_id": own["member_ids"][0],
        },
        {
            "nonce": "other-0003",
            "scanned_at": (T0 - timedelta(minutes=18)).isoformat(),
            "household_code": other["code"],
            "member_id": other["member_ids"][0],
        },
    ]
    url = f"/api/v1/events/{event['id']}/checkins/batch"
    response = client.post(url, json={"scans": scans}, headers=world.h(relative))
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [(r["outcome"], r["code"]) for r in results] == [
        ("refused", "own-household"),
        ("refused", "own-household"),
        ("created", None),
    ]
    assert balance(client, world, own) == 0 and balance(client, world, other) == 5

    # Sent again, the refusals are answered from the audit log, as every replayed scan is.
    again = client.post(url, json={"scans": scans}, headers=world.h(relative)).get_json()["results"]
    assert [(r["outcome"], r["code"], r["replayed"]) for r in again][:2] == [
        ("refused", "own-household", True),
        ("refused", "own-household", True),
    ]

    # Another clerk's sync of the same household posts.
    fresh = [{**scans[0], "nonce": "clerk-0001"}]
    synced = client.post(url, json={"scans": fresh}, headers=world.h(world.clerk)).get_json()["results"]
    assert [r["outcome"] for r in synced] == ["created"]
    assert balance(client, world, own) == 5


def test_a_clerk_cannot_check_out_his_own_household_and_so_set_its_hours_but_another_clerk_can(
    client, world, clock
):
    relative = _linked(world.app, world, "clerk")
    event = make_event(client, world, "hourly")
    token = token_for(world.app, event["id"])
    checked_in = client.post("/api/v1/checkins", json={"token": token}, headers=world.h(world.villagers[0]))
    assert checked_in.status_code == 201
    clock.advance(minutes=100)
    url = f"/api/v1/events/{event['id']}/checkins/{checked_in.get_json()['id']}/checkout"
    refused = client.post(url, headers=world.h(relative))
    assert refused.status_code == 403 and refused.get_json()["type"] == "own-household"
    assert balance(client, world, world.households[0]) == 0
    allowed = client.post(url, headers=world.h(world.clerk))
    assert allowed.status_code == 200 and allowed.get_json()["points"] == 20
    assert balance(client, world, world.households[0]) == 20


def test_the_villagers_own_check_in_with_the_event_code_is_still_allowed(client, world):
    _linked(world.app, world, "clerk")
    event = make_event(client, world)
    token = token_for(world.app, event["id"])
    response = client.post("/api/v1/checkins", json={"token": token}, headers=world.h(world.villagers[0]))
    assert response.status_code == 201
    assert balance(client, world, world.households[0]) == 5


def test_a_clerk_cannot_approve_the_claim_of_his_own_household_from_a_check_in_but_another_clerk_can(
    client, world
):
    relative = _linked(world.app, world, "clerk")
    event = make_event(client, world, "reviewed")
    token = token_for(world.app, event["id"])
    checked_in = client.post("/api/v1/checkins", json={"token": token}, headers=world.h(world.villagers[0]))
    assert checked_in.status_code == 201
    claim_id = checked_in.get_json()["claim_id"]
    refused = client.post(f"/api/v1/claims/{claim_id}/approve", json={}, headers=world.h(relative))
    assert refused.status_code == 403 and refused.get_json()["type"] == "own-household"
    allowed = client.post(f"/api/v1/claims/{claim_id}/approve", json={}, headers=world.h(world.clerk))
    assert allowed.status_code == 200, allowed.get_json()
    assert balance(client, world, world.households[0]) == 3


def _adjust(client, world, user, household, points, key):
    return client.post(
        "/api/v1/ledger/adjustments",
        json={"village_id": world.village, "household_id": household["id"], "points": points, "memo": "更正"},
        headers={**world.h(user), "Idempotency-Key": key},
    )


def test_an_admin_cannot_adjust_points_into_his_own_household_but_another_admin_can(client, world):
    relative = _linked(world.app, world, "admin")
    household = world.households[0]
    refused = _adjust(client, world, relative, household, 10, "adj-1")
    assert refused.status_code == 403 and refused.get_json()["type"] == "own-household"
    assert balance(client, world, household) == 0

    allowed = _adjust(client, world, world.admin, household, 10, "adj-2")
    assert allowed.status_code == 201, allowed.get_json()
    assert balance(client, world, household) == 10
    # Taking points away from his own household gives it nothing: that correction stays his to make.
    assert _adjust(client, world, relative, household, -4, "adj-3").status_code == 201
    assert balance(client, world, household) == 6


def test_an_admin_cannot_reverse_a_deduction_of_his_own_household(client, world):
    relative = _linked(world.app, world, "admin")
    household = world.households[0]
    assert _adjust(client, world, world.admin, household, 10, "adj-1").status_code == 201
    deduction = _adjust(client, world, world.admin, household, -4, "adj-2").get_json()
    url = f"/api/v1/ledger/transactions/{deduction['id']}/reversal"
    refused = client.post(url, json={"memo": "撤销"}, headers={**world.h(relative), "Idempotency-Key": "r1"})
    assert refused.status_code == 403 and refused.get_json()["type"] == "own-household"
    allowed = client.post(
        url, json={"memo": "撤销"}, headers={**world.h(world.admin), "Idempotency-Key": "r2"}
    )
    assert allowed.status_code == 201, allowed.get_json()
    assert balance(client, world, household) == 10
