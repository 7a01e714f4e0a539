"""Points expiry: exactly the FIFO rule's points, never newer ones, the 30-day notice, once, reversible."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from merit_bank.errors import DomainError
from merit_bank.expiry import services as expiry
from merit_bank.expiry.models import ExpiryAnnouncement
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import Account, Transaction
from tests.factories import auth, make_household, make_user, make_village

ZONE = ZoneInfo("Asia/Shanghai")


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZONE).astimezone(UTC)


def test_unspent_lots_first_in_first_out_with_a_debt():
    t = [local(2024, 1, d) for d in range(1, 8)]
    lots, owed = expiry.unspent_lots([(t[0], 10), (t[1], 5), (t[2], -12), (t[3], 4)])
    assert lots == [(t[1], 3), (t[3], 4)] and owed == 0
    # A deduction beyond the lots leaves a debt that the next earning pays first.
    lots, owed = expiry.unspent_lots([(t[0], 5), (t[1], -8), (t[2], 2), (t[3], 6)])
    assert lots == [(t[3], 5)] and owed == 0
    lots, owed = expiry.unspent_lots([(t[0], 5), (t[1], -8)])
    assert lots == [] and owed == 3


class Story:
    """One village, N = 2 years, expiry on 2026-12-31 (cutoff 2024-12-31), hand-computed households."""

    def __init__(self, app):
        self.app = app
        self.village = make_village(app, code="EXP")
        self.admin = make_user(app, "admin", self.village)
        names = ("甲", "乙", "丙", "丁", "戊")
        self.h = {n: make_household(app, self.village, head_name=n)["id"] for n in names}
        self.shop = 7001
        with app.app_context():
            ledger.open_shop_account(village_id=self.village, shop_id=self.shop)
            db.session.commit()
        self.reversed_award = None
        n = iter(range(1, 1000))

        def award(name, points, when, council="volunteer"):
            self.now(when)
            with app.app_context():
                tx = ledger.award(
                    village_id=self.village, household_id=self.h[name], council=council, points=points,
                    idempotency_key=f"t:{next(n)}", actor_id=None,
                )  # fmt: skip
                return tx.id

        def redeem(name, points, when):
            self.now(when)
            with app.app_context():
                ledger.redeem(
                    village_id=self.village, household_id=self.h[name], shop_id=self.shop, points=points,
                    idempotency_key=f"t:{next(n)}", actor_id=None,
                )  # fmt: skip

        # Posted in time order (a chain never runs backwards).
        award("甲", 10, local(2024, 3, 1))
        award("乙", 8, local(2024, 4, 1))
        b_reversed = award("乙", 6, local(2024, 5, 1))
        award("甲", 5, local(2024, 6, 1))
        award("戊", 10, local(2024, 7, 1))
        redeem("戊", 10, local(2024, 8, 1))
        # 丁: the evening before the cutoff day (old); 丙: the cutoff day itself (exactly 2 years: kept).
        award("丁", 9, local(2024, 12, 30, 23, 30))
        award("丙", 7, local(2024, 12, 31, 0, 30))
        award("乙", 4, local(2025, 1, 5))
        self.now(local(2025, 1, 10))
        with app.app_context():
            ledger.reverse(transaction_id=b_reversed, idempotency_key="t:rev", actor_id=None, memo="错录")
        award("甲", 20, local(2025, 2, 1))
        redeem("甲", 12, local(2025, 3, 1))  # 10 from the March lot, 2 from the June lot
        award("乙", -3, local(2025, 4, 1), council="covenant")  # from 乙's April lot
        award("丙", 2, local(2025, 5, 1))
        # What expires on 2026-12-31: 甲 3 (June lot), 乙 5 (April lot), 丁 9; 丙 and 戊 nothing.
        self.expected = {self.h["甲"]: 3, self.h["乙"]: 5, self.h["丁"]: 9}

    def now(self, moment):
        self.app.config["CLOCK"] = lambda: moment

    def set_years(self, client, years=2):
        r = client.patch(
            f"/api/v1/villages/{self.village}",
            json={"expiry_years": years},
            headers=auth(self.app, self.admin),
        )
        assert r.status_code == 200, r.json
        assert r.json["expiry_years"] == years and r.json["expiry_day"] == "12-31"
        return r

    def balances(self):
        with self.app.app_context():
            return {hid: ledger.household_balance(hid) for hid in self.h.values()}

    def expiries(self):
        with self.app.app_context():
            return db.session.scalar(select(func.count()).where(Transaction.kind == "expiry"))


@pytest.fixture
def story(app):
    return Story(app)


def test_expiry_posts_exactly_the_fifo_points_once_and_is_reversible(story, client):
    app, h = story.app, auth(story.app, story.admin)
    base = f"/api/v1/villages/{story.village}/expiry"
    story.now(local(2026, 11, 15))
    # Points never expire by default: nothing can be announced.
    r = client.post(f"{base}/announcements", json={"expires_on": "2026-12-31"}, headers=h)
    assert r.status_code == 422 and "expiry_years" in r.json["errors"]
    story.set_years(client)
    assert client.get(base, headers=h).json["next_date"] == "2026-12-31"
    r = client.post(f"{base}/announcements", json={}, headers=h)
    assert r.status_code == 201, r.json
    announcement = r.json
    assert announcement["expires_on"] == "2026-12-31" and announcement["cutoff"] == "2024-12-31"
    preview = client.get(f"{base}/announcements/{announcement['id']}/preview", headers=h).json
    assert {row["household_id"]: row["points"] for row in preview["households"]} == story.expected
    # Announced: on the board and on each affected villager's page, not on the others'.
    with app.app_context():
        from merit_bank.villages.models import Village

        code = db.session.get(Village, story.village).code
    board = client.get(f"/board/{code}").get_data(as_text=True)
    assert 'data-testid="board-expiry"' in board and "2026-12-31" in board
    with app.app_context():
        assert expiry.household_notices(story.village, story.h["甲"])[0]["points"] == 3
        assert expiry.household_notices(story.village, story.h["丙"]) == []

    run = f"{base}/announcements/{announcement['id']}/run"
    story.now(local(2026, 12, 30))
    r = client.post(run, headers=h)
    assert r.status_code == 409 and r.json["type"] == "not-yet"
    before = story.balances()
    story.now(local(2026, 12, 31, 9))
    r = client.post(run, headers=h)
    assert r.status_code == 200, r.json
    posted = {t["household_id"]: t["points"] for t in r.json["transactions"]}
    assert posted == story.expected and r.json["points"] == 17
    after = story.balances()
    for hid in before:
        assert after[hid] == before[hid] - story.expected.get(hid, 0)
    with app.app_context():
        assert ledger.verify()["ok"]
        suspense = db.session.scalar(
            select(Account.balance).where(Account.key == ledger.suspense_key(story.village))
        )
        assert suspense == 17
    # Idempotent: a second run (the API or the cron) posts nothing.
    again = client.post(run, headers=h)
    assert again.status_code == 200 and again.json["transactions"] == [] and again.json["points"] == 17
    result = app.test_cli_runner().invoke(args=["expire-points"])
    assert result.exit_code == 0, result.output
    assert story.expiries() == 3

    # An admin reverses one household's expiry with a memo, through the ordinary reversal path.
    tx_id = next(t["transaction_id"] for t in r.json["transactions"] if t["household_id"] == story.h["乙"])
    r = client.post(
        f"/api/v1/ledger/transactions/{tx_id}/reversal",
        json={"memo": "村民大会决定恢复"},
        headers={**h, "Idempotency-Key": "undo-expiry-1"},
    )
    assert r.status_code in (200, 201), r.json
    assert story.balances()[story.h["乙"]] == before[story.h["乙"]]
    assert app.test_cli_runner().invoke(args=["expire-points"]).exit_code == 0
    assert story.expiries() == 3  # the reversed expiry is not posted again
    with app.app_context():
        assert ledger.verify()["ok"]
    # The kind reads like any other in the household's history and the exports.
    hist = client.get(f"/api/v1/households/{story.h['甲']}/transactions", headers=h).json["items"]
    assert hist[0]["kind"] == "expiry" and hist[0]["amount"] == -3
    csv = client.get(f"/api/v1/exports/ledger.csv?village_id={story.village}", headers=h).get_data(
        as_text=True
    )
    assert "积分到期" in csv or "Expiry" in csv
    balances = client.get(
        f"/api/v1/exports/balances.csv?village_id={story.village}&header=keys", headers=h
    ).get_data(as_text=True)
    assert "expired" in balances.splitlines()[0]
    # The dashboard's figures: 17 expired, 5 of them given back by the reversal.
    stats = client.get(f"/api/v1/reports/stats?village_id={story.village}&year=2026", headers=h).json
    assert stats["points"]["expired"] == 12


def test_expiry_never_runs_without_the_30_day_notice(story, client):
    app, h = story.app, auth(story.app, story.admin)
    story.set_years(client)
    base = f"/api/v1/villages/{story.village}/expiry"
    # 29 days before: refused, naming the field.
    story.now(local(2026, 12, 2))
    r = client.post(f"{base}/announcements", json={"expires_on": "2026-12-31"}, headers=h)
    assert r.status_code == 422 and "expires_on" in r.json["errors"]
    # The day has come with no announcement: the cron does nothing.
    story.now(local(2026, 12, 31, 9))
    result = app.test_cli_runner().invoke(args=["expire-points"])
    assert result.exit_code == 0 and "0 expiry date(s) due" in result.output
    # An announcement that did not come 30 days ahead (written behind the service's back) never runs.
    with app.app_context():
        db.session.add(
            ExpiryAnnouncement(
                village_id=story.village, expires_on=datetime(2026, 12, 31).date(), years=2,
                cutoff=datetime(2024, 12, 31).date(), created_at=local(2026, 12, 10),
            )
        )  # fmt: skip
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["expire-points"])
    assert result.exit_code == 1 and "notice-too-short" in result.output
    assert story.expiries() == 0
    # Turning expiry off cancels announced dates: nothing shows, nothing runs.
    story.set_years(client, None)
    result = app.test_cli_runner().invoke(args=["expire-points"])
    assert result.exit_code == 0 and "0 expiry date(s) due" in result.output
    with app.app_context():
        assert expiry.pending(story.village) == []
        (cancelled,) = expiry.announcements(story.village)
        with pytest.raises(DomainError) as off:
            expiry.run(cancelled, None)
        assert off.value.code == "expiry-off"
    assert story.expiries() == 0
    with app.app_context():
        assert ledger.verify()["ok"]


def test_only_admins_of_the_village_announce_and_run(story, client):
    clerk = make_user(story.app, "clerk", story.village)
    story.set_years(client)
    story.now(local(2026, 11, 1))
    r = client.post(
        f"/api/v1/villages/{story.village}/expiry/announcements", json={}, headers=auth(story.app, clerk)
    )
    assert r.status_code == 403
    other = make_village(story.app, code="EXQ")
    r = client.post(
        f"/api/v1/villages/{other}/expiry/announcements", json={}, headers=auth(story.app, story.admin)
    )
    assert r.status_code in (403, 404)


def test_the_admin_page_sets_announces_and_runs_and_the_villager_is_told(story, client):
    from merit_bank.auth.models import User
    from tests.factories import PASSWORD, PIN, csrf_token, make_villager, page_login

    app = story.app
    app.config.pop("CLOCK")  # page sessions on the real clock; the dates below are relative to it
    with app.app_context():
        admin_name = db.session.get(User, story.admin).username
    assert page_login(client, admin_name, PASSWORD).status_code == 302
    page = f"/expiry/{story.village}"
    token = csrf_token(client, page)
    bad = client.post(page, data={"csrf_token": token, "action": "settings", "expiry_years": "x"})
    assert bad.status_code == 422
    bad = client.post(
        page, data={"csrf_token": token, "action": "settings", "expiry_years": "2", "expiry_day": "02-30"}
    )
    assert bad.status_code == 422 and "MM-DD" in bad.get_data(as_text=True)
    ok = client.post(
        page, data={"csrf_token": token, "action": "settings", "expiry_years": "1", "expiry_day": "12-31"}
    )
    assert ok.status_code == 302
    assert client.post(page, data={"csrf_token": token, "action": "announce"}).status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="expiry-announcements"' in html
    with app.app_context():
        (announcement,) = expiry.announcements(story.village)
        # With N = 1 every point of the story is more than a year old by next December: all unspent expire.
        total = sum(expiry.expiring_points(story.village, announcement.cutoff).values())
        assert total == sum(story.balances().values()) > 0
    # Not yet: the run is refused on the page with the reason.
    refused = client.post(
        page, data={"csrf_token": token, "action": "run", "announcement_id": str(announcement.id)}
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.get_data(as_text=True)
    assert story.expiries() == 0
    # The affected villager sees it on their home page.
    villager = make_villager(app, {"member_ids": [_first_member(app, story.h["甲"])]})
    with app.app_context():
        villager_name = db.session.get(User, villager).username
    other = app.test_client()
    assert page_login(other, villager_name, PIN).status_code == 302
    home = other.get("/").get_data(as_text=True)
    assert 'data-testid="expiry-notice"' in home and announcement.expires_on.isoformat() in home


def _first_member(app, household_id):
    from merit_bank.households.models import Member

    with app.app_context():
        return db.session.scalar(
            select(Member.id).where(Member.household_id == household_id).order_by(Member.id)
        )


def test_a_later_expiry_counts_the_earlier_one_as_spent_and_keeps_new_points(app, client):
    from merit_bank.auth.models import User

    village = make_village(app, code="EXR")
    admin = make_user(app, "admin", village)
    hid = make_household(app, village, head_name="己")["id"]
    with app.app_context():
        ledger.open_shop_account(village_id=village, shop_id=7101)
        db.session.commit()

    def at(moment):
        app.config["CLOCK"] = lambda: moment

    def award(points, key):
        with app.app_context():
            ledger.award(
                village_id=village, household_id=hid, council="volunteer", points=points,
                idempotency_key=f"r:{key}", actor_id=None,
            )  # fmt: skip

    def announce_and_run(announce_at, day):
        at(announce_at)
        with app.app_context():
            a = expiry.announce(db.session.get(User, admin), village, day)
        at(local(day.year, day.month, day.day, 1))
        with app.app_context():
            return expiry.run(db.session.get(ExpiryAnnouncement, a.id), None)["points"]

    client.patch(f"/api/v1/villages/{village}", json={"expiry_years": 1}, headers=auth(app, admin))
    at(local(2024, 3, 1))
    award(10, "a")
    at(local(2025, 3, 1))
    award(6, "b")
    assert announce_and_run(local(2025, 11, 1), datetime(2025, 12, 31).date()) == 10
    at(local(2026, 2, 1))
    with app.app_context():
        ledger.redeem(
            village_id=village, household_id=hid, shop_id=7101, points=2, idempotency_key="r:c", actor_id=None
        )
    at(local(2026, 6, 1))
    award(3, "d")
    # 2026-12-31, cutoff 2025-12-31: the 2025 lot less the 2 spent; the 10 already expired count as spent.
    assert announce_and_run(local(2026, 11, 1), datetime(2026, 12, 31).date()) == 4
    with app.app_context():
        assert ledger.household_balance(hid) == 3
        assert ledger.verify()["ok"]
