"""The HTML pages of claims and rules, driven through the test client with real logins and CSRF."""

from __future__ import annotations

import io
import re

from PIL import Image

from merit_bank.claims.models import Claim
from merit_bank.extensions import db
from merit_bank.households.models import Member
from merit_bank.villages.models import Village
from tests.claims.claim_helpers import approve, claim_id, rule
from tests.factories import PASSWORD, PIN


def _login(app, user_id: int):
    """A fresh browser-like client logged in as the user; returns (client, csrf token getter)."""
    from merit_bank.auth.models import User

    with app.app_context():
        user = db.session.get(User, user_id)
        username = user.username
    client = app.test_client()
    password = PIN if user.role == "villager" else PASSWORD
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": _csrf(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def _csrf(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_villager_files_a_claim_with_a_photo_that_only_those_who_see_the_claim_can_open(client, world, app):
    rid = rule(client, world, "ELDER", name="帮扶孤寡老人", points=10, notice_days=3)
    villager = _login(app, world.villagers[0])
    form_page = villager.get("/claims/new")
    assert form_page.status_code == 200
    assert "帮扶孤寡老人" in form_page.get_data(as_text=True)
    response = villager.post(
        "/claims/new",
        data={
            "csrf_token": _csrf(villager, "/claims/new"),
            "rule_id": str(rid),
            "member_id": str(world.households[0]["member_ids"][0]),
            "quantity": "1",
            "note": "给张奶奶买米",
            "photo": (io.BytesIO(_png()), "evidence.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    with app.app_context():
        claim = db.session.scalars(db.select(Claim)).one()
        assert claim.photo_name and claim.photo_type == "image/png"
        cid = claim.id
    page = villager.get(response.headers["Location"])
    assert "给张奶奶买米" in page.get_data(as_text=True)
    photo = villager.get(f"/claims/{cid}/photo")
    assert photo.status_code == 200
    assert photo.data == _png()
    assert photo.headers["Content-Type"] == "image/png"
    assert _login(app, world.clerk).get(f"/claims/{cid}/photo").status_code == 200
    assert _login(app, world.villagers[1]).get(f"/claims/{cid}/photo").status_code == 404
    assert client.get(f"/api/v1/claims/{cid}/photo", headers=world.h(world.clerk)).status_code == 200
    assert client.get(f"/api/v1/claims/{cid}/photo", headers=world.h(world.other_admin)).status_code == 404
    mine = villager.get("/claims/mine").get_data(as_text=True)
    assert "帮扶孤寡老人" in mine


def test_a_photo_that_is_not_an_image_or_too_big_is_refused(client, world, app):
    rid = rule(client, world, "ELDER", points=10)
    app.config["CLAIM_PHOTO_MAX_BYTES"] = 1024
    villager = _login(app, world.villagers[0])
    for payload, name in ((b"<svg onload=alert(1)></svg>", "x.svg"), (_png() + b"\0" * 2000, "big.png")):
        response = villager.post(
            "/claims/new",
            data={
                "csrf_token": _csrf(villager, "/claims/new"),
                "rule_id": str(rid),
                "photo": (io.BytesIO(payload), name),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Claim)) == 0


def test_a_clerk_reviews_a_batch_from_the_queue(client, world, app):
    rid = rule(client, world, "VOL", name="志愿服务每次", points=5, notice_days=0)
    ids = [claim_id(client, world, rid, household=i) for i in range(3)]
    clerk = _login(app, world.clerk)
    queue = clerk.get("/claims/review")
    assert queue.status_code == 200
    assert queue.get_data(as_text=True).count('name="claim_ids"') == 3
    response = clerk.post(
        "/claims/review",
        data={
            "csrf_token": _csrf(clerk, "/claims/review"),
            "claim_ids": [str(i) for i in ids],
            "decision": "approve",
        },
    )
    assert response.status_code == 200
    assert "3" in response.get_data(as_text=True)
    with app.app_context():
        assert set(db.session.scalars(db.select(Claim.status))) == {"posted"}
    # The villager's home shows the points and the history line.
    home = _login(app, world.villagers[0]).get("/").get_data(as_text=True)
    assert "志愿服务每次" in home
    assert "+5" in home


def test_a_form_without_csrf_is_refused(client, world, app):
    rid = rule(client, world, "VOL")
    cid = claim_id(client, world, rid)
    clerk = _login(app, world.clerk)
    response = clerk.post("/claims/review", data={"claim_ids": [str(cid)], "decision": "approve"})
    assert response.status_code == 400


def test_the_public_board_needs_no_login_and_shows_no_personal_numbers(client, world, app):
    rid = rule(client, world, "FLOOD", name="参加防汛值守", points=20, notice_days=3)
    cid = claim_id(client, world, rid, note="值守两晚 电话13912345678")
    approve(client, world, cid, world.clerk)
    with app.app_context():
        code = db.session.get(Village, world.village).code
        phones = [p for p in db.session.scalars(db.select(Member.phone)) if p]
    page = client.get(f"/board/{code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "参加防汛值守" in html and "王建国" in html and "+20" in html
    assert "13912345678" not in html
    assert not any(p in html for p in phones)
    assert client.get("/board/NOPE").status_code == 404


def test_a_villager_objects_from_the_board(client, world, app):
    rid = rule(client, world, "DEED", council="moral_review", points=20, notice_days=3)
    cid = claim_id(client, world, rid)
    approve(client, world, cid, world.clerk)
    neighbour = _login(app, world.villagers[1])
    form = neighbour.get(f"/claims/{cid}/object")
    assert form.status_code == 200
    empty = neighbour.post(
        f"/claims/{cid}/object", data={"csrf_token": _csrf(neighbour, f"/claims/{cid}/object")}
    )
    assert empty.status_code == 409 or empty.status_code == 422
    response = neighbour.post(
        f"/claims/{cid}/object",
        data={"csrf_token": _csrf(neighbour, f"/claims/{cid}/object"), "reason": "不实"},
    )
    assert response.status_code == 201
    with app.app_context():
        assert db.session.get(Claim, cid).status == "disputed"


def test_an_admin_manages_rules_in_the_browser_forms(client, world, app):
    admin = _login(app, world.admin)
    page = admin.get("/rules/")
    assert page.status_code == 200
    token = _csrf(admin, "/rules/")
    response = admin.post(
        "/rules/",
        data={
            "csrf_token": token,
            "village_id": str(world.village),
            "code": "VOL",
            "name": "志愿服务每次",
            "council": "volunteer",
            "points": "5",
            "unit": "each",
            "notice_days": "0",
            "approvals_required": "1",
            "needs_review": "1",
        },
    )
    assert response.status_code == 302
    from merit_bank.rules.models import Rule

    with app.app_context():
        rid = db.session.scalars(db.select(Rule.id)).one()
    edit = admin.post(
        f"/rules/{rid}",
        data={
            "csrf_token": _csrf(admin, f"/rules/{rid}"),
            "code": "VOL",
            "name": "志愿服务每次",
            "council": "volunteer",
            "points": "6",
            "unit": "each",
            "notice_days": "0",
            "approvals_required": "1",
        },
    )
    assert edit.status_code == 302
    detail = admin.get(f"/rules/{rid}").get_data(as_text=True)
    assert "v2" in detail and "+6" in detail and "+5" in detail
    retire = admin.post(
        f"/rules/{rid}", data={"csrf_token": _csrf(admin, f"/rules/{rid}"), "action": "retire"}
    )
    assert retire.status_code == 302
    with app.app_context():
        assert db.session.get(Rule, rid).active is False
    imported = admin.post(
        "/rules/",
        data={"csrf_token": _csrf(admin, "/rules/"), "action": "import", "village_id": str(world.village)},
    )
    assert imported.status_code == 302
    assert "道德评议会评选好婆婆" in admin.get("/rules/").get_data(as_text=True)
    # Villagers have no rules page.
    assert _login(app, world.villagers[0]).get("/rules/").status_code == 403


def test_an_app_adds_the_evidence_photo_through_the_api(client, world, app):
    rid = rule(client, world, "ELDER", points=10)
    cid = claim_id(client, world, rid)
    url = f"/api/v1/claims/{cid}/photo"
    owner = world.h(world.villagers[0])
    missing = client.put(url, headers=owner, data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "photo" in missing.get_json()["errors"]
    not_image = client.put(
        url,
        headers=owner,
        data={"photo": (io.BytesIO(b"<svg/>"), "x.svg")},
        content_type="multipart/form-data",
    )
    assert not_image.status_code == 422
    neighbour = client.put(
        url,
        headers=world.h(world.villagers[1]),
        data={"photo": (io.BytesIO(_png()), "a.png")},
        content_type="multipart/form-data",
    )
    assert neighbour.status_code == 404
    added = client.put(
        url, headers=owner, data={"photo": (io.BytesIO(_png()), "a.png")}, content_type="multipart/form-data"
    )
    assert added.status_code == 200, added.get_json()
    assert added.get_json()["photo_url"]
    assert [a["action"] for a in added.get_json()["history"]][-1] == "photo"
    assert client.get(url, headers=world.h(world.clerk)).data == _png()
    # Once decided, the evidence is closed.
    client.post(f"/api/v1/claims/{cid}/reject", json={"reason": "不符合"}, headers=world.h(world.clerk))
    late = client.put(
        url, headers=owner, data={"photo": (io.BytesIO(_png()), "b.png")}, content_type="multipart/form-data"
    )
    assert late.status_code == 409 and late.get_json()["type"] == "invalid-state"
