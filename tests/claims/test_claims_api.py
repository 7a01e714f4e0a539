"""The claim workflow over HTTP: every transition and every refusal, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from merit_bank.claims import services as claim_services
from merit_bank.ledger import services as ledger
from tests.claims.claim_helpers import approve, balance, claim_id, end_notice, file_claim, rule


def test_a_villager_claims_for_their_own_household_and_it_waits_for_review(client, world):
    rid = rule(client, world, "VOL", points=5)
    response = file_claim(client, world, rid, note="帮五保户打扫", quantity=2)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["points"] == 10
    assert body["rule_version"] == 1
    assert body["household_head"] == "王建国"


def test_a_villager_cannot_claim_for_another_household(client, world):
    rid = rule(client, world, "VOL")
    response = file_claim(client, world, rid, household=1, by=world.villagers[0])
    assert response.status_code == 404


def test_a_villager_cannot_claim_a_deduction(client, world):
    rid = rule(client, world, "GARBAGE", council="covenant", points=-5)
    response = file_claim(client, world, rid)
    assert response.status_code == 403
    assert response.get_json()["type"] == "deduction-by-council"


def test_a_claim_is_refused_for_a_future_date_a_foreign_member_or_bad_input(client, world):
    rid = rule(client, world, "VOL")
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert file_claim(client, world, rid, occurred_on=tomorrow).status_code == 422
    foreign = world.households[1]["member_ids"][0]
    response = file_claim(client, world, rid, member_id=foreign)
    assert response.status_code == 422
    assert "member_id" in response.get_json()["errors"]
    assert file_claim(client, world, rid, quantity=0).status_code == 422
    assert file_claim(client, world, rid, quantity=10**12).status_code == 422
    assert file_claim(client, world, rid, note="x" * 501).status_code == 422
    assert file_claim(client, world, rid, bogus=1).status_code == 422


def test_a_clerk_files_for_a_household_of_their_village_only_under_their_councils(client, world):
    vol = rule(client, world, "VOL")
    wed = rule(client, world, "WED", council="wedding_funeral")
    assert file_claim(client, world, vol, household=2, by=world.volunteer_clerk).status_code == 201
    response = file_claim(client, world, wed, household=2, by=world.volunteer_clerk)
    assert response.status_code == 403
    assert response.get_json()["type"] == "not-your-council"
    other = client.post(
        "/api/v1/claims",
        json={"household_id": world.households[0]["id"], "rule_id": vol},
        headers=world.h(world.other_admin),
    )
    assert other.status_code == 404


def test_approval_with_no_notice_posts_through_the_ledger_with_the_rule_version(client, world, app):
    rid = rule(client, world, "VOL", points=5, notice_days=0)
    cid = claim_id(client, world, rid)
    response = approve(client, world, cid, world.clerk, comment="核实")
    assert response.status_code == 200
    assert response.get_json()["status"] == "posted"
    assert balance(client, world) == 5
    with app.app_context():
        tx = ledger.transaction_by_key(f"claim:{cid}")
        assert tx is not None
        assert (tx.rule_id, tx.rule_version, tx.kind) == (rid, 1, "award")
        assert ledger.verify()["ok"]


def test_approval_starts_the_notice_and_post_due_posts_it_when_it_ends_unopposed(client, world, app, runner):
    rid = rule(client, world, "FLOOD", points=20, notice_days=3)
    cid = claim_id(client, world, rid, note="防汛值守")
    response = approve(client, world, cid, world.clerk)
    assert response.get_json()["status"] == "in_notice"
    detail = client.get(f"/api/v1/claims/{cid}", headers=world.h(world.villagers[0])).get_json()
    ends = datetime.fromisoformat(detail["notice_ends_at"])
    assert timedelta(days=2, hours=23) < ends - datetime.now(UTC) <= timedelta(days=3)

    # Before the notice ends nothing posts.
    response = client.post("/api/v1/claims/post-due", headers=world.h(world.admin))
    assert response.status_code == 200
    assert response.get_json()["posted"] == []
    assert balance(client, world) == 0

    end_notice(app, cid)
    result = runner.invoke(args=["post-due"])
    assert result.exit_code == 0, result.output
    assert "Posted 1 claim" in result.output
    assert balance(client, world) == 20
    again = runner.invoke(args=["post-due"])
    assert "Posted 0 claim" in again.output
    assert balance(client, world) == 20
    detail = client.get(f"/api/v1/claims/{cid}", headers=world.h(world.villagers[0])).get_json()
    assert detail["status"] == "posted"
    assert [h["action"] for h in detail["history"]] == ["create", "approve", "notice", "post"]
    assert detail["history"][-1]["actor_id"] is None


def test_post_due_endpoint_is_for_staff(client, world):
    assert client.post("/api/v1/claims/post-due", headers=world.h(world.villagers[0])).status_code == 403


def test_a_rule_needing_two_approvals_needs_two_different_people(client, world):
    rid = rule(
        client, world, "WED", council="wedding_funeral", points=30, approvals_required=2, notice_days=0
    )
    cid = claim_id(client, world, rid)
    first = approve(client, world, cid, world.clerk)
    assert first.get_json()["status"] == "approved"
    again = approve(client, world, cid, world.clerk)
    assert again.status_code == 409
    assert again.get_json()["type"] == "second-approver-required"
    second = approve(client, world, cid, world.clerk2)
    assert second.get_json()["status"] == "posted"
    assert balance(client, world) == 30


def test_the_creator_never_approves_their_own_claim(client, world):
    rid = rule(client, world, "VOL")
    response = file_claim(client, world, rid, household=1, by=world.clerk)
    cid = response.get_json()["id"]
    refused = approve(client, world, cid, world.clerk)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "own-claim"
    assert approve(client, world, cid, world.clerk2).status_code == 200


def test_nobody_reviews_a_claim_of_their_own_household(client, world, app):
    from sqlalchemy import update

    from merit_bank.auth.models import User
    from merit_bank.extensions import db
    from tests.factories import make_user

    rid = rule(client, world, "VOL")
    cid = claim_id(client, world, rid, household=0)
    # A clerk who lives in the household. (Staff logins are not linked to members through the users API
    # today, so the link is made directly; the rule must hold whenever such a link exists.)
    relative = make_user(app, "clerk", world.village)
    with app.app_context():
        member = world.households[0]["member_ids"][1]
        db.session.execute(update(User).where(User.id == relative).values(member_id=member))
        db.session.commit()
    refused = approve(client, world, cid, relative)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "own-household"
    rejected = client.post(f"/api/v1/claims/{cid}/reject", json={"reason": "x"}, headers=world.h(relative))
    assert rejected.status_code == 403


def test_only_admins_and_clerks_of_the_council_review(client, world):
    rid = rule(client, world, "WED", council="wedding_funeral")
    cid = claim_id(client, world, rid)
    # A clerk of another council does not even see the claim.
    assert approve(client, world, cid, world.volunteer_clerk).status_code == 404
    # A villager sees their own claim but may not review it.
    refused = approve(client, world, cid, world.villagers[0])
    assert refused.status_code == 403
    # Another village's admin does not see it.
    assert approve(client, world, cid, world.other_admin).status_code == 404
    assert approve(client, world, 999999, world.clerk).status_code == 404


def test_rejection_needs_a_reason_and_closes_the_claim(client, world):
    rid = rule(client, world, "VOL")
    cid = claim_id(client, world, rid)
    missing = client.post(f"/api/v1/claims/{cid}/reject", json={}, headers=world.h(world.clerk))
    assert missing.status_code == 422
    assert "reason" in missing.get_json()["errors"]
    blank = client.post(f"/api/v1/claims/{cid}/reject", json={"reason": "   "}, headers=world.h(world.clerk))
    assert blank.status_code == 422
    response = client.post(
        f"/api/v1/claims/{cid}/reject", json={"reason": "无证明"}, headers=world.h(world.clerk)
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    late = approve(client, world, cid, world.clerk2)
    assert late.status_code == 409
    assert late.get_json()["type"] == "invalid-state"
    history = client.get(f"/api/v1/claims/{cid}", headers=world.h(world.villagers[0])).get_json()["history"]
    assert history[-1]["action"] == "reject"
    assert history[-1]["comment"] == "无证明"


def test_a_neighbour_objects_during_the_notice_and_the_claim_returns_to_review(client, world):
    rid = rule(client, world, "DEED", council="moral_review", points=20, notice_days=5)
    cid = claim_id(client, world, rid)
    approve(client, world, cid, world.clerk)
    neighbour = world.villagers[1]
    no_reason = client.post(f"/api/v1/claims/{cid}/objections", json={}, headers=world.h(neighbour))
    assert no_reason.status_code == 422
    stranger = client.post(
        f"/api/v1/claims/{cid}/objections", json={"reason": "不实"}, headers=world.h(world.other_villager)
    )
    assert stranger.status_code == 404
    response = client.post(
        f"/api/v1/claims/{cid}/objections",
        json={"reason": "钱包是托管的，并非拾到"},
        headers=world.h(neighbour),
    )
    assert response.status_code == 201
    assert response.get_json()["status"] == "disputed"
    detail = client.get(f"/api/v1/claims/{cid}", headers=world.h(world.clerk)).get_json()
    assert detail["status"] == "disputed"
    assert detail["objections"][0]["reason"] == "钱包是托管的，并非拾到"
    # Objecting again is refused: the claim is no longer under notice.
    again = client.post(f"/api/v1/claims/{cid}/objections", json={"reason": "x"}, headers=world.h(neighbour))
    assert again.status_code == 409
    assert again.get_json()["type"] == "not-in-notice"
    # The council hears the objection and upholds the claim: it posts at once (its notice was served).
    upheld = approve(client, world, cid, world.clerk2, comment="经调查属实")
    assert upheld.get_json()["status"] == "posted"
    assert balance(client, world) == 20


def test_a_disputed_claim_can_be_rejected(client, world):
    rid = rule(client, world, "DEED", council="moral_review", notice_days=5)
    cid = claim_id(client, world, rid)
    approve(client, world, cid, world.clerk)
    client.post(
        f"/api/v1/claims/{cid}/objections", json={"reason": "不实"}, headers=world.h(world.villagers[2])
    )
    response = client.post(
        f"/api/v1/claims/{cid}/reject", json={"reason": "异议成立"}, headers=world.h(world.clerk)
    )
    assert response.get_json()["status"] == "rejected"


def test_an_objection_after_the_notice_ended_is_refused(client, world, app):
    rid = rule(client, world, "DEED", council="moral_review", notice_days=3)
    cid = claim_id(client, world, rid)
    approve(client, world, cid, world.clerk)
    end_notice(app, cid)
    late = client.post(
        f"/api/v1/claims/{cid}/objections", json={"reason": "不实"}, headers=world.h(world.villagers[1])
    )
    assert late.status_code == 409
    assert late.get_json()["type"] == "notice-ended"
    # And once posted, it is not under notice any more.
    client.post("/api/v1/claims/post-due", headers=world.h(world.admin))
    posted = client.post(
        f"/api/v1/claims/{cid}/objections", json={"reason": "不实"}, headers=world.h(world.villagers[1])
    )
    assert posted.status_code == 409
    assert posted.get_json()["type"] == "not-in-notice"


def test_an_unrelated_villager_learns_nothing_of_a_claim_not_under_notice(client, world):
    rid = rule(client, world, "VOL", notice_days=3)
    cid = claim_id(client, world, rid)
    response = client.post(
        f"/api/v1/claims/{cid}/objections", json={"reason": "x"}, headers=world.h(world.villagers[1])
    )
    assert response.status_code == 404
    assert client.get(f"/api/v1/claims/{cid}", headers=world.h(world.villagers[1])).status_code == 404


def test_posting_over_the_monthly_cap_is_refused(client, world):
    rid = rule(client, world, "CAP", points=5, monthly_cap=10, notice_days=0)
    first, second, third = (claim_id(client, world, rid) for _ in range(3))
    assert approve(client, world, first, world.clerk).get_json()["status"] == "posted"
    assert approve(client, world, second, world.clerk).get_json()["status"] == "posted"
    refused = approve(client, world, third, world.clerk)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "monthly-cap-reached"
    assert balance(client, world) == 10
    # The refusal changed nothing: the claim still waits, and the reviewer can reject it.
    detail = client.get(f"/api/v1/claims/{third}", headers=world.h(world.clerk)).get_json()
    assert detail["status"] == "pending"
    # Another household has its own cap.
    other = claim_id(client, world, rid, household=1)
    assert approve(client, world, other, world.clerk).get_json()["status"] == "posted"


def test_the_cap_counts_the_month_the_work_was_done(client, world, app):
    rid = rule(client, world, "CAP", points=5, monthly_cap=5, notice_days=0)
    # Within the village's grace window last month's work is no late entry (补录), which would also
    # count against this month: see tests/claims/test_late_entries.py.
    widened = client.patch(
        f"/api/v1/villages/{world.village}", json={"late_entry_days": 62}, headers=world.h(world.admin)
    )
    assert widened.status_code == 200, widened.get_json()
    today = datetime.now(UTC).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).isoformat()
    old = claim_id(client, world, rid, occurred_on=last_month)
    new = claim_id(client, world, rid, occurred_on=today.isoformat())
    assert approve(client, world, old, world.clerk).get_json()["status"] == "posted"
    assert approve(client, world, new, world.clerk).get_json()["status"] == "posted"


def test_post_due_rejects_a_claim_over_the_cap_instead_of_retrying_it_forever(client, world, app):
    rid = rule(client, world, "CAP", points=5, monthly_cap=5, notice_days=2)
    first, second = claim_id(client, world, rid), claim_id(client, world, rid)
    approve(client, world, first, world.clerk)
    approve(client, world, second, world.clerk)
    end_notice(app, first, timedelta(minutes=2))
    end_notice(app, second)
    result = client.post("/api/v1/claims/post-due", headers=world.h(world.admin)).get_json()
    assert result["posted"] == [first]
    assert [r["id"] for r in result["refused"]] == [second]
    assert result["refused"][0]["type"] == "monthly-cap-reached"
    detail = client.get(f"/api/v1/claims/{second}", headers=world.h(world.clerk)).get_json()
    assert detail["status"] == "rejected"
    assert detail["history"][-1]["action"] == "refuse"
    assert balance(client, world) == 5


def test_a_deduction_may_take_a_balance_below_zero(client, world, app):
    reward = rule(client, world, "VOL", points=3, notice_days=0)
    garbage = rule(client, world, "GARBAGE", council="covenant", points=-10, notice_days=0)
    approve(client, world, claim_id(client, world, reward), world.clerk)
    response = file_claim(client, world, garbage, by=world.clerk, note="乱倒垃圾")
    cid = response.get_json()["id"]
    assert response.get_json()["points"] == -10
    assert approve(client, world, cid, world.admin).get_json()["status"] == "posted"
    assert balance(client, world) == -7
    with app.app_context():
        assert ledger.transaction_by_key(f"claim:{cid}").kind == "deduction"
        assert ledger.verify()["ok"]


def test_batch_review_decides_each_claim_and_reports_each(client, world):
    rid = rule(client, world, "VOL", points=2, notice_days=0)
    ids = [claim_id(client, world, rid, household=i % 3) for i in range(5)]
    own = file_claim(client, world, rid, household=2, by=world.clerk).get_json()["id"]
    response = client.post(
        "/api/v1/claims/batch-review",
        json={"claim_ids": [*ids, own, 999999], "decision": "approve", "comment": "活动签到已核"},
        headers=world.h(world.clerk),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["approved"] == 5
    assert body["failed"] == 2
    by_id = {r["id"]: r for r in body["results"]}
    assert all(by_id[i]["status"] == "posted" for i in ids)
    assert by_id[own]["error"]["type"] == "own-claim"
    assert by_id[999999]["error"]["type"] == "not-found"
    history = client.get(f"/api/v1/claims/{ids[0]}", headers=world.h(world.clerk)).get_json()["history"]
    assert history[1]["comment"] == "活动签到已核"


def test_batch_reject_needs_a_reason(client, world):
    rid = rule(client, world, "VOL")
    ids = [claim_id(client, world, rid) for _ in range(2)]
    refused = client.post(
        "/api/v1/claims/batch-review",
        json={"claim_ids": ids, "decision": "reject"},
        headers=world.h(world.clerk),
    )
    assert refused.status_code == 422
    response = client.post(
        "/api/v1/claims/batch-review",
        json={"claim_ids": ids, "decision": "reject", "reason": "重复申报"},
        headers=world.h(world.clerk),
    )
    assert [r["status"] for r in response.get_json()["results"]] == ["rejected", "rejected"]
    too_many = client.post(
        "/api/v1/claims/batch-review",
        json={"claim_ids": list(range(1, 300)), "decision": "approve"},
        headers=world.h(world.clerk),
    )
    assert too_many.status_code == 422


def test_claim_lists_are_scoped_and_filtered(client, world):
    vol = rule(client, world, "VOL")
    wed = rule(client, world, "WED", council="wedding_funeral")
    a = claim_id(client, world, vol, household=0)
    b = claim_id(client, world, wed, household=1)
    mine = client.get("/api/v1/claims", headers=world.h(world.villagers[0])).get_json()
    assert [c["id"] for c in mine["items"]] == [a]
    volunteer = client.get("/api/v1/claims", headers=world.h(world.volunteer_clerk)).get_json()
    assert [c["id"] for c in volunteer["items"]] == [a]
    wedding = client.get(
        "/api/v1/claims?council=wedding_funeral&status=pending", headers=world.h(world.admin)
    )
    assert [c["id"] for c in wedding.get_json()["items"]] == [b]
    assert client.get("/api/v1/claims", headers=world.h(world.other_admin)).get_json()["total"] == 0
    assert client.get("/api/v1/claims?status=bogus", headers=world.h(world.admin)).status_code == 422


def test_the_public_board_lists_claims_under_notice_without_login_or_personal_numbers(client, world, app):
    rid = rule(client, world, "FLOOD", name="参加防汛值守", points=20, notice_days=3)
    cid = claim_id(client, world, rid, note="值守两晚，联系电话13912345678，身份证110101199001011234")
    pending = claim_id(client, world, rid, household=1)
    approve(client, world, cid, world.clerk)
    with app.app_context():
        from merit_bank.extensions import db
        from merit_bank.villages.models import Village

        code = db.session.get(Village, world.village).code
    response = client.get(f"/api/v1/board/{code}")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["id"] for i in items] == [cid]
    assert pending not in [i["id"] for i in items]
    assert items[0]["household_head"] == "王建国"
    assert items[0]["rule_name"] == "参加防汛值守"
    assert "13912345678" not in response.get_data(as_text=True)
    assert "110101199001011234" not in response.get_data(as_text=True)
    assert client.get("/api/v1/board/NOPE").status_code == 404


def test_checkin_claims_post_at_once_without_review_and_are_idempotent(client, world, app):
    quick = rule(client, world, "VOL", points=5, needs_review=False)
    slow = rule(client, world, "HOUR", points=2, unit="hour", needs_review=True, notice_days=0)
    household = world.households[0]
    with app.app_context():
        kwargs = {
            "household_id": household["id"],
            "member_id": household["member_ids"][0],
            "quantity": 1,
            "occurred_at": datetime.now(UTC),
            "actor_id": world.villagers[0],
        }
        first = claim_services.create_claim_for_checkin(rule_id=quick, source_key="checkin:1:1", **kwargs)
        again = claim_services.create_claim_for_checkin(rule_id=quick, source_key="checkin:1:1", **kwargs)
        assert (first.id, first.status, first.points) == (again.id, "posted", 5)
        assert ledger.transaction_by_key("checkin:1:1") is not None
        hours = claim_services.create_claim_for_checkin(
            rule_id=slow, source_key="checkin:2:1", **{**kwargs, "quantity": 3}
        )
        assert (hours.status, hours.points) == ("pending", 6)
        assert claim_services.get_claim(hours.id).source == "checkin"
    assert balance(client, world) == 5
    # The check-in's own actor (the villager) cannot approve it; a clerk can.
    assert approve(client, world, hours.id, world.clerk).get_json()["status"] == "posted"
    assert balance(client, world) == 11


def test_a_checkin_past_the_cap_is_kept_as_a_rejected_claim(client, world, app):
    rid = rule(client, world, "VOL", points=5, needs_review=False, monthly_cap=5)
    household = world.households[0]
    with app.app_context():
        statuses = [
            claim_services.create_claim_for_checkin(
                household_id=household["id"],
                member_id=household["member_ids"][i],
                rule_id=rid,
                quantity=1,
                occurred_at=datetime.now(UTC),
                actor_id=None,
                source_key=f"checkin:9:{i}",
            ).status
            for i in range(2)
        ]
    assert statuses == ["posted", "rejected"]
    assert balance(client, world) == 5


def test_a_claim_detail_shows_its_full_history(client, world):
    rid = rule(client, world, "WED", council="wedding_funeral", approvals_required=2, notice_days=2)
    cid = claim_id(client, world, rid, note="婚事新办")
    approve(client, world, cid, world.clerk, comment="上门了解")
    approve(client, world, cid, world.admin, comment="同意")
    history = client.get(f"/api/v1/claims/{cid}", headers=world.h(world.villagers[0])).get_json()["history"]
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("create", None, "pending"),
        ("approve", "pending", "approved"),
        ("approve", "approved", "approved"),
        ("notice", "approved", "in_notice"),
    ]
    assert [h["actor_id"] for h in history] == [world.villagers[0], world.clerk, world.admin, world.admin]
    assert history[1]["comment"] == "上门了解"
    assert all(h["created_at"].endswith("+00:00") for h in history)
