"""A year of the demo village's life, played forward through the real services by `seed-demo`.

Each month the village holds events where the clerk scans households in, villagers claim points that
the clerks review (two of them where a rule asks for two) and that post after their public notice,
the council records a covenant deduction now and then, and households spend points at the shop. Every
step runs at its own moment under `pinned_time`, in time order, so the ledger's chain is dated as a
real village's (it never runs backwards) and `verify-ledger` passes. The first household is left out:
a visitor logging in as it starts from zero.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from .auth.models import User
from .claims import services as claims
from .clock import local_today, local_zone
from .database import pinned_time
from .demo import Demo
from .events import services as events
from .extensions import db
from .households.models import Member
from .ledger import services as ledger
from .rules.models import Rule
from .shop import services as shop
from .shop.models import ShopItem

# The history stops two days before today; what happens after that is today's demo state.
QUIET_DAYS = 2

# How often each household (by index; 0 is left out) takes part: a village has keen and quiet families.
_KEENNESS = [0.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.45, 0.4, 0.3, 0.25]

# (rule code, what the villager writes, quantity range): claims a villager files for a deed.
_DEEDS: list[tuple[str, list[str], tuple[int, int]]] = [
    ("VOL-ELDER", ["帮五保户李奶奶挑水劈柴", "陪留守儿童写作业", "给独居老人送饭"], (1, 1)),
    ("VOL-HOUR", ["村小学门口护学岗", "村卫生室帮忙量血压", "图书室值班"], (2, 4)),
    ("VC-PROPOSAL", ["建议村口路灯改太阳能", "建议垃圾分类点加盖", "建议文化广场加装健身器材"], (1, 1)),
    ("COV-COURTYARD", ["庭院整洁，花草成行", "院内菜园整齐，无乱堆乱放"], (1, 1)),
    ("MR-GOODDEED", ["拾到手机归还失主", "救起落水儿童"], (1, 1)),
]
# Two-approval rules, one a season: (month index, rule code, note).
_FOUR_EYES = [
    (1, "WF-FUNERAL", "父亲丧事简办，不请乐队，不摆流水席"),
    (4, "MR-MOTHER", "照顾瘫痪婆婆十年如一日，村民小组推荐"),
    (7, "WF-WEDDING", "女儿婚事新办，未收彩礼"),
    (10, "MR-FAMILY", "三代同堂，邻里和睦，评为文明家庭"),
]
_DEDUCTIONS = [("COV-GARBAGE", "在沟渠边倾倒生活垃圾"), ("COV-BURN", "在田间焚烧秸秆，经劝阻后熄灭")]
# (title, rule code, place, local start, hours, day of the month)
_EVENTS = [
    ("河道清理志愿活动", "VOL-CLEAN", "村口河道", time(8, 30), 3, 6),
    ("村民议事会", "VC-MEETING", "村委会议室", time(19, 30), 2, 15),
]
_CAMPAIGN = ("禁毒禁赌宣传", "ADG-CAMPAIGN", "文化广场", time(9, 0), 2, 20)


@dataclass(order=True)
class _Step:
    at: datetime
    order: int
    run: Callable[[], Any] = field(compare=False)


@dataclass
class _Year:
    demo: Demo
    rules: dict[str, Rule]
    cutoff: datetime
    rng: random.Random
    steps: list[_Step] = field(default_factory=list)

    def story(self, *steps: tuple[datetime, Callable[[], Any]]) -> None:
        """Steps that belong together (a claim and its review): all of them, or none if one is too late."""
        if max(at for at, _run in steps) > self.cutoff:
            return
        for at, run in steps:
            self.steps.append(_Step(at, len(self.steps), run))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), local_zone())


def _months(opened: datetime) -> list[date]:
    first = (opened.date() + timedelta(days=1)).replace(day=1)
    months = []
    while first <= local_today():
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def play_year(demo: Demo, opened: datetime) -> None:
    """Play the months since the village opened, up to a week ago, in time order."""
    rules = {
        r.code: r
        for r in db.session.scalars(select(Rule).where(Rule.village_id == demo.village.id, Rule.active))
    }
    cutoff = datetime.combine(local_today() - timedelta(days=QUIET_DAYS), time(0), local_zone())
    year = _Year(demo, rules, cutoff, random.Random(2026))
    members = {
        h.id: list(db.session.scalars(select(Member).where(Member.household_id == h.id).order_by(Member.id)))
        for h in demo.households
    }
    for index, month in enumerate(_months(opened)):
        _restock(year, month)
        for title, code, place, start, hours, day in _EVENTS:
            _event(year, members, month.replace(day=day), title, code, place, start, hours)
        if index % 2 == 1:
            title, code, place, start, hours, day = _CAMPAIGN
            _event(year, members, month.replace(day=day), title, code, place, start, hours)
        _deeds(year, members, month)
        for season, code, note in _FOUR_EYES:
            if season == index:
                _four_eyes(year, members, month, code, note)
        if index % 2 == 0:
            _deduction(year, month, *_DEDUCTIONS[index // 2 % len(_DEDUCTIONS)])
        _shopping(year, month)
    for step in sorted(year.steps):
        with pinned_time(step.at):
            step.run()


def _who(year: _Year, share: float = 1.0) -> list[int]:
    """Household indexes taking part this time, the keen ones more often."""
    return [i for i in range(1, len(year.demo.households)) if year.rng.random() < _KEENNESS[i] * share]


def _sweep(at: datetime) -> tuple[datetime, Callable[[], Any]]:
    """The cron job five minutes after a notice ends: `post-due`."""
    return at + timedelta(minutes=5), claims.post_due


def _event(
    year: _Year,
    members: dict[int, list[Member]],
    day: date,
    title: str,
    code: str,
    place: str,
    start: time,
    hours: int,
) -> None:
    demo = year.demo
    starts = datetime.combine(day, start, local_zone())
    box: dict[str, int] = {}

    def create() -> None:
        box["id"] = events.create_event(
            demo.admin,
            {
                "village_id": demo.village.id,
                "title": title,
                "rule_id": year.rules[code].id,
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=hours),
                "location": place,
            },
        ).id

    def scan(household_index: int, member: Member) -> Callable[[], Any]:
        household = demo.households[household_index]
        return lambda: events.check_in_with_card(
            demo.clerk, box["id"], household_code=household.code, member_id=member.id
        )

    steps = [(starts - timedelta(days=3), create)]
    for n, index in enumerate(_who(year)):
        household = demo.households[index]
        member = year.rng.choice(members[household.id])
        steps.append((starts + timedelta(minutes=5 + 2 * n), scan(index, member)))
    year.story(*steps)


def _claim(year: _Year, index: int, member: Member, code: str, note: str, day: date, quantity: int = 1):
    demo = year.demo
    villager = db.session.scalar(select(User).where(User.username == demo.villagers[index][0]))
    return claims.create_claim(
        villager,
        {
            "household_id": demo.households[index].id,
            "rule_id": year.rules[code].id,
            "member_id": member.id,
            "quantity": quantity,
            "note": note,
            "occurred_on": day,
        },
    )


def _deeds(year: _Year, members: dict[int, list[Member]], month: date) -> None:
    demo = year.demo
    for code, notes, (low, high) in _DEEDS:
        if code == "MR-GOODDEED" and year.rng.random() < 0.6:
            continue  # good deeds of that kind are rare
        rule = year.rules[code]
        # One claim per household and rule in a month keeps every household under the rule's cap.
        for index in _who(year, 0.45):
            household = demo.households[index]
            member = year.rng.choice(members[household.id])
            day = month.replace(day=year.rng.randint(1, 24))
            quantity = year.rng.randint(low, high)
            note = year.rng.choice(notes)
            filed, reviewed = _at(day, 20), _at(day + timedelta(days=1), 10, year.rng.randint(0, 59))
            box: dict[str, int] = {}

            def file(index=index, member=member, code=code, note=note, day=day, quantity=quantity, box=box):
                box["id"] = _claim(year, index, member, code, note, day, quantity).id

            if code == "VC-PROPOSAL" and year.rng.random() < 0.3:
                steps = [
                    (filed, file),
                    (
                        reviewed,
                        lambda box=box: claims.reject_claim(demo.clerk, box["id"], "议事会未表决采纳"),
                    ),
                ]
            else:
                steps = [
                    (filed, file),
                    (reviewed, lambda box=box: claims.approve_claim(demo.clerk, box["id"])),
                ]
                if rule.notice_days:
                    steps.append(_sweep(reviewed + timedelta(days=rule.notice_days)))
            year.story(*steps)


def _four_eyes(year: _Year, members: dict[int, list[Member]], month: date, code: str, note: str) -> None:
    demo = year.demo
    index = year.rng.choice(range(1, len(demo.households)))
    member = members[demo.households[index].id][0]
    day = month.replace(day=8)
    first, second = _at(day + timedelta(days=1), 10), _at(day + timedelta(days=2), 15)
    box: dict[str, int] = {}

    def file() -> None:
        box["id"] = _claim(year, index, member, code, note, day).id

    year.story(
        (_at(day, 20), file),
        (first, lambda: claims.approve_claim(demo.clerk, box["id"], "已上门核实")),
        (second, lambda: claims.approve_claim(demo.clerk2, box["id"], "同意")),
        _sweep(second + timedelta(days=year.rules[code].notice_days)),
    )


def _deduction(year: _Year, month: date, code: str, note: str) -> None:
    """The clerk records a covenant deduction; the admin approves it (the clerk filed it)."""
    demo = year.demo
    index = year.rng.choice([9, 10, 11, 7])
    day = month.replace(day=10)
    box: dict[str, int] = {}

    def file() -> None:
        box["id"] = claims.create_claim(
            demo.clerk,
            {
                "household_id": demo.households[index].id,
                "rule_id": year.rules[code].id,
                "note": note,
                "occurred_on": day,
            },
        ).id

    approved = _at(day + timedelta(days=1), 9, 30)
    year.story(
        (_at(day, 16), file),
        (approved, lambda: claims.approve_claim(demo.admin, box["id"], "有照片为证")),
        _sweep(approved + timedelta(days=year.rules[code].notice_days)),
    )


def _restock(year: _Year, month: date) -> None:
    """Goods delivered on the 2nd: each shelf back to its opening stock."""
    demo = year.demo

    def deliver() -> None:
        from .shop.cli import DEMO_GOODS

        opening = {name: stock for name, _unit, _price, stock, _limit in DEMO_GOODS}
        for item in _items(demo):
            missing = opening.get(item.name, 0) - item.stock
            if missing > 0:
                shop.restock(demo.shopkeeper, demo.shop.id, item.id, missing, "月初到货")

    year.story((_at(month.replace(day=2), 9), deliver))


def _items(demo: Demo) -> list[ShopItem]:
    return list(
        db.session.scalars(select(ShopItem).where(ShopItem.shop_id == demo.shop.id).order_by(ShopItem.id))
    )


def _shopping(year: _Year, month: date) -> None:
    """Around the 25th, households spend part of what they have on rice, oil and everyday goods."""
    demo = year.demo
    for n, index in enumerate(_who(year, 0.8)):
        household = demo.households[index]
        share = year.rng.uniform(0.4, 0.8)

        def buy(household=household, share=share) -> None:
            budget = int(ledger.household_balance(household.id) * share)
            lines = []
            for item in _items(demo):
                if item.price_points <= budget and item.stock > 0 and year.rng.random() < 0.6:
                    lines.append({"item_id": item.id, "quantity": 1})
                    budget -= item.price_points
            if lines:
                shop.redeem(
                    demo.shopkeeper,
                    shop_id=demo.shop.id,
                    household_id=household.id,
                    lines=lines,
                    idempotency_key=f"demo:{month:%Y-%m}:{household.id}",
                )

        year.story((_at(month.replace(day=25), 9, 2 * n), buy))
