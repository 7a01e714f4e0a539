"""Who may read the rulebook and who changes it: asked by the service, the API and the pages."""

from __future__ import annotations

from ..auth import policy as auth
from ..auth.models import User
from ..errors import Forbidden
from ..i18n import request_gettext as _


def reads_rulebook(actor: User) -> bool:
    """The rule pages: the village's staff, and supervisors; anyone logged in lists rules by API."""
    return auth.reads_as_staff(actor)


def manages_rules(actor: User) -> bool:
    """Admins add, change and retire rules (a village admin those of their village)."""
    return auth.is_admin(actor)


def can_manage_rule(actor: User, village_id: int | None) -> bool:
    """Admins manage their village's rules; only a deployment admin manages deployment-wide ones."""
    if not manages_rules(actor):
        return False
    if village_id is None:
        return auth.is_deployment_admin(actor)
    return auth.can_see_village(actor, village_id)


def ensure_can_manage_rule(actor: User, village_id: int | None) -> None:
    auth.require_role(actor, auth.ADMIN)
    if village_id is None:
        if not auth.is_deployment_admin(actor):
            raise Forbidden(
                "forbidden", _("Only a deployment administrator may change deployment-wide rules.")
            )
    else:
        auth.ensure_village(actor, village_id)
