"""Real threads racing on one claim or one sweep: each claim posts exactly once, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from merit_bank.auth.models import User
from merit_bank.claims import services as claim_services
from merit_bank.claims.models import Claim
from merit_bank.errors import DomainError
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import Transaction
from tests.claims.claim_helpers import approve, balance, claim_id, end_notice, rule
from tests.factories import make_user
from tests.race_support import run_concurrently

pytestmark = pytest.mark.race


def _approver(user_id: int) -> Callable[[int], Any]:
    def run(cid: int) -> str:
        return claim_services.approve_claim(db.session.get(User, user_id), cid).status

    return run


def test_concurrent_approvals_of_one_claim_post_it_once(client, world, app):
    rid = rule(client, world, "VOL", points=7, notice_days=0)
    cid = claim_id(client, world, rid)
    reviewers = [world.clerk, world.clerk2, world.admin, make_user(app, "clerk", world.village)]
    results = run_concurrently(app, [lambda u=u: _approver(u)(cid) for u in reviewers])
    posted = [r for r in results if r == "posted"]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(posted) == 1, results
    assert len(refused) == len(reviewers) - 1
    assert {r.code for r in refused} == {"invalid-state"}
    assert balance(client, world) == 7
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 1
        assert ledger.verify()["ok"]


def test_concurrent_second_approvals_of_a_two_approval_rule_post_it_once(client, world, app):
    rid = rule(client, world, "WED", council="wedding_funeral", points=30, approvals_required=2)
    cid = claim_id(client, world, rid)
    assert approve(client, world, cid, world.clerk).get_json()["status"] == "approved"
    seconds = [world.clerk2, world.admin, make_user(app, "clerk", world.village)]
    results = run_concurrently(app, [lambda u=u: _approver(u)(cid) for u in seconds])
    assert results.count("posted") == 1, results
    assert balance(client, world) == 30


def test_concurrent_post_due_runs_post_each_claim_once(client, world, app):
    rid = rule(client, world, "FLOOD", points=3, notice_days=1)
    ids = [claim_id(client, world, rid, household=i % 3) for i in range(9)]
    for cid in ids:
        approve(client, world, cid, world.clerk)
        end_notice(app, cid)
    results = run_concurrently(app, [claim_services.post_due for _ in range(3)])
    assert not [r for r in results if isinstance(r, Exception)], results
    posted = [cid for r in results for cid in r["posted"]]
    assert sorted(posted) == sorted(ids)  # every claim once, none twice
    assert all(r["failed"] == [] for r in results)
    assert [balance(client, world, i) for i in range(3)] == [9, 9, 9]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 9
        statuses = set(db.session.scalars(select(Claim.status)))
        assert statuses == {"posted"}
        assert ledger.verify()["ok"]


def test_concurrent_postings_do_not_slip_past_the_monthly_cap(client, world, app):
    rid = rule(client, world, "CAP", points=5, monthly_cap=10, notice_days=0)
    ids = [claim_id(client, world, rid) for _ in range(4)]
    reviewers = [world.clerk, world.clerk2, world.admin, make_user(app, "clerk", world.village)]
    results = run_concurrently(
        app, [lambda u=u, c=c: _approver(u)(c) for u, c in zip(reviewers, ids, strict=True)]
    )
    assert results.count("posted") == 2, results
    assert sorted(r.code for r in results if isinstance(r, DomainError)) == ["monthly-cap-reached"] * 2
    assert balance(client, world) == 10
