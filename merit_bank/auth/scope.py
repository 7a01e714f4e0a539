"""Who may see what: the scope rules of API.md in one place, used by every domain's services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_jwt_extended import current_user as _jwt_current_user

from ..errors import Forbidden, NotFound
from .models import User


def current_user() -> User:
    return _jwt_current_user  # type: ignore[return-value]


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden("forbidden", _l("Your role may not do this."))


def is_deployment_admin(user: User) -> bool:
    return user.role == "admin" and user.village_id is None


def visible_village_ids(user: User) -> list[int] | None:
    """None means every village; otherwise the villages the user's lists may show."""
    if is_deployment_admin(user):
        return None
    return [user.village_id] if user.village_id is not None else []


def can_see_village(user: User, village_id: int) -> bool:
    ids = visible_village_ids(user)
    return ids is None or village_id in ids


def ensure_village(user: User, village_id: int) -> None:
    """Out of scope looks exactly like absent, so a caller learns nothing of other villages."""
    if not can_see_village(user, village_id):
        raise NotFound("not-found", _l("No such village."))


def ensure_manages_village(user: User, village_id: int, *, clerks: bool = True) -> None:
    """Admins of the village (or of the deployment) and, where allowed, its clerks."""
    ensure_village(user, village_id)
    allowed = ("admin", "clerk") if clerks else ("admin",)
    require_role(user, *allowed)
