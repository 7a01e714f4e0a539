"""Command line of claims: `post-due` (for cron) and the demo claims seeded by `seed-demo`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import demo as demo_module
from ..auth.models import User
from ..clock import local_today, local_zone
from ..database import pinned_time, utcnow
from ..extensions import db
from ..rules.models import Rule
from . import services


@click.command("post-due")
@with_appcontext
def post_due_command() -> None:
    """Post every claim whose public notice ended unopposed; safe from cron and when two runs overlap."""
    result = services.post_due()
    click.echo(
        f"Posted {len(result['posted'])} claim(s); refused {len(result['refused'])} over their monthly cap; "
        f"{len(result['failed'])} failed."
    )
    for item in result["refused"]:
        click.echo(f"  refused claim {item['id']}: {item['type']}")
    for item in result["failed"]:
        click.echo(f"  failed claim {item['id']}: {item['type']} {item['detail']}", err=True)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), local_zone())


def seed_demo_claims(demo: demo_module.Demo) -> None:
    """Today's claims in the demo village, in every state of the workflow."""
    query = select(Rule).where(Rule.village_id == demo.village.id, Rule.active.is_(True))
    rules = {r.code: r for r in db.session.scalars(query)}
    phones = [phone for phone, _pin, _name in demo.villagers]
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(phones)))}
    villagers = [users[p] for p in phones]
    homes = demo.households
    today = local_today()

    def claim(index: int, code: str, note: str, days_ago: int = 1, quantity: int = 1):
        villager = villagers[index]
        return services.create_claim(
            villager,
            {
                "household_id": homes[index].id,
                "rule_id": rules[code].id,
                "member_id": villager.member_id,
                "quantity": quantity,
                "note": note,
                "occurred_on": local_today() - timedelta(days=days_ago),
            },
        )

    # Due: its public notice ended two days ago and nothing has posted it yet, so the review page's
    # button (or cron's `post-due`) posts it.
    with pinned_time(_at(today - timedelta(days=6), 20)):
        due = claim(3, "VOL-ELDER", "帮独居的周大爷收玉米、修院墙")
    with pinned_time(_at(today - timedelta(days=5), 10)):
        services.approve_claim(demo.clerk, due.id, "村民小组长已核实")

    # Posted at once: check-ins at an organised volunteering day (the first household is left
    # untouched, so a new demo visitor logging in as 13800000001 starts from zero).
    for index in range(1, 4):
        services.create_claim_for_checkin(
            household_id=homes[index].id,
            member_id=villagers[index].member_id,
            rule_id=rules["VOL-EACH"].id,
            quantity=1,
            occurred_at=utcnow() - timedelta(days=2),
            actor_id=villagers[index].id,
            source_key=f"demo:vol-day:{homes[index].id}",
        )
    # Waiting for review.
    claim(4, "VOL-ELDER", "帮助五保户张奶奶打扫卫生、买米买油")
    claim(5, "VOL-HOUR", "村小学门口护学岗", quantity=2)
    # Under public notice.
    in_notice = claim(6, "VOL-FLOOD", "参加7月防汛值守两晚", days_ago=3)
    services.approve_claim(demo.clerk, in_notice.id, "值班表已核实")
    # One of two approvals given.
    wedding = claim(7, "WF-WEDDING", "儿子婚事新办，未收高价彩礼，酒席不超过10桌", days_ago=5)
    services.approve_claim(demo.clerk, wedding.id, "红白理事会已上门了解")
    # Needs two approvals and no notice: posts when the second clerk approves.
    claim(2, "ADG-DRUG", "向村禁毒禁赌会举报出租屋内有人吸毒，已由派出所查实", days_ago=2)
    # Rejected with a reason.
    proposal = claim(8, "VC-PROPOSAL", "建议修村口水渠", days_ago=6)
    services.reject_claim(demo.clerk, proposal.id, "该建议尚未经村民议事会表决采纳，采纳后再申报")
    # Disputed: a neighbour objected during the notice.
    deed = claim(9, "MR-GOODDEED", "在村道上拾到钱包归还失主", days_ago=4)
    services.approve_claim(demo.clerk, deed.id)
    services.object_to_claim(villagers[10], deed.id, "失主是其亲戚，钱包是托其保管的，并非拾到")
    # A covenant deduction recorded by the clerk and approved by the admin: now under notice.
    deduction = services.create_claim(
        demo.clerk,
        {
            "household_id": homes[11].id,
            "rule_id": rules["COV-GARBAGE"].id,
            "note": "在河道边倾倒建筑垃圾，经劝阻未清理",
            "occurred_on": today - timedelta(days=1),
        },
    )
    services.approve_claim(demo.admin, deduction.id, "有照片为证")
    demo.notes.append(
        f"Rules: {len(rules)} default rules. Claims in every state: pending, approved, in notice, "
        "rejected, disputed, posted; a year of history."
    )
    demo.notes.append(
        f"Claim {due.id}: its public notice has ended; post it with the button on /claims/review "
        "(or `flask --app merit_bank post-due`, which cron runs)."
    )
    demo.notes.append(f"Public notice board (no login): /board/{demo.village.code}")


commands = [post_due_command]
