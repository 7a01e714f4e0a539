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
    village = get_village(actor, village_id)
    policy.ensure_changes_village(actor)
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
    return village


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
