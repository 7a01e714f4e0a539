"""Builders for the reports tests: a village whose ledger was posted at chosen moments.

Postings go through the ledger's real services; only the ledger's clock is set, so that points land
in chosen months (and on either side of a local midnight).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from merit_bank.extensions import db
from merit_bank.ledger import posting as ledger_posting
from merit_bank.ledger import services as ledger
from merit_bank.ledger.models import Account, Entry, Transaction
from tests.factories import auth, make_household, make_shop, make_user, make_village, root_admin

SHANGHAI = ZoneInfo("Asia/Shanghai")


class LedgerClock:
    """Stands in for the ledger's utcnow; tests set `now` before each posting."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def local(*args: int) -> datetime:
    """A local (Asia/Shanghai) wall-clock time as an aware datetime."""
    return datetime(*args, tzinfo=SHANGHAI)


@dataclass
class RWorld:
    app: Flask
    village: int
    other_village: int
    households: list[dict[str, Any]]
    other_household: dict[str, Any]
    groups: dict[str, int]
    admin: int
    clerk: int
    other_admin: int
    root: int
    shop: int
    clock: LedgerClock
    txs: dict[str, int] = field(default_factory=dict)
    _n: int = 0

    def h(self, user_id: int) -> dict[str, str]:
        return auth(self.app, user_id)

    def _key(self) -> str:
        self._n += 1
        return f"test:{self._n}"

    def award(self, at: datetime, household: int, points: int, council: str = "volunteer", name: str = ""):
        """Post an award (or, with negative points, a deduction) at a local moment."""
        self.clock.now = at.astimezone(UTC)
        h = self.households[household] if household >= 0 else self.other_household
        village = self.village if household >= 0 else self.other_village
        with self.app.app_context():
            tx = ledger.award(
                village_id=village,
                household_id=h["id"],
                council=council,
                points=points,
                idempotency_key=self._key(),
                actor_id=self.admin,
            )
            if name:
                self.txs[name] = tx.id

    def reverse(self, at: datetime, name: str) -> None:
        self.clock.now = at.astimezone(UTC)
        with self.app.app_context():
            ledger.reverse(
                transaction_id=self.txs[name], idempotency_key=self._key(), actor_id=self.admin, memo="错误"
            )

    def redeem(self, at: datetime, household: int, points: int) -> None:
        self.clock.now = at.astimezone(UTC)
        with self.app.app_context():
            ledger.redeem(
                village_id=self.village,
                household_id=self.households[household]["id"],
                shop_id=self.shop,
                points=points,
                idempotency_key=self._key(),
                actor_id=self.admin,
            )


def make_rworld(app: Flask, monkeypatch) -> RWorld:
    clock = LedgerClock()
    monkeypatch.setattr(ledger_posting, "utcnow", clock)
    village = make_village(app, "幸福村", groups=("一组", "二组"))
    other = make_village(app, "邻村", groups=("一组",))
    heads = [
        ("王建国", "一组"),
        ("李德明", "一组"),
        ("张志强", "二组"),
        ("刘长顺", "二组"),
        ("陈永福", "二组"),
        ("杨国庆", "一组"),
    ]
    households = [make_household(app, village, name, group=group) for name, group in heads]
    other_household = make_household(app, other, "赵六")
    shop = make_shop(app, village)
    with app.app_context():
        ledger.open_shop_account(village_id=village, shop_id=shop)
        from merit_bank.villages.models import VillageGroup

        groups = {
            g.name: g.id
            for g in db.session.scalars(select(VillageGroup).where(VillageGroup.village_id == village))
        }
    return RWorld(
        app=app,
        village=village,
        other_village=other,
        households=households,
        other_household=other_household,
        groups=groups,
        admin=make_user(app, "admin", village),
        clerk=make_user(app, "clerk", village),
        other_admin=make_user(app, "admin", other),
        root=root_admin(app),
        shop=shop,
        clock=clock,
    )


def post_story(w: RWorld) -> None:
    """January and February 2026 in the village, with ties, deductions, reversals and spending."""
    # In time order: a village's chain never runs backwards in time.
    w.award(local(2026, 1, 5, 9), 0, 10)
    w.award(local(2026, 1, 6, 9), 1, 10)
    w.award(local(2026, 1, 7, 9), 1, -3, "covenant")
    w.award(local(2026, 1, 8, 9), 2, 8, name="h2-award")
    w.award(local(2026, 1, 9, 9), 3, 20, "moral_review")
    w.redeem(local(2026, 1, 10, 9), 3, 5)
    w.award(local(2026, 1, 11, 9), 4, -4, "covenant", name="h4-deduction")
    w.award(local(2026, 1, 12, 9), 4, -2, "moral_review")
    w.reverse(local(2026, 1, 13, 9), "h4-deduction")
    w.award(local(2026, 1, 20, 9), -1, 50)  # the other village
    # 23:30 on 31 January, local: January (15:30 UTC).
    w.award(local(2026, 1, 31, 23, 30), 0, 2)
    # 00:30 on 1 February, local: February, although in UTC it is still 31 January.
    w.award(local(2026, 2, 1, 0, 30), 1, 7)
    w.award(local(2026, 2, 3, 9), 0, 5)
    w.reverse(local(2026, 2, 10, 9), "h2-award")


# --- independent figures, straight from the ledger rows -----------------------------------------


def ledger_figures(app: Flask, village_id: int, first: date, last: date) -> dict[int, dict[str, int]]:
    """Per household: earned, deducted, covenant deductions and spent, computed here in Python."""
    out: dict[int, dict[str, int]] = defaultdict(
        lambda: {"earned": 0, "deducted": 0, "covenant": 0, "spent": 0}
    )
    with app.app_context():
        accounts = {a.id: a for a in db.session.scalars(select(Account))}
        txs = {t.id: t for t in db.session.scalars(select(Transaction))}
        entries = defaultdict(list)
        for e in db.session.scalars(select(Entry)):
            entries[e.transaction_id].append(e)
        for tx in txs.values():
            if tx.village_id != village_id:
                continue
            day = tx.created_at.astimezone(SHANGHAI).date()
            if not first <= day <= last:
                continue
            kind = txs[tx.reverses_id].kind if tx.kind == "reversal" else tx.kind
            council = next(
                (
                    accounts[e.account_id].council
                    for e in entries[tx.id]
                    if accounts[e.account_id].kind == "issuing"
                ),
                None,
            )
            for e in entries[tx.id]:
                account = accounts[e.account_id]
                if account.kind != "household":
                    continue
                row = out[account.household_id]
                if kind == "award":
                    row["earned"] += e.amount
                elif kind == "deduction":
                    row["deducted"] -= e.amount
                    if council == "covenant":
                        row["covenant"] -= e.amount
                elif kind == "redemption":
                    row["spent"] -= e.amount
    return out
