"""Concurrent taps and syncs, with real threads, on SQLite and PostgreSQL: one check-in, points once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from merit_bank.claims.models import Claim
from merit_bank.events.models import Checkin, ScanLog
from merit_bank.extensions import db
from merit_bank.ledger.models import Transaction
from tests.events.event_helpers import T0, balance, make_event, token_for

pytestmark = pytest.mark.race


def _in_parallel(app, count, request):
    """Run `request(client)` in `count` threads released together; returns their responses."""
    barrier = threading.Barrier(count)

    def one(_index):
        client = app.test_client()
        barrier.wait()
        return request(client)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_twenty_concurrent_taps_by_one_member_check_in_once_and_post_once(app, client, world):
    event = make_event(client, world)
    token = token_for(app, event["id"])
    headers = world.h(world.villagers[0])

    responses = _in_parallel(
        app, 20, lambda c: c.post("/api/v1/checkins", json={"token": token}, headers=headers)
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.get_json() for r in responses if r.status_code >= 400]
    bodies = {r.get_data(as_text=True) for r in responses}
    assert len(bodies) == 1  # every tap is answered with the same check-in
    assert balance(client, world, world.households[0]) == 5
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Checkin)) == 1
        assert db.session.scalar(select(func.count()).select_from(Claim)) == 1
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 1
        outcomes = db.session.scalars(select(ScanLog.outcome)).all()
        assert sorted(outcomes) == ["already"] * 19 + ["created"]


def test_concurrent_members_never_overfill_an_event(app, client, world):
    event = make_event(client, world, capacity=2)
    token = token_for(app, event["id"])
    users = [*world.villagers, *world.villagers]  # three members, each tapping twice at once
    barrier_users = iter(range(len(users)))
    lock = threading.Lock()

    def tap(c):
        with lock:
            user = users[next(barrier_users)]
        return c.post("/api/v1/checkins", json={"token": token}, headers=world.h(user))

    responses = _in_parallel(app, len(users), tap)
    created = [r for r in responses if r.status_code == 201]
    full = [r for r in responses if r.status_code == 409]
    assert len(created) == 2
    assert all(r.get_json()["type"] == "event-full" for r in full)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Checkin)) == 2


def test_one_batch_synced_twice_at_once_posts_once(app, client, world):
    event = make_event(client, world)
    households = world.households
    scans = [
        {
            "nonce": f"race-nonce-{i:02d}",
            "scanned_at": T0.isoformat(),
            "household_code": h["code"],
            "member_id": h["member_ids"][j],
        }
        for i, (h, j) in enumerate((h, j) for h in households for j in range(2))
    ]
    url = f"/api/v1/events/{event['id']}/checkins/batch"
    responses = _in_parallel(
        app, 4, lambda c: c.post(url, json={"scans": scans}, headers=world.h(world.clerk))
    )
    assert all(r.status_code == 200 for r in responses), [r.get_json() for r in responses]
    for response in responses:
        outcomes = {r["outcome"] for r in response.get_json()["results"]}
        assert outcomes <= {"created", "already"}, response.get_json()
    assert all(balance(client, world, h) == 10 for h in households)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Checkin)) == 6
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 6
        assert db.session.scalar(select(func.count()).select_from(ScanLog)) == 6
