"""Creating and reading villages and their groups."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..auth.models import User
from ..auth.scope import ensure_village, visible_village_ids
from ..database import transaction
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from . import policy
from .models import Village, VillageGroup
from .ordering import sort_groups


def create_village(actor: User, data: dict[str, Any]) -> Village:
    """A new village with its ledger accounts; only a deployment-wide admin may add one."""
    from ..ledger import services as ledger

    policy.ensure_creates_villages(actor)
    code = data["code"].strip().upper()
    if not data["name"].strip():
        raise ValidationFailed(detail=_l("Required."), errors={"name": [_l("Required.")]})
    groups = [name.strip() for name in data.get("groups") or []]
    seen: set[str] = set()
    for index, name in enumerate(groups):
        # Names are stored stripped: a blank one, or one given twice (which the unique index would turn
        # into a 500), is the client's mistake.
        if not name:
            raise ValidationFailed(detail=_l("Required."), errors={"groups": {index: [_l("Required.")]}})
        if name in seen:
            message = _l("Group %(name)s already exists in this village.", name=name)
            raise ValidationFailed(detail=message, errors={"groups": {index: [message]}})
        seen.add(name)
    with transaction():
        if db.session.scalar(select(Village.id).where(Village.code == code)) is not None:
            raise DomainError("village-code-taken", _l("Village code %(code)s is already in use.", code=code))
        village = Village(name=data["name"].strip(), code=code)
        if "point_value_fen" in data:
            village.point_value_fen = data["point_value_fen"]
        db.session.add(village)
        db.session.flush()
        for name in groups:
            db.session.add(VillageGroup(village_id=village.id, name=name))
        ledger.open_village_accounts(village_id=village.id)
    return village


def list_villages(actor: User):
    query = select(Village).order_by(Village.id)
    ids = visible_village_ids(actor)
    if ids is not None:
        query = query.where(Village.id.in_(ids))
    return query


def get_village(actor: User, village_id: int) -> Village:
    ensure_village(actor, village_id)
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound("not-found", _l("No such village."))
    return village


def update_village(actor: User, village_id: int, data: dict[str, Any]) -> Village:
    from . import regions

    village = get_village(actor, village_id)
    if "region_id" in data:
        village = regions.place_village(actor, village_id, data["region_id"])
        data = {key: value for key, value in data.items() if key != "region_id"}
        if not data:
            return village
    policy.ensure_changes_village(actor)
    tags = _checked_tag_list(data["member_tags"]) if "member_tags" in data else None
    if tags is not None:
        policy.ensure_edits_member_tags(actor, village.id)
    with transaction():
        for field in (
            "name",
            "point_value_fen",
            "publish_rankings",
            "late_entry_days",
            "expiry_years",
            "expiry_day",
        ):
            if field in data:
                setattr(village, field, data[field])
        if tags is not None:
            _set_tag_list(village, tags)
    return village


def set_member_tags(actor: User, village_id: int, tags: list[str]) -> Village:
    """Replace a village's list of member tags (the villages page's form)."""
    village = get_village(actor, village_id)
    policy.ensure_edits_member_tags(actor, village.id)
    checked = _checked_tag_list(tags)
    with transaction():
        _set_tag_list(village, checked)
    return village


def _checked_tag_list(tags: list[str]) -> list[str]:
    checked: list[str] = []
    for index, raw in enumerate(tags):
        tag = raw.strip()
        if not tag:
            raise ValidationFailed(detail=_l("Required."), errors={"member_tags": {index: [_l("Required.")]}})
        if len(tag) > 20:
            message = _l("At most %(n)d characters.", n=20)
            raise ValidationFailed(detail=message, errors={"member_tags": {index: [message]}})
        if tag in checked:
            message = _l("Tag %(tag)s is listed twice.", tag=tag)
            raise ValidationFailed(detail=message, errors={"member_tags": {index: [message]}})
        checked.append(tag)
    if len(checked) > 30:
        message = _l("At most %(n)d tags.", n=30)
        raise ValidationFailed(detail=message, errors={"member_tags": [message]})
    return checked


def _set_tag_list(village: Village, tags: list[str]) -> None:
    """Inside a transaction: the new list, and a tag taken off it taken off the village's members too."""
    from ..households.models import Household, Member

    removed = set(village.tag_list) - set(tags)
    village.member_tags = tags
    if not removed:
        return
    members = db.session.scalars(
        select(Member)
        .join(Household, Household.id == Member.household_id)
        .where(Household.village_id == village.id)
    )
    for member in members:
        if removed & set(member.tag_list):
            # A new list, not the old one changed in place: a JSON column notices only assignment.
            member.tags = [t for t in member.tag_list if t not in removed]


def add_group(actor: User, village_id: int, name: str, position: int | None = None) -> VillageGroup:
    village = get_village(actor, village_id)
    policy.ensure_keeps_groups(actor)
    name = name.strip()
    if not name:
        raise ValidationFailed(detail=_l("Required."), errors={"name": [_l("Required.")]})
    with transaction():
        exists = db.session.scalar(
            select(VillageGroup.id).where(VillageGroup.village_id == village.id, VillageGroup.name == name)
        )
        if exists is not None:
            raise DomainError("group-exists", _l("Group %(name)s already exists in this village.", name=name))
        group = VillageGroup(village_id=village.id, name=name, position=position)
        db.session.add(group)
        db.session.flush()
    return group


def update_group(actor: User, village_id: int, group_id: int, data: dict[str, Any]) -> VillageGroup:
    """Rename a group or set its place in the village's order (None: by its name)."""
    village = get_village(actor, village_id)
    policy.ensure_keeps_groups(actor)
    group = db.session.get(VillageGroup, group_id)
    if group is None or group.village_id != village.id:
        raise NotFound("not-found", _l("No such villager group."))
    with transaction():
        if "name" in data:
            name = data["name"].strip()
            if not name:
                raise ValidationFailed(detail=_l("Required."), errors={"name": [_l("Required.")]})
            taken = db.session.scalar(
                select(VillageGroup.id).where(
                    VillageGroup.village_id == village.id,
                    VillageGroup.name == name,
                    VillageGroup.id != group.id,
                )
            )
            if taken is not None:
                raise DomainError(
                    "group-exists", _l("Group %(name)s already exists in this village.", name=name)
                )
            group.name = name
        if "position" in data:
            group.position = data["position"]
    return group


def set_group_positions(actor: User, village_id: int, positions: dict[int, int | None]) -> Village:
    """Set the places of several groups at once (the villages page's order form)."""
    village = get_village(actor, village_id)
    policy.ensure_keeps_groups(actor)
    groups = {g.id: g for g in village.groups}
    unknown = [gid for gid in positions if gid not in groups]
    if unknown:
        raise NotFound("not-found", _l("No such villager group."))
    with transaction():
        for group_id, position in positions.items():
            groups[group_id].position = position
    return village


def groups_in_order(village_id: int) -> list[VillageGroup]:
    """A village's groups in its own order."""
    return sort_groups(db.session.scalars(select(VillageGroup).where(VillageGroup.village_id == village_id)))


def group_ranks(village_ids: list[int] | None = None) -> dict[int, int]:
    """{group id: its place in its village's order}, for ordering rows (households, cards) in SQL."""
    query = select(VillageGroup)
    if village_ids is not None:
        query = query.where(VillageGroup.village_id.in_(village_ids))
    by_village: dict[int, list[VillageGroup]] = {}
    for group in db.session.scalars(query):
        by_village.setdefault(group.village_id, []).append(group)
    return {g.id: index for groups in by_village.values() for index, g in enumerate(sort_groups(groups))}
