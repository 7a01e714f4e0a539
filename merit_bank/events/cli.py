"""The demo events seeded by `seed-demo`: one with a printed code, one rotating, one counted by the hour."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from .. import demo as demo_module
from ..clock import local_zone
from ..extensions import db
from ..rules.models import Rule
from . import services, tokens


def seed_demo_events(demo: demo_module.Demo) -> None:
    """Events open all day today, so a demo visitor can scan and check in at once."""
    query = select(Rule).where(Rule.village_id == demo.village.id, Rule.active.is_(True))
    rules = {r.code: r for r in db.session.scalars(query)}
    wanted = [
        ("河道清理志愿活动", "VOL-CLEAN", "村口河道", None, False),
        ("村民议事会：修缮村口水渠", "VC-MEETING", "村委会议室", 60, True),
        ("敬老院探访陪伴", "VOL-HOUR", "镇敬老院", None, False),
    ]
    if any(code not in rules for _title, code, _where, _cap, _rotating in wanted):
        return  # the rulebook was not seeded (another domain missing): no events to make
    zone = local_zone()
    today = tokens.now().astimezone(zone).date()
    starts = datetime.combine(today, time(0, 0), zone)
    created = []
    for title, code, where, capacity, rotating in wanted:
        created.append(
            services.create_event(
                demo.admin,
                {
                    "village_id": demo.village.id,
                    "title": title,
                    "rule_id": rules[code].id,
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=23, minutes=59),
                    "location": where,
                    "capacity": capacity,
                    "rotating": rotating,
                },
            )
        )
    first = created[0]
    demo.notes.append(
        f"Events: {len(created)} open today; the clerk's screen is /events/{first.id}, the card scanner "
        f"/events/{first.id}/scan, and villagers check in at /c/{tokens.static_token(first.id)}"
    )
