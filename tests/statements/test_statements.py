"""Annual statements: the figures from the ledger, the year-end checkpoint, a QR code to the ledger check."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from merit_bank.checkpoints import services as checkpoints
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.villages.models import Village
from tests.claims.claim_helpers import approve, claim_id, make_world, rule
from tests.factories import PASSWORD, PIN, make_user, page_login
from tests.pdf_support import pdf_pages_text, pdf_qr_codes, pdf_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ZONE = ZoneInfo("Asia/Shanghai")


def local(y, m, d, hh=10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=ZONE).astimezone(UTC)


class Year:
    def __init__(self, app, client):
        self.app = app
        self.world = w = make_world(app)
        self.hid = w.households[0]["id"]
        with app.app_context():
            self.code = db.session.get(Village, w.village).code
            ledger.open_shop_account(village_id=w.village, shop_id=9001)
            db.session.commit()
        self.now(local(2025, 6, 1))
        self.award(30, "covenant", "a")
        # 2026: a claim (the member is named), a deduction, a purchase.
        self.now(local(2026, 3, 1))
        rid = rule(client, w, "VOL", points=5, notice_days=0, name="清扫村道")
        cid = claim_id(client, w, rid, member_id=w.households[0]["member_ids"][0])
        assert approve(client, w, cid, w.clerk).status_code == 200
        self.now(local(2026, 4, 1))
        self.award(-4, "anti_drug_gambling", "b")
        self.now(local(2026, 5, 1))
        with app.app_context():
            ledger.redeem(
                village_id=w.village, household_id=self.hid, shop_id=9001, points=10,
                idempotency_key="t:c", actor_id=None,
            )  # fmt: skip
        # Signed at the year's end; a later checkpoint (after more postings) belongs to the next year.
        self.now(local(2026, 12, 31, 20))
        with app.app_context():
            self.checkpoint = checkpoints.make_checkpoint(w.village, "daily")
            self.seq, self.hash = self.checkpoint.seq, self.checkpoint.hash
            db.session.commit()
        self.now(local(2027, 1, 2))
        self.award(7, "volunteer", "d")
        with app.app_context():
            checkpoints.make_checkpoint(w.village, "daily")
            db.session.commit()
        self.now(local(2027, 1, 5))
        self.verify_url = f"http://localhost/board/{self.code}/ledger"

    def now(self, moment):
        self.app.config["CLOCK"] = lambda: moment

    def award(self, points, council, key):
        with self.app.app_context():
            ledger.award(
                village_id=self.world.village, household_id=self.hid, council=council, points=points,
                idempotency_key=f"t:{key}", actor_id=None,
            )  # fmt: skip


@pytest.fixture
def year(app, client):
    return Year(app, client)


def test_the_statement_pdf_holds_the_households_figures_and_a_qr_to_the_ledger_check(year, client):
    w = year.world
    r = client.get(f"/api/v1/households/{year.hid}/statement.pdf?year=2026", headers=w.h(w.villagers[0]))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    assert "王建国" in text and "2026" in text
    # Opening 30, earned 5, deducted 4, spent 10, closing 21; each row with its member and council.
    for figure in ("30", "+5", "-4", "-10", "21", "清扫村道", "志愿服务", "禁毒禁赌", "王建国 "):
        assert figure in text, figure
    assert str(year.seq) in text and year.hash[:32] in text
    assert "+7" not in text  # 2027's award is not in 2026's statement
    assert pdf_qr_codes(r.data) == [year.verify_url]
    # The verification page it opens exists and shows the checkpoint.
    page = client.get(f"/board/{year.code}/ledger")
    assert page.status_code == 200 and year.hash in page.get_data(as_text=True)


def test_the_statement_figures_agree_with_the_ledger(year, app):
    from merit_bank.households.models import Household
    from merit_bank.statements import services

    with app.test_request_context():
        s = services.statement(db.session.get(Household, year.hid), 2026)
        assert (s["opening"], s["closing"]) == (30, 21)
        assert s["totals"] == {"earned": 5, "deducted": -4, "spent": -10, "expired": 0, "other": 0}
        assert [m["member"] for m in s["movements"]] == ["王建国", "", ""]
        assert s["stars"] is None  # the stars slot: not available on this branch
        assert s["checkpoint"]["seq"] == year.seq
        assert ledger.balance_as_of(year.hid, local(2026, 12, 31, 23)) == s["closing"]


def test_a_whole_village_prints_one_pdf_a_page_per_household(year, client):
    w = year.world
    r = client.get(f"/api/v1/villages/{w.village}/statements.pdf?year=2026", headers=w.h(w.clerk))
    assert r.status_code == 200
    pages = pdf_pages_text(r.data)
    assert len(pages) == 3
    # A page each (one group here: in the order of household codes).
    names = [next(n for n in ("王建国", "李德明", "张志强") if n in page) for page in pages]
    assert sorted(names) == sorted(("王建国", "李德明", "张志强"))
    assert "21" in pages[names.index("王建国")]
    assert pdf_qr_codes(r.data) == [year.verify_url] * 3


def test_who_reads_a_statement(year, client):
    w = year.world
    url = f"/api/v1/households/{year.hid}/statement.pdf?year=2026"
    assert client.get(url, headers=w.h(w.villagers[1])).status_code == 404
    assert client.get(url, headers=w.h(w.other_admin)).status_code == 404
    village = f"/api/v1/villages/{w.village}/statements.pdf?year=2026"
    assert client.get(village, headers=w.h(w.villagers[0])).status_code == 403
    r = client.get(f"/api/v1/households/{year.hid}/statement.pdf?year=1999", headers=w.h(w.admin))
    assert r.status_code == 422 and "year" in r.json["errors"]
    r = client.get(f"/api/v1/households/{year.hid}/statement.pdf", headers=w.h(w.admin))
    assert r.status_code == 422


def test_the_villager_reads_it_on_the_phone_from_home(year, app, client):
    from merit_bank.auth.models import User

    app.config.pop("CLOCK")  # a browser session on the real clock (2026 is this year or past)
    with app.app_context():
        username = db.session.get(User, year.world.villagers[0]).username
    assert page_login(client, username, PIN).status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="statement-link"' in home
    html = client.get(f"/statements/households/{year.hid}?year=2026").get_data(as_text=True)
    assert 'data-testid="closing">21<' in html and f"/board/{year.code}/ledger" in html
    assert client.get(f"/statements/households/{year.world.households[1]['id']}").status_code == 404


def test_staff_read_and_print_statements_as_pages(year, app, client):
    app.config.pop("CLOCK")
    admin = make_user(app, "admin", year.world.village, username="stmtadmin")
    assert admin
    login = page_login(client, "stmtadmin", PASSWORD)
    assert login.status_code == 302, login.get_data(as_text=True)[-800:]
    html = client.get(f"/statements/households/{year.hid}?year=2026").get_data(as_text=True)
    assert 'data-testid="statement"' in html and "王建国" in html
    assert 'data-testid="closing">21<' in html and 'data-testid="opening">30<' in html
    assert f"/board/{year.code}/ledger" in html
    pdf = client.get(f"/statements/households/{year.hid}/statement.pdf?year=2026")
    assert pdf.status_code == 200 and "王建国" in pdf_text(pdf.data)
    assert client.get(f"/statements/villages/{year.world.village}?year=2026").status_code == 200
