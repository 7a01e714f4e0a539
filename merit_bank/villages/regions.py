"""Regions above villages (county → township) and which villages a region covers."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from .models import COUNTY, TOWNSHIP, Region, Village


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
