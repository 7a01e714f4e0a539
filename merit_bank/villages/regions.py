"""Regions above villages (county → township) and which villages a region covers."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..auth import policy
from ..auth.models import User
from ..database import transaction
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from .models import COUNTY, REGION_KINDS, TOWNSHIP, Region, Village


def village_ids_in_region(region_id: int) -> list[int]:
    """The villages of a township, or of every township of a county; [] for an unknown region."""
    region = db.session.get(Region, region_id)
    if region is None:
        return []
    if region.kind == TOWNSHIP:
        query = select(Village.id).where(Village.region_id == region.id)
    elif region.kind == COUNTY:
        townships = select(Region.id).where(Region.parent_id == region.id, Region.kind == TOWNSHIP)
        query = select(Village.id).where(Village.region_id.in_(townships))
    else:
        return []
    return list(db.session.scalars(query.order_by(Village.id)))


def list_regions(actor: User) -> list[Region]:
    """Every region, counties before their townships: for deployment admins and supervisors."""
    policy.ensure_reads_regions(actor)
    return list(
        db.session.scalars(select(Region).order_by(Region.kind, Region.parent_id, Region.name, Region.id))
    )


def region_names() -> dict[int, str]:
    return {region.id: region.name for region in db.session.scalars(select(Region))}


def create_region(actor: User, data: dict[str, Any]) -> Region:
    """A county (no parent) or a township (in a county); names are unique within their parent."""
    policy.ensure_manages_regions(actor)
    name = data["name"].strip()
    kind = data["kind"]
    parent_id = data.get("parent_id")
    if not name:
        raise ValidationFailed(detail=_l("Required."), errors={"name": [_l("Required.")]})
    if kind not in REGION_KINDS:
        message = _l("One of %(kinds)s.", kinds=", ".join(REGION_KINDS))
        raise ValidationFailed(detail=message, errors={"kind": [message]})
    if kind == COUNTY and parent_id is not None:
        message = _l("A county has no parent region.")
        raise ValidationFailed(detail=message, errors={"parent_id": [message]})
    if kind == TOWNSHIP:
        parent = db.session.get(Region, parent_id) if parent_id is not None else None
        if parent is None or parent.kind != COUNTY:
            message = _l("A township belongs to a county: give the county's id.")
            raise ValidationFailed(detail=message, errors={"parent_id": [message]})
    with transaction():
        same_parent = Region.parent_id.is_(None) if parent_id is None else Region.parent_id == parent_id
        taken = db.session.scalar(select(Region.id).where(same_parent, Region.name == name))
        if taken is not None:
            message = _l("%(name)s already exists here.", name=name)
            raise ValidationFailed(detail=message, errors={"name": [message]})
        region = Region(name=name, kind=kind, parent_id=parent_id)
        db.session.add(region)
        db.session.flush()
    return region


def place_village(actor: User, village_id: int, region_id: int | None) -> Village:
    """Move a village into a township (or out of every region, with None): deployment-wide admins."""
    policy.ensure_manages_regions(actor)
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound("not-found", _l("No such village."))
    if region_id is not None:
        region = db.session.get(Region, region_id)
        if region is None or region.kind != TOWNSHIP:
            message = _l("A village belongs to a township: give the township's id.")
            raise ValidationFailed(detail=message, errors={"region_id": [message]})
    with transaction():
        village.region_id = region_id
    return village
