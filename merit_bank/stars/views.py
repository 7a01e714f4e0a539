"""Pages of the 星级文明户: the preview with the village's settings, publishing, and the published lists."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from ..clock import local_today
from ..errors import DomainError
from ..form_errors import form_errors
from ..inputs import parse_id
from ..labels import COUNCILS, council_label
from ..reports import services as report_services
from ..web import login_required
from . import policy, services
from .models import MAX_STARS
from .schemas import PublishSchema, SettingsSchema

bp = Blueprint("stars", __name__)


def nav(user) -> list[dict[str, str]]:
    if not policy.previews_stars(user):
        return []
    return [{"url": url_for("stars.page"), "label": str(_l("Star households"))}]


def default_year() -> int:
    """Ratings are made at the turn of the year: in January and February, the year just ended."""
    today = local_today()
    return today.year - 1 if today.month <= 2 else today.year


def _year_arg(source: Any) -> Any:
    raw = (source.get("year") or "").strip()
    return raw or default_year()


def _page(errors: dict[str, Any] | None = None, status: int = 200, form: dict[str, Any] | None = None):
    village_id = parse_id(request.values.get("village_id"))
    villages = report_services.villages_in_scope(g.user)
    if village_id is None and g.user.village_id is None and villages:
        village_id = villages[0].id  # a deployment-wide admin starts with the first village, then chooses
    result = services.preview(g.user, village_id, _year_arg(request.values))
    return render_template(
        "stars/page.html",
        result=result,
        villages=villages,
        councils=[(code, council_label(code)) for code in COUNCILS],
        max_stars=MAX_STARS,
        publishes=policy.publishes_stars(g.user),
        errors=errors or {},
        form=form or {},
        this_year=local_today().year,
    ), status


@bp.get("/reports/stars")
@login_required(policy.previews_stars)
def page():
    """The year's ratings as the ledger gives them now, the settings, and the year's publications."""
    return _page()


@bp.post("/reports/stars/publish")
@login_required(policy.publishes_stars)
def publish():
    form = request.form
    try:
        data = PublishSchema().load(
            {
                "village_id": parse_id(form.get("village_id")),
                "year": parse_id(form.get("year")) or 0,
                "reason": form.get("reason", ""),
            }
        )
        body = services.publish(g.user, data["village_id"], data["year"], data.get("reason"))
    except (ValidationError, DomainError) as exc:
        return _page(form_errors(exc), 422, {"reason": form.get("reason", "")})
    return redirect(
        url_for("stars.page", village_id=body["village_id"], year=body["year"], published=body["version"])
    )


@bp.post("/reports/stars/settings")
@login_required(policy.publishes_stars)
def settings():
    form = request.form
    thresholds: list[Any] = []
    for index in range(1, MAX_STARS + 1):
        raw = (form.get(f"threshold_{index}") or "").strip()
        if raw:
            thresholds.append(int(raw) if raw.isdigit() and len(raw) < 10 else raw)
    caps: dict[str, Any] = {}
    for code in COUNCILS:
        raw = (form.get(f"cap_{code}") or "").strip()
        if raw:
            caps[code] = int(raw) if raw.isdigit() and len(raw) < 3 else raw
    try:
        data = SettingsSchema().load(
            {"village_id": parse_id(form.get("village_id")), "thresholds": thresholds, "caps": caps}
        )
        services.update_settings(g.user, data.get("village_id"), data["thresholds"], data["caps"])
    except (ValidationError, DomainError) as exc:
        return _page(form_errors(exc), 422)
    return redirect(url_for("stars.page", village_id=form.get("village_id"), year=form.get("year")))


@bp.get("/reports/stars/published")
@login_required(policy.previews_stars)
def published():
    """A published list as printed: the latest version, or `version`."""
    village_id = parse_id(request.args.get("village_id"))
    body = services.published(
        g.user, village_id, _year_arg(request.args), parse_id(request.args.get("version"))
    )
    return render_template("stars/published.html", result=body)
