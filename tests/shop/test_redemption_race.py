"""Concurrent redemptions over real HTTP requests in real threads, on SQLite and PostgreSQL.

Each thread has its own test client (its own request, session and database connection), and all start
together at a barrier, so the requests genuinely overlap inside the database.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.shop import services as shop_services
from merit_bank.shop.models import Redemption
from tests.shop.shop_helpers import balance, build_world, stock

pytestmark = pytest.mark.race


def _run_together(app, requests: list[tuple[dict, dict]]) -> list[tuple[int, dict]]:
    """POST /redemptions for each (headers, body) at once; returns (status, json) in order."""
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, dict] | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def worker(index: int, headers: dict, body: dict) -> None:
        try:
            client = app.test_client()
            barrier.wait(timeout=60)
            response = client.post("/api/v1/redemptions", headers=headers, json=body)
            results[index] = (response.status_code, response.get_json())
        except BaseException as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, h, b)) for i, (h, b) in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _check_books(app) -> None:
    with app.app_context():
        assert ledger.verify()["ok"] is True
        assert shop_services.verify_stock()["ok"] is True


def test_30_redemptions_against_a_balance_that_covers_10(app):
    world = build_world(app, households=1, points=100, goods=[("肥皂", "块", 10, 50, None)])
    household = world.households[0]
    soap = world.items["肥皂"]
    body = {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [{"item_id": soap, "quantity": 1}],
    }
    keeper = world.keeper
    results = _run_together(app, [({**keeper, "Idempotency-Key": uuid.uuid4().hex}, body) for _ in range(30)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 409: 20}, statuses
    assert {body["type"] for status, body in results if status == 409} == {"insufficient-balance"}
    assert balance(app, household["id"]) == 0
    assert stock(app, soap) == 40
    with app.app_context():
        assert db.session.query(Redemption).count() == 10
        assert ledger.shop_balance(world.shop_id) == 100
    _check_books(app)


def test_20_households_race_for_the_last_5_units(app):
    world = build_world(app, households=20, points=100, goods=[("食用油", "桶", 50, 5, None)])
    oil = world.items["食用油"]
    requests = [
        (
            {**world.keeper, "Idempotency-Key": uuid.uuid4().hex},
            {"shop_id": world.shop_id, "household_id": h["id"], "lines": [{"item_id": oil, "quantity": 1}]},
        )
        for h in world.households
    ]
    results = _run_together(app, requests)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 5, 409: 15}, statuses
    assert {body["type"] for status, body in results if status == 409} == {"out-of-stock"}
    assert stock(app, oil) == 0
    winners = {body["household_id"] for status, body in results if status == 201}
    assert len(winners) == 5
    for h in world.households:
        assert balance(app, h["id"]) == (50 if h["id"] in winners else 100)
    _check_books(app)


def test_12_requests_with_one_idempotency_key_make_one_redemption(app):
    world = build_world(app, households=1, points=300)
    household = world.households[0]
    body = {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [
            {"item_id": world.items["大米"], "quantity": 1},
            {"item_id": world.items["食盐"], "quantity": 2},
        ],
    }
    headers = {**world.keeper, "Idempotency-Key": "double-tap-" + uuid.uuid4().hex}
    results = _run_together(app, [(headers, body)] * 12)
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert all(body == results[0][1] for _, body in results)
    assert balance(app, household["id"]) == 300 - 40
    assert stock(app, world.items["大米"]) == 39 and stock(app, world.items["食盐"]) == 98
    with app.app_context():
        assert db.session.query(Redemption).count() == 1
    _check_books(app)
