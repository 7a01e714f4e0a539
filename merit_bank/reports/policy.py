"""Who reads the reports, who compares villages and who publishes the 红黑榜: asked by services and pages."""

from __future__ import annotations

from ..auth import policy as auth
from ..auth.models import User


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
