"""Events and check-in through the JSON API: the contract of API.md, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from merit_bank.events.models import ScanLog
from merit_bank.extensions import db
from tests.events.event_helpers import T0, balance, make_event, token_for


def checkin(client, world, user, token):
    return client.post("/api/v1/checkins", json={"token": token}, headers=world.h(user))


def scans(app, event_id=None):
    with app.app_context():
        query = db.session.query(ScanLog).order_by(ScanLog.id)
        if event_id is not None:
            query = query.filter(ScanLog.event_id == event_id)
        return [(s.outcome, s.method, s.actor_id, s.member_id) for s in query]


def test_creating_an_event_returns_its_short_upper_case_checkin_url(client, world):
    event = make_event(client, world, location="村口河道", capacity=30)
    assert event["checked_in"] == 0 and event["capacity"] == 30 and event["rotating"] is False
    assert (
        event["checkin_url"]
        == f"HTTP://LOCALHOST/C/E{event['id']}.0." + event["checkin_url"].rsplit(".", 1)[1]
    )
    assert event["checkin_url"] == event["checkin_url"].upper()


def test_public_base_url_is_used_for_the_checkin_url(app, client, world):
    app.config["PUBLIC_BASE_URL"] = "https://jf.example.cn/"
    event = make_event(client, world)
    assert event["checkin_url"].startswith("HTTPS://JF.EXAMPLE.CN/C/E")


def test_villagers_do_not_see_the_checkin_url_and_cannot_fetch_the_code(client, world):
    event = make_event(client, world)
    seen = client.get(f"/api/v1/events/{event['id']}", headers=world.h(world.villagers[0])).get_json()
    assert seen["title"] == "河道清理" and seen["checkin_url"] is None
    response = client.get(f"/api/v1/events/{event['id']}/qr.png", headers=world.h(world.villagers[0]))
    assert response.status_code == 403


def test_events_of_another_village_are_invisible(client, world):
    event = make_event(client, world)
    response = client.get(f"/api/v1/events/{event['id']}", headers=world.h(world.other_clerk))
    assert response.status_code == 404
    listed = client.get("/api/v1/events", headers=world.h(world.other_clerk)).get_json()
    assert listed["total"] == 0


def test_a_clerk_needs_the_rules_council_to_create_an_event(client, world):
    body = {
        "village_id": world.village,
        "title": "x",
        "rule_id": world.rules["instant"],
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(hours=1)).isoformat(),
    }
    response = client.post("/api/v1/events", json=body, headers=world.h(world.volunteer_clerk))
    assert response.status_code == 403
    response = client.post("/api/v1/events", json=body, headers=world.h(world.villagers[0]))
    assert response.status_code == 403


def test_event_creation_validates_its_input(client, world):
    base = {
        "village_id": world.village,
        "title": "x",
        "rule_id": world.rules["instant"],
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(hours=1)).isoformat(),
    }
    cases = [
        {**base, "ends_at": (T0 - timedelta(hours=1)).isoformat()},
        {**base, "starts_at": "2026-05-01T10:00:00"},  # no offset
        {**base, "capacity": 0},
        {**base, "capacity": 10**12},
        {**base, "title": "x" * 101},
        {**base, "rule_id": 999999},
        {**base, "surprise": 1},
    ]
    for body in cases:
        response = client.post("/api/v1/events", json=body, headers=world.h(world.clerk))
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["type"] == "validation-error"


def test_a_villager_checks_in_once_and_gets_the_points_at_once(client, world):
    event = make_event(client, world)
    token = token_for(world.app, event["id"])
    first = checkin(client, world, world.villagers[0], token)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["event_id"] == event["id"]
    assert body["member_id"] == world.households[0]["member_ids"][0]
    assert body["status"] == "posted" and body["points"] == 5 and body["claim_id"]
    assert balance(client, world, world.households[0]) == 5

    again = checkin(client, world, world.villagers[0], token.lower())
    assert again.status_code == 200
    assert again.get_json() == body
    assert balance(client, world, world.households[0]) == 5
    assert [s[0] for s in scans(world.app, event["id"])] == ["created", "already"]


def test_a_rule_that_needs_review_leaves_the_claim_pending(client, world):
    event = make_event(client, world, "reviewed")
    response = checkin(client, world, world.villagers[1], token_for(world.app, event["id"]))
    assert response.status_code == 201
    assert response.get_json()["status"] == "pending"
    assert balance(client, world, world.households[1]) == 0
    claim = client.get(f"/api/v1/claims/{response.get_json()['claim_id']}", headers=world.h(world.clerk))
    assert claim.get_json()["status"] == "pending"


def test_forged_truncated_and_malformed_tokens_are_invalid(client, world):
    event = make_event(client, world)
    token = token_for(world.app, event["id"])
    head, step, mac = token.split(".")
    forged_mac = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for bad in [
        f"{head}.{step}.{forged_mac}",
        token[:-1],
        f"{head}.{step}.{mac[:8]}",
        f"{head}.{step}",
        "",
        "E1",
        "garbage",
        f"{head}.00.{mac}",
        f"E0{head[1:]}.{step}.{mac}",
        token + ".X",
        "E" + "9" * 40 + ".0." + mac,
    ]:
        response = checkin(client, world, world.villagers[0], bad)
        assert response.status_code in (400, 422), bad
        if response.status_code == 400:
            assert response.get_json()["type"] == "invalid-token", bad
    assert balance(client, world, world.households[0]) == 0


def test_a_token_of_one_event_does_not_open_another(client, world):
    first = make_event(client, world)
    second = make_event(client, world, title="党员会议")
    token = token_for(world.app, first["id"])
    _head, step, mac = token.split(".")
    response = checkin(client, world, world.villagers[0], f"E{second['id']}.{step}.{mac}")
    assert response.status_code == 400 and response.get_json()["type"] == "invalid-token"
    # A household card is not an event code either, even though both are signed by the same secret.
    card = client.get(
        f"/api/v1/households/{world.households[0]['id']}/card.png", headers=world.h(world.villagers[0])
    )
    assert card.status_code == 200
    response = checkin(client, world, world.villagers[0], f"H{world.households[0]['id']}.1.{mac}")
    assert response.status_code == 400


def test_check_in_is_refused_outside_the_window(client, world, clock):
    event = make_event(client, world)
    token = token_for(world.app, event["id"])
    clock.advance(hours=-2)
    early = checkin(client, world, world.villagers[0], token)
    assert early.status_code == 409 and early.get_json()["type"] == "event-not-open"
    assert early.get_json()["reason"] == "not-started"
    clock.advance(hours=5)
    late = checkin(client, world, world.villagers[0], token)
    assert late.status_code == 409 and late.get_json()["type"] == "event-not-open"
    assert late.get_json()["reason"] == "ended"
    assert [s[0] for s in scans(world.app, event["id"])] == ["event-not-open", "event-not-open"]


def test_a_full_event_refuses_the_next_member(client, world):
    event = make_event(client, world, capacity=2)
    token = token_for(world.app, event["id"])
    assert checkin(client, world, world.villagers[0], token).status_code == 201
    assert checkin(client, world, world.villagers[1], token).status_code == 201
    full = checkin(client, world, world.villagers[2], token)
    assert full.status_code == 409 and full.get_json()["type"] == "event-full"
    # Those already in are still answered "already checked in", not "full".
    assert checkin(client, world, world.villagers[0], token).status_code == 200


def test_a_villager_of_another_village_is_refused(client, world):
    event = make_event(client, world)
    response = checkin(client, world, world.other_villager, token_for(world.app, event["id"]))
    assert response.status_code == 403 and response.get_json()["type"] == "not-your-village"


def test_staff_do_not_check_in_with_the_event_code(client, world):
    event = make_event(client, world)
    response = checkin(client, world, world.clerk, token_for(world.app, event["id"]))
    assert response.status_code == 403 and response.get_json()["type"] == "not-a-villager"


def test_rotating_tokens_expire_after_two_steps(client, world, clock):
    event = make_event(client, world, rotating=True)
    assert event["checkin_url"].split("/C/")[1].split(".")[1] != "0"
    token = token_for(world.app, event["id"], rotating=True)
    # The static (poster) code does not open a rotating event.
    static = checkin(client, world, world.villagers[0], token_for(world.app, event["id"]))
    assert static.status_code == 410 and static.get_json()["type"] == "token-expired"

    clock.advance(seconds=30)  # the previous step is still accepted
    assert checkin(client, world, world.villagers[0], token).status_code == 201
    clock.advance(seconds=30)  # now two steps old: more than 60 s after it was first shown
    expired = checkin(client, world, world.villagers[1], token)
    assert expired.status_code == 410 and expired.get_json()["type"] == "token-expired"
    fresh = token_for(world.app, event["id"], rotating=True, at=clock())
    assert checkin(client, world, world.villagers[1], fresh).status_code == 201
    # A token from the future (a forged step) is no good either.
    future = token_for(world.app, event["id"], rotating=True, at=clock() + timedelta(minutes=5))
    assert checkin(client, world, world.villagers[2], future).status_code == 400


def test_only_the_events_clerks_fetch_a_rotating_code(client, world):
    event = make_event(client, world, rotating=True)
    for user, status in [
        (world.clerk, 200),
        (world.admin, 200),
        (world.villagers[0], 403),
        (world.other_clerk, 404),
    ]:
        for suffix in ("qr.png", "qr.svg", "code"):
            response = client.get(f"/api/v1/events/{event['id']}/{suffix}", headers=world.h(user))
            assert response.status_code == status, (user, suffix)
    code = client.get(f"/api/v1/events/{event['id']}/code", headers=world.h(world.clerk)).get_json()
    assert code["rotating"] is True and 0 < code["seconds_left"] <= 30
    assert code["checkin_url"].endswith("/C/" + code["token"])
    png = client.get(f"/api/v1/events/{event['id']}/qr.png", headers=world.h(world.clerk))
    assert png.headers["Cache-Control"] == "private, no-store" and png.data.startswith(b"\x89PNG")


def test_a_clerk_checks_in_an_elder_by_household_card(client, world):
    event = make_event(client, world)
    with world.app.app_context():
        from merit_bank.households import services as household_services
        from merit_bank.households.models import Household

        card = household_services.card_token(db.session.get(Household, world.households[0]["id"]))
        single_card = household_services.card_token(db.session.get(Household, world.single["id"]))
    url = f"/api/v1/events/{event['id']}/checkins"
    member = world.households[0]["member_ids"][1]

    need_member = client.post(url, json={"card_token": card}, headers=world.h(world.clerk))
    assert need_member.status_code == 422 and need_member.get_json()["type"] == "member-required"
    assert [m["id"] for m in need_member.get_json()["members"]] == world.households[0]["member_ids"]

    created = client.post(url, json={"card_token": card, "member_id": member}, headers=world.h(world.clerk))
    assert created.status_code == 201 and created.get_json()["member_id"] == member
    again = client.post(url, json={"card_token": card, "member_id": member}, headers=world.h(world.clerk))
    assert again.status_code == 200 and again.get_json() == created.get_json()

    # A household of one needs no choice; the typed short code works as a fallback.
    alone = client.post(url, json={"card_token": single_card}, headers=world.h(world.clerk))
    assert alone.status_code == 201
    typed = client.post(
        url,
        json={
            "household_code": world.households[1]["code"].lower(),
            "member_id": world.households[1]["member_ids"][0],
        },
        headers=world.h(world.clerk),
    )
    assert typed.status_code == 201 and typed.get_json()["household_id"] == world.households[1]["id"]

    wrong_member = client.post(
        url,
        json={"card_token": card, "member_id": world.households[1]["member_ids"][0]},
        headers=world.h(world.clerk),
    )
    assert wrong_member.status_code == 422 and wrong_member.get_json()["type"] == "member-not-in-household"
    forged = client.post(
        url, json={"card_token": card[:-2] + "AA", "member_id": member}, headers=world.h(world.clerk)
    )
    assert forged.status_code == 400 and forged.get_json()["type"] == "invalid-token"
    both = client.post(url, json={"card_token": card, "household_code": "ABC"}, headers=world.h(world.clerk))
    assert both.status_code == 422
    as_villager = client.post(
        url, json={"card_token": card, "member_id": member}, headers=world.h(world.villagers[0])
    )
    assert as_villager.status_code == 403

    listed = client.get(url, headers=world.h(world.clerk)).get_json()
    assert listed["total"] == 3
    assert [c["method"] for c in listed["items"]] == ["card", "card", "code"]
    newer = client.get(url + f"?since_id={listed['items'][1]['id']}", headers=world.h(world.clerk)).get_json()
    assert [c["id"] for c in newer["items"]] == [listed["items"][2]["id"]]


def test_a_card_of_another_village_is_refused(client, world):
    event = make_event(client, world)
    other = client.get("/api/v1/households", headers=world.h(world.other_clerk)).get_json()["items"][0]
    with world.app.app_context():
        from merit_bank.households import services as household_services
        from merit_bank.households.models import Household

        card = household_services.card_token(db.session.get(Household, other["id"]))
    response = client.post(
        f"/api/v1/events/{event['id']}/checkins",
        json={"card_token": card, "member_id": other["members"][0]["id"]},
        headers=world.h(world.clerk),
    )
    assert response.status_code == 403 and response.get_json()["type"] == "not-your-village"


def test_checkout_turns_the_hours_present_into_a_claim(client, world, clock):
    event = make_event(client, world, "hourly")
    token = token_for(world.app, event["id"])
    first = checkin(client, world, world.villagers[0], token)
    assert first.status_code == 201
    assert first.get_json()["status"] == "awaiting-checkout" and first.get_json()["claim_id"] is None
    clock.advance(minutes=100)  # 1 h 40 min: rounds to 2 hours
    url = f"/api/v1/events/{event['id']}/checkins/{first.get_json()['id']}/checkout"
    out = client.post(url, headers=world.h(world.clerk))
    assert out.status_code == 200, out.get_json()
    body = out.get_json()
    assert body["minutes"] == 100 and body["status"] == "posted" and body["points"] == 20
    assert client.post(url, headers=world.h(world.clerk)).get_json() == body
    assert balance(client, world, world.households[0]) == 20
    assert client.post(url, headers=world.h(world.villagers[0])).status_code == 403


def test_a_villager_checks_out_by_scanning_again_and_attendance_ends_with_the_event(client, world, clock):
    event = make_event(client, world, "hourly")
    token = token_for(world.app, event["id"])
    assert checkin(client, world, world.villagers[1], token).status_code == 201
    clock.advance(hours=5)  # they forgot; only the event's 2 hours count
    out = client.post("/api/v1/checkins/checkout", json={"token": token}, headers=world.h(world.villagers[1]))
    assert out.status_code == 200, out.get_json()
    assert out.get_json()["minutes"] == 120 and out.get_json()["points"] == 20
    nobody = client.post(
        "/api/v1/checkins/checkout", json={"token": token}, headers=world.h(world.villagers[2])
    )
    assert nobody.status_code == 409 and nobody.get_json()["type"] == "not-checked-in"


def test_checkout_is_only_for_hour_based_rules(client, world):
    event = make_event(client, world)
    created = checkin(client, world, world.villagers[0], token_for(world.app, event["id"])).get_json()
    url = f"/api/v1/events/{event['id']}/checkins/{created['id']}/checkout"
    response = client.post(url, headers=world.h(world.clerk))
    assert response.status_code == 409 and response.get_json()["type"] == "not-hour-based"


def test_every_scan_is_audited_with_who_and_which_device(client, world, clock):
    event = make_event(client, world, capacity=1)
    token = token_for(world.app, event["id"])
    headers = {**world.h(world.villagers[0]), "User-Agent": "MicroMessenger/8.0 Android"}
    client.post("/api/v1/checkins", json={"token": token}, headers=headers)
    checkin(client, world, world.villagers[1], token)  # full
    checkin(client, world, world.villagers[1], token[:-3])  # forged
    audit = client.get(f"/api/v1/events/{event['id']}/scans", headers=world.h(world.clerk)).get_json()
    assert [s["outcome"] for s in audit["items"]] == ["event-full", "created"]
    assert audit["items"][1]["device"] == "MicroMessenger/8.0 Android"
    assert audit["items"][0]["detail"] and audit["items"][0]["actor_id"] == world.villagers[1]
    assert audit["items"][0]["member_name"] == "李德明"
    assert audit["items"][0]["household_code"] == world.households[1]["code"]
    # "Why didn't I get points?": the clerk looks up one household's scans.
    mine = client.get(
        f"/api/v1/events/{event['id']}/scans?household_id={world.households[1]['id']}",
        headers=world.h(world.clerk),
    ).get_json()
    assert [s["outcome"] for s in mine["items"]] == ["event-full"]
    # The forged one names no event it could prove, yet it is kept.
    with world.app.app_context():
        forged = db.session.query(ScanLog).filter(ScanLog.outcome == "invalid-token").one()
        assert forged.actor_id == world.villagers[1] and forged.token == token[:-3]
    assert (
        client.get(f"/api/v1/events/{event['id']}/scans", headers=world.h(world.villagers[0])).status_code
        == 403
    )
