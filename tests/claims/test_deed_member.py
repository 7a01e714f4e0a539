"""Points are earned by persons and kept by households: the board and the household's history name the
member who did the deed, not the head of the household; and a posted claim reads the same word everywhere."""

from __future__ import annotations

import re

from merit_bank.extensions import db
from merit_bank.villages.models import Village
from tests.claims.claim_helpers import approve, rule
from tests.claims.test_claims_pages import _login
from tests.factories import make_household, make_villager


def _family(app, world) -> tuple[dict, int]:
    household = make_household(
        app,
        world.village,
        "周大山",
        members=[
            {"name": "周大山", "phone": "13912340077", "relation": "户主"},
            {"name": "李秀英", "relation": "配偶"},
        ],
    )
    return household, make_villager(app, household)


def _claim_for_li(client, world, household, villager, rule_id) -> int:
    body = {"household_id": household["id"], "rule_id": rule_id, "member_id": household["member_ids"][1]}
    response = client.post("/api/v1/claims", json=body, headers=world.h(villager))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_the_board_names_the_member_who_did_the_deed(client, world, app):
    household, villager = _family(app, world)
    rid = rule(client, world, "CARE", name="照顾孤寡老人", points=10, notice_days=3)
    cid = _claim_for_li(client, world, household, villager, rid)
    assert approve(client, world, cid, world.clerk).status_code == 200
    with app.app_context():
        code = db.session.get(Village, world.village).code
    html = client.get(f"/board/{code}").get_data(as_text=True)
    assert re.findall(r'data-testid="board-name">([^<]*)<', html) == ["李秀英"]
    assert "周大山" not in html
    item = client.get(f"/api/v1/board/{code}").get_json()["items"][0]
    assert item["member_name"] == "李秀英" and item["household_head"] == "周大山"


def test_the_history_names_the_member_and_a_posted_claim_reads_one_word(client, world, app):
    household, villager = _family(app, world)
    rid = rule(client, world, "CLEAN", name="打扫村道", points=5, notice_days=0)
    cid = _claim_for_li(client, world, household, villager, rid)
    assert approve(client, world, cid, world.clerk).get_json()["status"] == "posted"

    history = client.get(f"/api/v1/households/{household['id']}/transactions", headers=world.h(world.admin))
    assert history.status_code == 200
    assert history.get_json()["items"][0]["member_name"] == "李秀英"

    villager_client = _login(app, villager)
    home = villager_client.get("/").get_data(as_text=True)
    assert re.findall(r'data-testid="history-member">([^<]*)<', home) == ["李秀英"]
    mine = villager_client.get("/claims/mine").get_data(as_text=True)
    assert re.findall(r'data-testid="claim-status">([^<·]*)', mine)[0].strip() == "已入账"

    clerk_client = _login(app, world.clerk)
    review = clerk_client.get("/claims/review?status=posted").get_data(as_text=True)
    detail = clerk_client.get(f"/claims/{cid}").get_data(as_text=True)
    for html in (review, detail, mine):
        assert "已入账" in html
        assert "入账积分" not in html
