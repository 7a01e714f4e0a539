"""HTML of annual statements: a household's on the phone, and the staff's page to print a village's."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for
from flask_babel import gettext as _

from .. import web
from ..clock import local_today
from ..pdf import pdf_response
from ..villages import services as village_services
from . import policy, services

bp = Blueprint("statements", __name__, url_prefix="/statements")


def nav(user) -> list[dict[str, str]]:
    if policy.prints_village(user) and user.village_id:
        return [{"url": url_for("statements.village", village_id=user.village_id), "label": _("Statements")}]
    return []


def _year() -> int | str:
    raw = request.args.get("year", "").strip()
    if not raw:
        return local_today().year
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else raw


@bp.get("/households/<int:household_id>")
@web.login_required()
def household(household_id: int):
    """A household's statement for a year, on a phone; the PDF link prints it."""
    year = _year()
    statement = services.household_statement(g.user, household_id, year)  # type: ignore[arg-type]
    return render_template("statements/household.html", s=statement, this_year=local_today().year)


@bp.get("/households/<int:household_id>/statement.pdf")
@web.login_required()
def household_pdf(household_id: int):
    statement = services.household_statement(g.user, household_id, _year())  # type: ignore[arg-type]
    data = services.statements_pdf([statement], f"{statement['household'].head_name} {statement['year']}")
    return pdf_response(data, f"statement-{statement['household'].code}-{statement['year']}.pdf")


@bp.get("/villages/<int:village_id>")
@web.login_required(policy.prints_village)
def village(village_id: int):
    """Print every household's statement of a year (one PDF, a page each)."""
    the_village = village_services.get_village(g.user, village_id)
    policy.ensure_prints_village(g.user, village_id)
    year = _year()
    return render_template("statements/village.html", village=the_village, year=year)


@bp.get("/villages/<int:village_id>/statements.pdf")
@web.login_required(policy.prints_village)
def village_pdf(village_id: int):
    statements = services.village_statements(g.user, village_id, _year())  # type: ignore[arg-type]
    data = services.statements_pdf(statements, _("Annual statements"))
    return pdf_response(data, f"statements-{village_id}.pdf")
