"""`seed-demo`: a demo village with groups, households, staff and villager logins, and a year of its life.

The village opens a year ago: then the core and the setup seeders (the rulebook, the shop's goods) are
made, on that day's clock; demo_history.py plays the year forward through the real services; then the
seeders add today's state (claims in every state, events open today). create_app names both lists
(`configure`); each seeder gets the Demo record and runs inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .auth.models import COUNCILS, User
from .auth.services import hash_password
from .clock import local_today, local_zone
from .database import pinned_time, transaction
from .extensions import db
from .households import identity
from .households.models import Household, Member
from .households.services import _new_code
from .shop.models import Shop
from .villages.models import Village, VillageGroup

DEMO_VILLAGE_CODE = "XINGFU"
ADMIN = ("admin", "admin-demo-2026")
CLERK = ("clerk", "clerk-demo-2026")
# A second reviewer, so that rules needing two approvals (four-eyes) can be tried.
CLERK2 = ("clerk2", "clerk2-demo-2026")
SHOPKEEPER = ("shopkeeper", "shop-demo-2026")
VILLAGER_PIN = "246810"

_HOUSEHOLDS = [
    ("王建国", "一组", "李秀英"),
    ("李德明", "一组", "张桂兰"),
    ("张志强", "一组", "刘美华"),
    ("刘长顺", "一组", "陈玉梅"),
    ("陈永福", "二组", "杨淑芬"),
    ("杨国庆", "二组", "黄丽娟"),
    ("赵春生", "二组", "周翠花"),
    ("黄宝山", "二组", "吴秀兰"),
    ("周德胜", "三组", "徐红梅"),
    ("吴海涛", "三组", "孙凤英"),
    ("徐立新", "三组", "马兰芳"),
    ("孙有财", "三组", "朱桂香"),
]


@dataclass
class Demo:
    village: Village
    admin: User
    clerk: User
    clerk2: User
    shopkeeper: User
    shop: Shop
    households: list[Household]
    villagers: list[tuple[str, str, str]] = field(default_factory=list)  # (phone, PIN, name)
    notes: list[str] = field(default_factory=list)


def configure(
    app: Flask,
    *,
    setup_seeders: Sequence[Callable[[Demo], None]],
    seeders: Sequence[Callable[[Demo], None]],
) -> None:
    """The domains' demo seeders (create_app): `setup_seeders` run on the day the village opened, before
    its year of history (what the history needs: rules, goods); `seeders` run last, on today's clock."""
    app.extensions["merit_bank.demo_seeders"] = (tuple(setup_seeders), tuple(seeders))


def opening_day() -> datetime:
    """When the demo village opened: 08:00 on the last day before the dashboard's twelve months."""
    first = local_today().replace(day=1)
    for _ in range(11):
        first = (first - timedelta(days=1)).replace(day=1)
    return datetime.combine(first - timedelta(days=1), time(8, 0), local_zone())


def _user(username: str, password: str, role: str, **kwargs) -> User:
    user = User(username=username, password_hash=hash_password(password), role=role, **kwargs)
    db.session.add(user)
    return user


def seed_demo() -> Demo:
    """Create the demo village once; running it again changes nothing."""
    from . import demo_history

    opened = opening_day()
    with transaction():
        if db.session.scalar(select(Village.id).where(Village.code == DEMO_VILLAGE_CODE)) is not None:
            raise click.ClickException("The demo village already exists; nothing to do.")
        setup_seeders, seeders = current_app.extensions["merit_bank.demo_seeders"]
        with pinned_time(opened):
            demo = _open_village()
            for seeder in setup_seeders:
                seeder(demo)
        demo_history.play_year(demo, opened)
        for seeder in seeders:
            seeder(demo)
    return demo


def _open_village() -> Demo:
    """The village, its groups, shop, staff and households with their logins and accounts."""
    from .ledger import services as ledger

    village = Village(name="幸福村", code=DEMO_VILLAGE_CODE, point_value_fen=10)
    db.session.add(village)
    db.session.flush()
    ledger.open_village_accounts(village_id=village.id)
    groups = {name: VillageGroup(village_id=village.id, name=name) for name in ("一组", "二组", "三组")}
    db.session.add_all(groups.values())
    shop = Shop(village_id=village.id, name="幸福村积分超市")
    db.session.add(shop)
    db.session.flush()
    admin = db.session.scalar(select(User).where(User.username == ADMIN[0]))
    if admin is None:
        admin = _user(*ADMIN, "admin", councils=[], display_name="系统管理员")
    clerk = _user(*CLERK, "clerk", village_id=village.id, councils=list(COUNCILS), display_name="村文书")
    clerk2 = _user(
        *CLERK2, "clerk", village_id=village.id, councils=list(COUNCILS), display_name="村务监督委员"
    )
    shopkeeper = _user(*SHOPKEEPER, "shopkeeper", village_id=village.id, shop_id=shop.id, councils=[])
    households = []
    villagers = []
    for index, (head, group, spouse) in enumerate(_HOUSEHOLDS, start=1):
        household = Household(
            village_id=village.id,
            code=_new_code(),
            head_name=head,
            group_id=groups[group].id,
            address=f"幸福村{group}{index}号",
        )
        db.session.add(household)
        phone = f"1380000{index:04d}"
        number = identity.with_check_digit(f"3301021960{index:02d}0101{index:02d}"[:17])
        head_member = Member(
            household=household,
            name=head,
            phone=phone,
            relation="户主",
            **identity.protect(number),
        )
        db.session.add_all([head_member, Member(household=household, name=spouse, relation="配偶")])
        db.session.flush()
        ledger.open_household_account(village_id=village.id, household_id=household.id)
        _user(phone, VILLAGER_PIN, "villager", village_id=village.id, member_id=head_member.id, councils=[])
        households.append(household)
        villagers.append((phone, VILLAGER_PIN, head))
    db.session.flush()
    return Demo(village, admin, clerk, clerk2, shopkeeper, shop, households, villagers)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo village 幸福村 with staff and villager logins, and print the logins."""
    demo = seed_demo()
    click.echo(
        f"Demo village {demo.village.name} ({demo.village.code}) with {len(demo.households)} households."
    )
    click.echo("Logins (username / password):")
    click.echo(f"  admin       {ADMIN[0]} / {ADMIN[1]}")
    click.echo(f"  clerk       {CLERK[0]} / {CLERK[1]}")
    click.echo(f"  clerk       {CLERK2[0]} / {CLERK2[1]}  (the second reviewer of two-approval rules)")
    click.echo(f"  shopkeeper  {SHOPKEEPER[0]} / {SHOPKEEPER[1]}")
    for phone, pin, name in demo.villagers[:3]:
        click.echo(f"  villager    {phone} / {pin}  ({name})")
    click.echo(f"  ... and {len(demo.villagers) - 3} more villagers 13800000004-13800000012, same PIN")
    for note in demo.notes:
        click.echo(note)
