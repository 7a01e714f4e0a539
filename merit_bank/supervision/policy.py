"""Who reads the flags and marks them checked, and whose households count as staff's: asked by services.

Supervision is read-only over its villages, with one write of its own: marking a flag checked with a note.
Out of scope reads as absent (404), as everywhere else.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement

from ..auth import policy as auth
from ..auth.models import User
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..villages.models import Region
from ..villages.regions import village_ids_in_region

# The village's people whose families the flags watch: they keep households, review claims, run the shop.
VILLAGE_STAFF = (auth.ADMIN, auth.CLERK, auth.SHOPKEEPER)


def is_supervisor(actor: User) -> bool:
    return auth.is_supervisor(actor) and actor.region_id is not None


def supervises(actor: User) -> bool:
    """The supervision page and API: supervisors (their region's villages) and deployment admins (all)."""
    return auth.is_deployment_admin(actor) or is_supervisor(actor)


def ensure_supervises(actor: User) -> None:
    if not supervises(actor):
        raise Forbidden("forbidden", _l("Your role may not do this."))


def supervised_village_ids(actor: User) -> list[int] | None:
    """The villages the actor supervises; None means every village of the deployment."""
    ensure_supervises(actor)
    if auth.is_deployment_admin(actor):
        return None
    return village_ids_in_region(actor.region_id)  # type: ignore[arg-type]


def supervises_region(actor: User, region_id: int) -> bool:
    """A deployment admin any region; a supervisor their own, and the townships of their county."""
    if not supervises(actor):
        return False
    region = db.session.get(Region, region_id)
    if region is None:
        return False
    if auth.is_deployment_admin(actor):
        return True
    return actor.region_id in (region.id, region.parent_id)


def ensure_supervises_region(actor: User, region_id: int) -> list[int]:
    """The villages of a region the actor supervises; another region is as absent as a missing one."""
    ensure_supervises(actor)
    if not supervises_region(actor, region_id):
        raise NotFound("not-found", _l("No such region."))
    return village_ids_in_region(region_id)


def supervises_village(actor: User, village_id: int) -> bool:
    if not supervises(actor):
        return False
    ids = supervised_village_ids(actor)
    return ids is None or village_id in ids


def ensure_supervises_village(actor: User, village_id: int | None) -> None:
    """A flag, a transaction or a village out of the actor's supervision is as absent as a missing one."""
    ensure_supervises(actor)
    if village_id is None or not supervises_village(actor, village_id):
        raise NotFound("not-found", _l("No such village."))


def checks_flags(actor: User) -> bool:
    """Marking a flag checked (with a note) is the supervisor's own record; everyone who reads flags may."""
    return supervises(actor)


def village_staff_roles() -> ColumnElement[bool]:
    """The same rule as is_village_staff, as a filter for a query of users."""
    return User.role.in_(VILLAGE_STAFF)


def is_village_staff(user: User) -> bool:
    """Admins, clerks and shopkeepers of a village (not a deployment admin): their households are watched."""
    return user.village_id is not None and user.role in VILLAGE_STAFF


def reviews_council(user: User, council: str) -> bool:
    """A person who could have reviewed a council's claims (an admin or a clerk of the council)."""
    return user.village_id is not None and auth.serves_council(user, council)
