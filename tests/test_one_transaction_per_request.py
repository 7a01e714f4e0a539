"""A write request is one transaction that commits once; its statements are counted as a regression guard."""

from __future__ import annotations

from datetime import timedelta

from merit_bank.events import tokens
from merit_bank.extensions import db
from tests.events.event_helpers import Clock, card_for, make_event, make_world
from tests.shop.shop_helpers import build_world, redeem
from tests.sql_counting import counting

# What SQLAlchemy sends for each request on PostgreSQL (BEGIN, COMMIT and the ledger's posting statement
# not included), with a little slack: today 3 for a redemption (the user; the shop, household and replay
# check; the shop and item locks; its writes ride in the posting's statement) and 3 for a card check-in
# (the user; the event with its rule, the card's household, its members and their check-ins at the event;
# one statement for every write, the posting then stamping its id on the claim), so 6 each with BEGIN,
# COMMIT and the posting (docs/benchmarks.md, "HTTP, issue #11"). The tests' tokens carry no role, so the
# read-only gate reads the user once more here.
REDEMPTION_STATEMENTS = 4
CHECKIN_STATEMENTS = 4


def test_a_redemption_is_one_transaction_that_commits_once(app, client):
    world = build_world(app)
    household = world.households[0]
    body = {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [{"item_id": world.items["食盐"], "quantity": 1}],
    }
    headers = world.keeper
    assert redeem(client, headers, body, key="warm-up").status_code == 201
    with counting(app) as counts:
        response = redeem(client, headers, body, key="counted")
    assert response.status_code == 201, response.json
    assert response.json["balance_after"] == 200 - 5 - 5 and len(response.json["lines"]) == 1
    _one_write_transaction(app, counts)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            assert len(counts.statements) <= REDEMPTION_STATEMENTS, "\n".join(
                s[:70] for s in counts.statements
            )


def test_a_card_check_in_is_one_transaction_that_commits_once(app, client, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(tokens, "clock", clock)
    world = make_world(app, client)
    event = make_event(client, world)
    cards = [card_for(app, world.single)]
    headers = world.h(world.clerk)
    url = f"/api/v1/events/{event['id']}/checkins"
    clock.advance(**{"seconds": timedelta(minutes=1).total_seconds()})
    with counting(app) as counts:
        response = client.post(url, json={"card_token": cards[0]}, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "posted"
    _one_write_transaction(app, counts)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            assert len(counts.statements) <= CHECKIN_STATEMENTS, counts.statements


def _one_write_transaction(app, counts) -> None:
    listing = "\n".join(s[:70] for s in counts.statements)
    assert counts.commits == 1, listing
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # The reads before the write (the user, the shop, ...) belong to the same transaction.
            assert counts.begins == 1, listing
        else:
            # SQLite ends the read transaction first: a deferred reader cannot become the writer safely.
            assert counts.begins == 2, listing


def test_a_balance_read_on_postgresql_is_two_statements_without_a_transaction(app, client):
    world = build_world(app)
    household = world.households[0]
    url = f"/api/v1/ledger/households/{household['id']}/balance"
    assert client.get(url, headers=world.admin).status_code == 200
    with counting(app) as counts:
        response = client.get(url, headers=world.admin)
    assert response.status_code == 200 and response.json["balance"] == 200
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # The user with the token's revocation; the household's village (scope check) with the balance.
            assert len(counts.statements) == 2, counts.statements
            assert all(counts.autocommit) and counts.commits == 0  # so no BEGIN, no ROLLBACK
