"""A claim's posting stamps its transaction id on the claim in the posting's own statement (ledger.post's
`stamp`), on both databases: the claim row and the ledger agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from merit_bank.claims.models import Claim
from merit_bank.events import tokens
from merit_bank.extensions import db
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger.models import Transaction
from tests.events.event_helpers import Clock, card_for, make_event, make_world


def test_a_check_in_claim_row_names_the_transaction_that_posted_it(app, client, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(tokens, "clock", clock)
    world = make_world(app, client)
    event = make_event(client, world)
    card = card_for(app, world.single)
    clock.advance(seconds=timedelta(minutes=1).total_seconds())
    response = client.post(
        f"/api/v1/events/{event['id']}/checkins", json={"card_token": card}, headers=world.h(world.clerk)
    )
    assert response.status_code == 201, response.get_json()
    claim_id = response.get_json()["claim_id"]
    with app.app_context():
        db.session.expire_all()
        claim = db.session.get(Claim, claim_id)
        stamped = claim.transaction_id
        # The claim's posting is keyed by the claim's source (claims.services._ledger_key).
        posted = db.session.scalars(
            select(Transaction).where(Transaction.idempotency_key == claim.source_key)
        ).all()
        assert stamped is not None
        assert [tx.id for tx in posted] == [stamped]
        assert db.session.get(Transaction, stamped).kind == "award"


def test_a_follow_up_names_its_parameters_apart_from_the_postings():
    with pytest.raises(ValueError):
        ledger_posting.FollowUp(ctes="", params={"village_id": 1})
    sql = ledger_posting._pg_post_sql(", extra AS (SELECT 1)", "tx.id")
    assert "), extra AS (SELECT 1)\nSELECT chain.seq," in sql
    assert ", tx.id\nFROM chain\nLEFT JOIN known" in sql
