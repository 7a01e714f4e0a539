"""the scope rules of API.md live in auth/policy.py; re-exported here for old imports."""

from __future__ import annotations

from flask_jwt_extended import current_user as _jwt_current_user

from .models import User
from .policy import (
    can_see_village,
    ensure_manages_village,
    ensure_village,
    is_deployment_admin,
    require_role,
    visible_village_ids,
)

__all__ = [
    "can_see_village",
    "current_user",
    "ensure_manages_village",
    "ensure_village",
    "is_deployment_admin",
    "require_role",
    "visible_village_ids",
]


def current_user() -> User:
    return _jwt_current_user  # type: ignore[return-value]
