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
    with transaction():
        for field in ("name", "point_value_fen", "publish_rankings", "late_entry_days"):
            if field in data:
                setattr(village, field, data[field])
    return village


def add_group(actor: User, village_id: int, name: str) -> VillageGroup:
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
        group = VillageGroup(village_id=village.id, name=name)
        db.session.add(group)
        db.session.flush()
    return group
