"""The seeded demo: a year of history whose ledger verifies, charts with points in most months, rankings
with most households in them, two clerks, one claim due and one that needs both clerks."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from merit_bank.auth.models import User
from merit_bank.claims import services as claim_services
from merit_bank.claims.models import Claim
from merit_bank.clock import local_month
from merit_bank.database import utcnow
from merit_bank.demo import CLERK, CLERK2, seed_demo
from merit_bank.events.models import Checkin
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.reports import services as reports
from merit_bank.reports.periods import last_months
from merit_bank.rules.models import Rule
from merit_bank.shop.models import Redemption
from tests.factories import auth


@pytest.fixture
def demo_app(app):
    started = time.monotonic()
    with app.app_context():
        seed_demo()
    app.config["DEMO_SEED_SECONDS"] = time.monotonic() - started
    return app


def test_the_demo_ledger_verifies_and_its_year_fills_the_dashboard(demo_app, runner):
    app = demo_app
    # Generous bound: the machine running the suite is shared; alone it takes a few seconds.
    assert app.config["DEMO_SEED_SECONDS"] < 60
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 0, result.output
    assert "Ledger OK" in result.output
    assert runner.invoke(args=["verify-stock"]).exit_code == 0
    with app.app_context():
        assert ledger.verify()["ok"]
        village = db.session.scalar(select(User.village_id).where(User.username == CLERK[0]))
        year = last_months(12)
        issued: dict[str, int] = dict.fromkeys(year.month_keys(), 0)
        for row in reports.issued_by_month([village], year):
            issued[row["month"]] += row["issued"]
        # Every month but the current one, which may have begun only today, has points issued.
        assert sum(1 for points in issued.values() if points > 0) >= 11, issued
        for month in year.month_keys()[:-1]:
            assert issued[month] > 0, (month, issued)
        # Spread over the year, not piled on one day: check-ins and redemptions in most months.
        for moments in (select(Checkin.checked_in_at), select(Redemption.created_at)):
            months = {local_month(moment) for moment in db.session.scalars(moments)}
            assert len(months & set(year.month_keys())) >= 10, months
        assert db.session.scalar(select(func.count()).select_from(Checkin)) > 100
        assert db.session.scalar(select(func.count()).select_from(Redemption)) > 20
        assert db.session.scalar(select(func.count()).where(Claim.status == "posted")) > 200

    # The dashboard and the year's rankings (through the API a village official's app uses).
    with app.app_context():
        admin = db.session.scalar(select(User.id).where(User.username == "admin"))
    client = app.test_client()
    stats = client.get(
        f"/api/v1/reports/stats?village_id={village}&from={year.first}&to={year.last}",
        headers=auth(app, admin),
    )
    assert stats.status_code == 200, stats.get_json()
    body = stats.get_json()
    assert (
        body["points"]["issued"] > 1000 and body["points"]["redeemed"] > 0 and body["points"]["deducted"] > 0
    )
    assert {row["month"] for row in body["by_month"]} >= set(year.month_keys()[:-1])
    # Most households took part; the first is left at zero for a visitor trying the demo.
    assert body["participation"]["earning"] >= 10
    rankings = client.get(
        f"/api/v1/reports/rankings?village_id={village}&from={year.first}&to={year.last}",
        headers=auth(app, admin),
    )
    assert rankings.status_code == 200, rankings.get_json()


def test_the_demo_has_two_clerks_a_due_claim_and_a_claim_for_both_clerks_and_is_seeded_once(demo_app):
    app = demo_app
    client = app.test_client()
    for username, password in (CLERK, CLERK2):
        response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, username
        assert response.get_json()["user"]["role"] == "clerk"
    with app.app_context():
        assert claim_services.count_due(None) == 1
        drug = db.session.scalar(select(Rule).where(Rule.code == "ADG-DRUG"))
        assert (drug.path.reviewers, drug.path.kind) == (2, "at_once")
        waiting = db.session.scalars(select(Claim).where(Claim.rule_id == drug.id)).one()
        assert waiting.status == "pending"
        # Nothing else in the history was left behind: only today's claims wait.
        due = db.session.scalars(
            select(Claim).where(Claim.status == "in_notice", Claim.notice_ends_at <= utcnow())
        ).all()
        assert len(due) == 1
        first_household = db.session.scalar(select(User).where(User.username == "13800000001"))
        assert ledger.household_balance(first_household.household_id) == 0

    # Seeded once: a second run changes nothing.
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Claim))
        with pytest.raises(Exception, match="already exists"):
            seed_demo()
        assert db.session.scalar(select(func.count()).select_from(Claim)) == before
