"""Who reads the reports, who compares villages and who publishes the 红黑榜: asked by services and pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..auth import policy as auth
from ..auth.models import User
from ..errors import Forbidden


def reads_reports(actor: User) -> bool:
    """Dashboards, rankings and exports of a village: its admins and clerks."""
    return auth.reads_as_staff(actor)


def ensure_reads_reports(actor: User) -> None:
    auth.require_role(actor, *auth.STAFF, auth.SUPERVISOR)


def keeps_register(actor: User) -> bool:
    """The roster import and the printable household cards (credentials): admins and clerks, no supervisor."""
    return auth.is_staff(actor)


def compares_villages(actor: User) -> bool:
    """The county view of every village in scope: admins, and supervisors over their region."""
    return auth.is_admin(actor) or auth.is_supervisor(actor)


def ensure_compares_villages(actor: User) -> None:
    auth.require_role(actor, auth.ADMIN, auth.SUPERVISOR)


def publishes_board(actor: User) -> bool:
    """Showing the 红黑榜 on the public board is the village's choice, made by its admins."""
    return auth.is_admin(actor)


def sees_members_by_name(actor: User, village_id: int) -> bool:
    """Who did not take part, and the party-member sheet, name people: the village's own admins and clerks
    only (not a county admin, not a villager, never the public board)."""
    return auth.is_staff(actor) and actor.village_id is not None and actor.village_id == village_id


def ensure_sees_members_by_name(actor: User, village_id: int) -> None:
    if not sees_members_by_name(actor, village_id):
        raise Forbidden("forbidden", _l("Only the village's own staff see who did not take part."))
