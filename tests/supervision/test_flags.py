"""Each flag fires in a village seeded to raise it and stays silent in a clean one (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from merit_bank.auth import services as auth_services
from merit_bank.auth.models import User
from merit_bank.extensions import db
from tests.factories import root_admin
from tests.supervision.helpers import codes, flags, install_clock, make_v


@pytest.fixture
def clock(monkeypatch):
    return install_clock(monkeypatch)


def _period(day):
    return (day - timedelta(days=1), day + timedelta(days=9))


def test_points_to_staff_households_and_colleague_approvals(app, client, clock):
    clk, day = clock
    # Clerk 0's family is household 0 of ten; the admin (a colleague) approves its claims.
    dirty = make_v(app, "甲村", households=10, staff_households={0: 0})
    clean = make_v(app, "乙村", households=10, staff_households={0: 0})
    clk.at(day, 9)
    for _ in range(3):
        dirty.claim_approved(0, dirty.admin)
    dirty.claim_approved(5, dirty.clerks[1])
    # The clean village: the clerk's family earns nothing; others earn as usual.
    for household in (3, 4, 5, 6):
        clean.claim_approved(household, clean.clerks[0])

    found = flags(client, app, _period(day), dirty.id)
    assert {"staff_share", "staff_colleague_approved"} <= codes(found)
    share = next(f for f in found if f["code"] == "staff_share")
    assert share["village_id"] == dirty.id
    assert share["figures"]["staff_points"] == 30 and share["figures"]["points"] == 40
    assert "30" in share["reason"] and "40" in share["reason"]  # the figures, in the reason
    colleague = next(f for f in found if f["code"] == "staff_colleague_approved")
    kinds = {e["kind"] for e in colleague["evidence"]}
    assert {"household", "user", "transaction", "claim"} <= kinds
    assert colleague["figures"]["postings"] == 3
    assert {"id": dirty.admin, "kind": "user"} in colleague["evidence"]

    assert (
        codes(flags(client, app, _period(day), clean.id)) & {"staff_share", "staff_colleague_approved"}
        == set()
    )


def test_reciprocal_approvals(app, client, clock):
    clk, day = clock
    # Clerks 0 and 1 have families (households 0 and 1).
    dirty = make_v(app, "甲村", staff_households={0: 0, 1: 1})
    clean = make_v(app, "乙村", staff_households={0: 0, 1: 1})
    clk.at(day, 9)
    for _ in range(2):
        dirty.claim_approved(1, dirty.clerks[0])  # clerk 0 approves clerk 1's family
        dirty.claim_approved(0, dirty.clerks[1])  # and clerk 1 clerk 0's
    # Clean: the admin approves the clerks' families; the clerks approve other households.
    for _ in range(2):
        clean.claim_approved(0, clean.admin)
        clean.claim_approved(1, clean.admin)
        clean.claim_approved(2, clean.clerks[0])
        clean.claim_approved(3, clean.clerks[1])

    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "reciprocal_approvals"]
    assert len(found) == 1
    flag = found[0]
    assert {e["id"] for e in flag["evidence"] if e["kind"] == "user"} == set(dirty.clerks)
    assert len([e for e in flag["evidence"] if e["kind"] == "claim"]) == 4
    assert "reciprocal_approvals" not in codes(flags(client, app, _period(day), clean.id))


def test_approvals_in_seconds(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day, 9)
    for n in range(5):
        dirty.claim_approved(n, dirty.clerks[0], wait=8)
        clean.claim_approved(n, clean.clerks[0], wait=600)
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "approval_fast"]
    assert len(found) == 1 and found[0]["figures"]["fast"] == 5
    assert {"kind": "user", "id": dirty.clerks[0]} in found[0]["evidence"]
    assert "approval_fast" not in codes(flags(client, app, _period(day), clean.id))


def test_approvals_in_bulk(app, client, clock):
    app.config["SUPERVISION_BULK_MIN_COUNT"] = 6  # a setting: six in ten minutes is a burst here
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day, 8)
    dirty_claims = [dirty.file(n % 8) for n in range(6)]
    clean_claims = [clean.file(n % 8) for n in range(6)]
    clk.at(day, 10)
    for claim in dirty_claims:
        clk.tick(20)
        dirty.approve(claim, dirty.clerks[0])
    for claim in clean_claims:
        clk.tick(1800)  # one every half hour
        clean.approve(claim, clean.clerks[0])
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "approval_bulk"]
    assert len(found) == 1 and found[0]["figures"]["largest"] >= 6
    assert "approval_bulk" not in codes(flags(client, app, _period(day), clean.id))


def test_approvals_at_night(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day, 8)
    dirty_claims = [dirty.file(n) for n in range(3)]
    clean_claims = [clean.file(n) for n in range(3)]
    clk.at(day, 10)
    for claim in clean_claims:
        clk.tick(600)
        clean.approve(claim, clean.clerks[0])
    clk.at(day, 23, 30)  # 23:30 local: 15:30 UTC, not night at all in UTC
    for claim in dirty_claims:
        clk.tick(600)
        dirty.approve(claim, dirty.clerks[0])
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "approval_night"]
    assert len(found) == 1 and found[0]["figures"]["night"] == 3
    assert "approval_night" not in codes(flags(client, app, _period(day), clean.id))


def test_one_reviewer_for_most_of_a_council(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day, 9)
    for n in range(10):
        dirty.claim_approved(n % 8, dirty.clerks[0], wait=900)
        clean.claim_approved(n % 8, clean.clerks[n % 2], wait=900)
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "approval_dominant"]
    assert len(found) == 1
    assert (
        found[0]["figures"]["approved"] == 10 and found[0]["figures"]["other_reviewers"] == 2
    )  # admin, clerk
    assert "志愿服务" in found[0]["reason"] or "Volunteer" in found[0]["reason"]
    assert "approval_dominant" not in codes(flags(client, app, _period(day), clean.id))


def test_a_lone_reviewer_is_not_flagged_for_reviewing_alone(app, client, clock):
    clk, day = clock
    village = make_v(app, "丙村", clerks=1)
    with app.app_context():
        root = db.session.get(User, root_admin(app))
        auth_services.update_user(root, village.admin, {"active": False})  # the admin has left
    clk.at(day, 9)
    for n in range(10):
        village.claim_approved(n % 8, village.clerks[0], wait=900)
    # Nobody else could have reviewed the volunteer council's claims: nothing to flag.
    assert "approval_dominant" not in codes(flags(client, app, _period(day), village.id))


def test_late_entries_by_person_and_month(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day + timedelta(days=8), 9)
    today = day + timedelta(days=8)
    for n in range(5):
        dirty.file(n, by=dirty.clerks[0], occurred_on=today - timedelta(days=7))  # past the 3-day window
        clean.file(n, by=clean.clerks[0], occurred_on=today - timedelta(days=1))
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "late_entries"]
    assert len(found) == 1
    assert found[0]["figures"]["count"] == 5 and found[0]["period"] == today.strftime("%Y-%m")
    assert len([e for e in found[0]["evidence"] if e["kind"] == "claim"]) == 5
    assert "late_entries" not in codes(flags(client, app, _period(day), clean.id))


def test_adjustments_by_person_and_month(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day, 9)
    for n in range(3):
        clk.tick(60)
        dirty.adjust(n, 10)
    clean.adjust(0, 10)
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "adjustments"]
    assert len(found) == 1 and found[0]["figures"] == {
        "user_id": dirty.admin,
        "month": found[0]["period"],
        "count": 3,
        "points": 30,
    }
    assert len([e for e in found[0]["evidence"] if e["kind"] == "transaction"]) == 3
    assert "adjustments" not in codes(flags(client, app, _period(day), clean.id))


def test_voids_per_shopkeeper_and_voids_soon_after_redemption(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村", shop=True)
    clean = make_v(app, "乙村", shop=True)
    clk.at(day, 9)
    for n in range(8):
        dirty.award(n, 50)
        clean.award(n, 50)
    clk.at(day, 10)
    for n in range(4):
        redemption = dirty.redeem(n)
        clk.tick(300)
        if n < 3:
            dirty.void(redemption)  # five minutes after the goods went out
    for n in range(8):
        clean.redeem(n)
        clk.tick(300)
    clean_redemption = clean.redeem(0)
    clk.tick(300)
    clean.void(clean_redemption)  # one honest correction
    found = flags(client, app, _period(day), dirty.id)
    by_code = {f["code"]: f for f in found}
    assert {"voids_by_person", "voids_soon"} <= set(by_code)
    assert by_code["voids_by_person"]["figures"]["voids"] == 3
    assert by_code["voids_by_person"]["figures"]["redemptions"] == 4
    assert len([e for e in by_code["voids_soon"]["evidence"] if e["kind"] == "redemption"]) == 3
    assert codes(flags(client, app, _period(day), clean.id)) & {"voids_by_person", "voids_soon"} == set()


def test_a_household_far_above_its_village_in_a_month(app, client, clock):
    clk, day = clock
    dirty = make_v(app, "甲村")
    clean = make_v(app, "乙村")
    clk.at(day, 9)
    for n in range(8):
        dirty.award(n, 10 + n)
        clean.award(n, 10 + 2 * n)
    jump = dirty.award(7, 150)
    found = [f for f in flags(client, app, _period(day), dirty.id) if f["code"] == "household_jump"]
    assert len(found) == 1
    assert found[0]["figures"]["household_id"] == dirty.households[7]["id"]
    assert {"kind": "transaction", "id": jump} in found[0]["evidence"]
    assert "household_jump" not in codes(flags(client, app, _period(day), clean.id))
