"""Offline scans synced in batches: idempotent per nonce, judged at scan time, one bad scan fails alone."""

from __future__ import annotations

from datetime import timedelta

from merit_bank.events.models import Checkin, ScanLog
from merit_bank.extensions import db
from tests.events.event_helpers import T0, balance, make_event
from tests.events.event_helpers import card_for as card


def scan(nonce, at, **fields):
    return {"nonce": nonce, "scanned_at": at.isoformat(), **fields}


def sync(client, world, event, scans, user=None):
    return client.post(
        f"/api/v1/events/{event['id']}/checkins/batch",
        json={"scans": scans},
        headers=world.h(user or world.clerk),
    )


def test_a_batch_replayed_twice_posts_the_points_once(client, world, clock):
    event = make_event(client, world)
    h0, h1 = world.households[0], world.households[1]
    scans = [
        scan(
            "nonce-0001",
            T0 - timedelta(minutes=20),
            card_token=card(world.app, h0),
            member_id=h0["member_ids"][0],
        ),
        scan(
            "nonce-0002",
            T0 - timedelta(minutes=19),
            card_token=card(world.app, h0),
            member_id=h0["member_ids"][1],
        ),
        scan(
            "nonce-0003", T0 - timedelta(minutes=18), household_code=h1["code"], member_id=h1["member_ids"][0]
        ),
    ]
    first = sync(client, world, event, scans)
    assert first.status_code == 200, first.get_json()
    results = first.get_json()["results"]
    assert [r["outcome"] for r in results] == ["created"] * 3
    assert [r["replayed"] for r in results] == [False] * 3
    # The scan time, not the sync time, is when they were there.
    assert results[0]["checkin"]["checked_in_at"].startswith(
        (T0 - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    )

    clock.advance(minutes=30)
    second = sync(client, world, event, scans)
    again = second.get_json()["results"]
    assert [r["outcome"] for r in again] == ["created"] * 3
    assert [r["replayed"] for r in again] == [True] * 3
    assert [r["checkin"]["id"] for r in again] == [r["checkin"]["id"] for r in results]
    assert balance(client, world, h0) == 10 and balance(client, world, h1) == 5

    with world.app.app_context():
        assert db.session.query(Checkin).count() == 3
        assert db.session.query(ScanLog).count() == 3


def test_a_mixed_batch_judges_each_scan_on_its_own(client, world, clock):
    event = make_event(client, world, capacity=3)
    clock.advance(hours=4)  # synced after the event, which ended at T0 + 2 h
    h0, h1, h2 = world.households
    good = card(world.app, h0)
    scans = [
        scan("mixed-good-1", T0, card_token=good, member_id=h0["member_ids"][0]),
        scan("mixed-forged", T0, card_token=good[:-2] + "AA", member_id=h0["member_ids"][1]),
        scan(
            "mixed-early", T0 - timedelta(hours=3), household_code=h1["code"], member_id=h1["member_ids"][0]
        ),
        scan("mixed-late", T0 + timedelta(hours=3), household_code=h1["code"], member_id=h1["member_ids"][1]),
        scan("mixed-nocode", T0, household_code="ZZZZZZ", member_id=h1["member_ids"][1]),
        scan("mixed-nobody", T0, household_code=h2["code"]),
        scan("mixed-repeat", T0, card_token=good, member_id=h0["member_ids"][0]),
        scan("mixed-good-2", T0, household_code=h2["code"], member_id=h2["member_ids"][0]),
        scan("mixed-good-3", T0, card_token=card(world.app, world.single)),
        scan("mixed-full", T0, household_code=h2["code"], member_id=h2["member_ids"][1]),
        scan(
            "mixed-future", T0 + timedelta(hours=5), household_code=h1["code"], member_id=h1["member_ids"][0]
        ),
    ]
    response = sync(client, world, event, scans)
    assert response.status_code == 200, response.get_json()
    got = {r["nonce"]: (r["outcome"], r["code"]) for r in response.get_json()["results"]}
    assert got == {
        "mixed-good-1": ("created", None),
        "mixed-forged": ("refused", "invalid-token"),
        "mixed-early": ("refused", "event-not-open"),
        "mixed-late": ("refused", "event-not-open"),
        "mixed-nocode": ("refused", "unknown-household"),
        "mixed-nobody": ("refused", "member-required"),
        "mixed-repeat": ("already", None),
        "mixed-good-2": ("created", None),
        "mixed-good-3": ("created", None),
        "mixed-full": ("refused", "event-full"),
        "mixed-future": ("refused", "scan-time-in-future"),
    }
    # Replaying the batch later answers every scan as it was first answered, even where the
    # situation changed since (the clock moved into the window of the once-future scan).
    clock.advance(hours=1)
    replay = sync(client, world, event, scans).get_json()["results"]
    assert {r["nonce"]: (r["outcome"], r["code"]) for r in replay} == got
    assert all(r["replayed"] for r in replay)
    with world.app.app_context():
        assert db.session.query(Checkin).count() == 3


def test_online_and_offline_scans_meet_in_one_rule(client, world):
    event = make_event(client, world)
    h0 = world.households[0]
    member = h0["member_ids"][0]
    online = client.post(
        f"/api/v1/events/{event['id']}/checkins",
        json={"household_code": h0["code"], "member_id": member},
        headers=world.h(world.clerk),
    )
    assert online.status_code == 201
    offline = sync(
        client, world, event, [scan("late-sync-01", T0, household_code=h0["code"], member_id=member)]
    )
    result = offline.get_json()["results"][0]
    assert result["outcome"] == "already" and result["checkin"]["id"] == online.get_json()["id"]
    assert balance(client, world, h0) == 5


def test_batches_are_validated_and_scoped(client, world):
    event = make_event(client, world)
    h0 = world.households[0]
    ok = scan("valid-nonce-1", T0, household_code=h0["code"], member_id=h0["member_ids"][0])
    for body in [
        {"scans": []},
        {"scans": [{**ok, "nonce": "short"}]},
        {"scans": [{**ok, "scanned_at": "2026-05-01T10:00:00"}]},
        {"scans": [{**ok, "extra": 1}]},
        {"scans": [ok] * 501},
        {},
    ]:
        response = client.post(
            f"/api/v1/events/{event['id']}/checkins/batch", json=body, headers=world.h(world.clerk)
        )
        assert response.status_code == 422, body
    assert sync(client, world, event, [ok], user=world.villagers[0]).status_code == 403
    assert sync(client, world, event, [ok], user=world.other_clerk).status_code == 404
