"""HTML of points expiry: the admins' page (setting, announce, preview, run); the board's and villagers'
notices."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from .. import web
from ..errors import DomainError, ValidationFailed
from ..households.models import Household
from ..villages import services as village_services
from ..villages.models import Village
from ..villages.schemas import VillageUpdateSchema
from . import policy, services

bp = Blueprint("expiry", __name__, url_prefix="/expiry")


def nav(user) -> list[dict[str, str]]:
    if policy.manages_expiry(user) and user.village_id:
        return [{"url": url_for("expiry.page", village_id=user.village_id), "label": _("Points expiry")}]
    return []


def template_globals() -> dict[str, Any]:
    def expiry_notices(household: Household) -> list[dict[str, Any]]:
        return services.household_notices(household.village_id, household.id)

    def expiry_board(village: Village) -> list[Any]:
        return services.pending(village.id)

    return {"expiry_notices": expiry_notices, "expiry_board": expiry_board}


def _parse_day(raw: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            detail=_("A date as YYYY-MM-DD."), errors={"expires_on": [_("A date as YYYY-MM-DD.")]}
        ) from None


@bp.route("/<int:village_id>", methods=["GET", "POST"])
@web.login_required(policy.manages_expiry)
def page(village_id: int):
    """Set how long points last, announce an expiry 30+ days ahead, see who loses what, run it."""
    errors: dict[str, Any] = {}
    result = None
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "settings":
                years = web.form_int(request.form.get("expiry_years"))
                data = VillageUpdateSchema().load(
                    {"expiry_years": years, "expiry_day": request.form.get("expiry_day", "").strip()}
                )
                policy.ensure_manages_expiry(g.user, village_id)
                village_services.update_village(g.user, village_id, data)
                return redirect(url_for("expiry.page", village_id=village_id))
            if action == "announce":
                services.announce(g.user, village_id, _parse_day(request.form.get("expires_on", "")))
                return redirect(url_for("expiry.page", village_id=village_id))
            if action == "run":
                announcement_id = web.form_int(request.form.get("announcement_id"))
                if not isinstance(announcement_id, int):
                    raise ValidationFailed(errors={"announcement_id": [_("Required.")]})
                result = services.run_announced(g.user, village_id, announcement_id)
        except (ValidationError, DomainError) as exc:
            errors = web.form_errors(exc)
    overview = services.overview(g.user, village_id)
    previews = {
        a.id: services.preview(g.user, village_id, a.id)
        for a in overview["announcements"]
        if a.run_at is None
    }
    village = village_services.get_village(g.user, village_id)
    return render_template(
        "expiry/page.html",
        village=village,
        overview=overview,
        previews=previews,
        result=result,
        errors=errors,
    ), (422 if errors else 200)
