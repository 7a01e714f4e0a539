"""Participation by person and by tag: figures checked against the ledger rows read with plain SQL."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from tests.claims.claim_helpers import approve, make_world, rule
from tests.factories import auth, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pworld(app, client):
    """Three households of two; tags on some members; deeds posted in January, February and March 2026."""
    clock = Clock()
    app.config["CLOCK"] = clock
    w = make_world(app)
    w.clock = clock
    admin = w.h(w.admin)
    members = [m for h in w.households for m in h["member_ids"]]
    w.members = members
    tags = {
        members[0]: ["党员"],
        members[2]: ["党员", "村干部"],
        members[3]: ["党员"],
        members[5]: ["志愿者"],
    }
    for index, member in enumerate(members):
        household = w.households[index // 2]
        if member in tags:
            response = client.patch(
                f"/api/v1/households/{household['id']}/members/{member}",
                headers=admin,
                json={"tags": tags[member]},
            )
            assert response.status_code == 200, response.json
    rid = rule(client, w, "VOL", points=5, notice_days=0)
    w.claims = {}

    def deed(at: datetime, index: int, name: str = "", quantity: int = 1) -> None:
        clock.now = at.astimezone(UTC)
        household = w.households[index // 2]
        body = {
            "household_id": household["id"],
            "rule_id": rid,
            "member_id": members[index],
            "occurred_on": at.astimezone(SHANGHAI).date().isoformat(),
            "quantity": quantity,
        }
        filed = client.post("/api/v1/claims", json=body, headers=w.h(w.clerk))
        assert filed.status_code == 201, filed.json
        posted = approve(client, w, filed.json["id"], w.clerk2)
        assert posted.json["status"] == "posted", posted.json
        if name:
            w.claims[name] = filed.json["id"]

    def local(*args: int) -> datetime:
        return datetime(*args, tzinfo=SHANGHAI)

    deed(local(2026, 1, 10, 9), 0)  # 党员 member 0
    deed(local(2026, 1, 12, 9), 2, "m2-jan")  # 党员 村干部 member 2
    deed(local(2026, 1, 31, 23, 30), 5)  # 志愿者, late on 31 January local time
    deed(local(2026, 2, 1, 0, 30), 0, quantity=2)  # member 0 again, on 1 February local (31 January UTC)
    deed(local(2026, 2, 5, 9), 1)  # untagged member 1
    # An award with no member (a household card award) counts for nobody.
    clock.now = local(2026, 2, 6, 9).astimezone(UTC)
    with app.app_context():
        ledger.award(
            village_id=w.village,
            household_id=w.households[1]["id"],
            council="volunteer",
            points=9,
            idempotency_key="no-member",
            actor_id=w.admin,
        )
    # Member 2's January award is reversed in March: their net over January–March is zero.
    clock.now = local(2026, 3, 3, 9).astimezone(UTC)
    with app.app_context():
        award_id = db.session.execute(
            text("SELECT transaction_id FROM claims WHERE id = :id"), {"id": w.claims["m2-jan"]}
        ).scalar_one()
        ledger.reverse(transaction_id=award_id, idempotency_key="rev-m2", actor_id=w.admin, memo="错误")
    deed(local(2026, 3, 4, 9), 3)  # 党员 member 3 in March
    return w


def _independent(app, village_id: int, first: date, last: date):
    """Per member and local month, points from the ledger rows joined to claims, in plain SQL and Python."""
    with app.app_context():
        legs = db.session.execute(
            text(
                """
                SELECT c.member_id, t.created_at, e.amount
                FROM ledger_transactions t
                JOIN ledger_entries e ON e.transaction_id = t.id
                JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'household'
                JOIN claims c ON c.transaction_id = t.id OR c.transaction_id = t.reverses_id
                LEFT JOIN ledger_transactions o ON o.id = t.reverses_id
                WHERE t.village_id = :v
                  AND (t.kind = 'award' OR (t.kind = 'reversal' AND o.kind = 'award'))
                """
            ),
            {"v": village_id},
        ).all()
        members = db.session.execute(
            text(
                "SELECT m.id, m.tags FROM members m JOIN households h ON h.id = m.household_id "
                "WHERE h.village_id = :v AND h.active"
            ),
            {"v": village_id},
        ).all()
    points: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for member_id, created_at, amount in legs:
        if isinstance(created_at, str):
            created_at = datetime.fromisoformat(created_at)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        local_day = created_at.astimezone(SHANGHAI).date()
        if first <= local_day <= last:
            points[member_id][local_day.strftime("%Y-%m")] += amount
    tags = {m: (json.loads(t) if isinstance(t, str) else t) or [] for m, t in members}
    return points, tags


def _expected(points, tags, tag, months):
    chosen = [m for m in tags if tag is None or tag in tags[m]]
    earning = [m for m in chosen if sum(points[m].values()) > 0]
    return {
        "members": len(chosen),
        "earning": len(earning),
        "points": sum(sum(points[m].values()) for m in chosen),
        "by_month": [sum(1 for m in chosen if points[m].get(month, 0) > 0) for month in months],
        "absent": sorted(m for m in chosen if sum(points[m].values()) <= 0),
    }


def test_participation_matches_the_ledger_rows_for_everyone_and_each_tag(pworld, client, app):
    months = ["2026-01", "2026-02", "2026-03"]
    query = {"village_id": pworld.village, "from": "2026-01-01", "to": "2026-03-31"}
    result = client.get("/api/v1/reports/participation", query_string=query, headers=pworld.h(pworld.clerk))
    assert result.status_code == 200, result.json
    body = result.json
    points, tags = _independent(app, pworld.village, date(2026, 1, 1), date(2026, 3, 31))
    assert [r["tag"] for r in body["rows"]] == [None, "党员", "村干部", "村民代表", "网格员", "志愿者"]
    for row in body["rows"]:
        expected = _expected(points, tags, row["tag"], months)
        assert row["members"] == expected["members"], row
        assert row["earning"] == expected["earning"], row
        assert row["points"] == expected["points"], row
        assert [m["earning"] for m in row["by_month"]] == expected["by_month"], row
        assert row["rate"] == (
            round(expected["earning"] / expected["members"], 4) if expected["members"] else 0
        )
    everyone = body["rows"][0]
    # The figures the story was built to give, as a check on the independent computation itself.
    assert (everyone["members"], everyone["earning"], everyone["points"]) == (6, 4, 5 + 5 + 10 + 5 + 5)
    assert [m["earning"] for m in everyone["by_month"]] == [3, 2, 1]
    party = body["rows"][1]
    assert (party["members"], party["earning"]) == (3, 2)
    assert sorted(a["member_id"] for a in body["absent"]) == _expected(points, tags, None, months)["absent"]
    assert pworld.members[2] in [a["member_id"] for a in body["absent"]], "a reversed deed is no part"


def test_one_month_and_one_tag(pworld, client, app):
    query = {"village_id": pworld.village, "month": "2026-01", "tag": "党员"}
    body = client.get(
        "/api/v1/reports/participation", query_string=query, headers=pworld.h(pworld.clerk)
    ).json
    points, tags = _independent(app, pworld.village, date(2026, 1, 1), date(2026, 1, 31))
    expected = _expected(points, tags, "党员", ["2026-01"])
    assert [r["tag"] for r in body["rows"]] == [None, "党员"]
    assert (body["rows"][1]["members"], body["rows"][1]["earning"]) == (
        expected["members"],
        expected["earning"],
    )
    # In January member 2 still counts (the reversal is posted in March).
    assert body["rows"][1]["earning"] == 2
    assert sorted(a["member_id"] for a in body["absent"]) == expected["absent"]


def test_member_rankings_list_only_those_who_earned(pworld, client, app):
    query = {"village_id": pworld.village, "from": "2026-01-01", "to": "2026-03-31"}
    body = client.get(
        "/api/v1/reports/member-rankings", query_string=query, headers=pworld.h(pworld.admin)
    ).json
    points, _tags = _independent(app, pworld.village, date(2026, 1, 1), date(2026, 3, 31))
    expected = {m: sum(p.values()) for m, p in points.items() if sum(p.values()) > 0}
    assert {r["member_id"]: r["earned"] for r in body["items"]} == expected
    assert body["items"][0]["member_id"] == pworld.members[0] and body["items"][0]["rank"] == 1
    assert body["items"][0]["deeds"] == 2
    tied = [r for r in body["items"] if r["earned"] == 5]
    assert len(tied) == 3 and {r["rank"] for r in tied} == {2} and all(r["tied"] for r in tied)
    party = client.get(
        "/api/v1/reports/member-rankings",
        query_string={**query, "tag": "党员"},
        headers=pworld.h(pworld.admin),
    ).json
    assert [r["member_id"] for r in party["items"]] == [pworld.members[0], pworld.members[3]]


def test_the_party_report_and_its_print_page(pworld, client):
    query = {"village_id": pworld.village, "from": "2026-01-01", "to": "2026-03-31"}
    body = client.get(
        "/api/v1/reports/party-members", query_string=query, headers=pworld.h(pworld.clerk)
    ).json
    assert body["tag"] == "党员" and body["months"] == ["2026-01", "2026-02", "2026-03"]
    rows = {r["member_id"]: r for r in body["items"]}
    assert set(rows) == {pworld.members[0], pworld.members[2], pworld.members[3]}
    assert rows[pworld.members[0]]["earned"] == 15 and rows[pworld.members[0]]["months"] == [5, 10, 0]
    assert rows[pworld.members[2]]["earned"] == 0 and rows[pworld.members[2]]["months"] == [5, 0, -5]
    assert body["summary"]["earning"] == 2


def test_who_may_read_it(pworld, client, app):
    query = {"village_id": pworld.village, "month": "2026-01"}
    paths = ["participation", "member-rankings", "party-members"]
    villager = pworld.h(pworld.villagers[0])
    for path in paths:
        assert client.get(f"/api/v1/reports/{path}", query_string=query, headers=villager).status_code == 403
        other = client.get(
            f"/api/v1/reports/{path}", query_string=query, headers=pworld.h(pworld.other_admin)
        )
        assert other.status_code == 404
    # A deployment-wide (county) admin sees the figures but not who stayed away, nor the party sheet.
    root = auth(app, make_user(app, "admin", None))
    county = client.get("/api/v1/reports/participation", query_string=query, headers=root)
    assert (
        county.status_code == 200 and county.json["absent"] is None and county.json["rows"][0]["members"] == 6
    )
    assert client.get("/api/v1/reports/party-members", query_string=query, headers=root).status_code == 403
    assert (
        client.get("/api/v1/exports/members/absent-members.csv", query_string=query, headers=root).status_code
        == 403
    )
    bad = client.get(
        "/api/v1/reports/participation", query_string={**query, "tag": "会长"}, headers=pworld.h(pworld.clerk)
    )
    assert bad.status_code == 422 and "tag" in bad.json["errors"]


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_exports_of_each(pworld, client):
    query = {"village_id": pworld.village, "from": "2026-01-01", "to": "2026-03-31"}
    headers = pworld.h(pworld.clerk)
    part = client.get("/api/v1/exports/members/participation.csv", query_string=query, headers=headers)
    assert part.status_code == 200 and "attachment" in part.headers["Content-Disposition"]
    rows = _csv(part)
    assert rows[0][0] == "标签" and rows[1][:4] == ["全体", "全期", "6", "4"]
    ranking = _csv(
        client.get("/api/v1/exports/members/member-rankings.csv", query_string=query, headers=headers)
    )
    assert len(ranking) == 1 + 4 and ranking[1][-2:] == ["15", "2"]
    absent = _csv(
        client.get("/api/v1/exports/members/absent-members.csv", query_string=query, headers=headers)
    )
    assert len(absent) == 1 + 2
    party = client.get("/api/v1/exports/members/party-members.xlsx", query_string=query, headers=headers)
    sheet = load_workbook(io.BytesIO(party.get_data())).worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][-3:] == ["2026-01", "2026-02", "2026-03"] and len(values) == 1 + 3
    assert values[1][5:] == [15, 2, 5, 10, 0]


def test_a_formula_in_a_name_stays_text_in_the_exports(pworld, client, app):
    household = pworld.households[2]
    with app.app_context():
        db.session.execute(
            text("UPDATE members SET name = :n WHERE id = :id"),
            {"n": '=HYPERLINK("x")', "id": pworld.members[5]},
        )
        db.session.commit()
    query = {"village_id": pworld.village, "from": "2026-01-01", "to": "2026-03-31"}
    rows = _csv(
        client.get(
            "/api/v1/exports/members/member-rankings.csv", query_string=query, headers=pworld.h(pworld.clerk)
        )
    )
    assert any(r[1] == '\'=HYPERLINK("x")' for r in rows), rows
    assert household


def _login(client, app, role, village):
    from tests.factories import PASSWORD, page_login

    app.config.pop("CLOCK", None)  # the session cookie is checked against the real time
    name = f"page{role}{village}"
    make_user(app, role, village, username=name)
    assert page_login(client, name, PASSWORD).status_code == 302


def test_the_pages(pworld, client, app):
    span = f"village_id={pworld.village}&from=2026-01-01&to=2026-03-31"
    _login(client, app, "clerk", pworld.village)
    page = client.get(f"/reports/participation?{span}").get_data(as_text=True)
    assert 'data-testid="participation"' in page and 'data-testid="absent"' in page and "党员" in page
    tagged = client.get(f"/reports/participation?{span}&tag=党员").get_data(as_text=True)
    assert "party-members" in tagged
    rankings = client.get(f"/reports/rankings?{span}").get_data(as_text=True)
    assert 'data-testid="member-rankings"' in rankings and 'data-testid="rankings"' in rankings
    party = client.get(f"/reports/party-members?{span}")
    html = party.get_data(as_text=True)
    assert party.status_code == 200 and "report-party.css" in html and html.count("<tr>") == 1 + 3
    listed = client.get(f"/reports/exports?{span}").get_data(as_text=True)
    assert 'data-export="absent-members-xlsx"' in listed and 'data-export="party-members-csv"' in listed
    client.post("/logout", data={"csrf_token": ""})


def test_the_pages_name_no_one_to_a_county_admin(pworld, client, app):
    span = f"village_id={pworld.village}&from=2026-01-01&to=2026-03-31"
    _login(client, app, "admin", None)
    page = client.get(f"/reports/participation?{span}")
    assert page.status_code == 200 and 'data-testid="absent"' not in page.get_data(as_text=True)
    assert client.get(f"/reports/party-members?{span}").status_code == 403
    listed = client.get(f"/reports/exports?{span}").get_data(as_text=True)
    assert 'data-export="participation-xlsx"' in listed and "absent-members" not in listed
