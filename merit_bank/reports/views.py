"""Pages: the village dashboard, the county dashboard, rankings, the 红黑榜 (staff and public),
exports, the roster import and the printable sheet of household QR cards."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import case, literal
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..auth.scope import is_deployment_admin
from ..households import services as household_services
from ..households.models import Household
from ..inputs import parse_id
from ..labels import claim_status_label, council_label
from ..ledger.models import COUNCILS
from ..paging import paginate
from ..qr import qr_svg
from ..villages import services as village_services
from ..villages.models import Village
from ..web import login_required
from . import charts, exports, participation, policy, services
from .periods import Period, last_months, parse_period

bp = Blueprint("reports", __name__)

MAX_CARDS = 2000  # cards on one page of the sheet set; a larger village pages on


def nav(user: User) -> list[dict[str, str]]:
    if not policy.reads_reports(user):
        return []
    return [{"url": url_for("reports.dashboard"), "label": str(_l("Reports"))}]


def _int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name))


def _period() -> Period:
    return parse_period(
        request.args.get("from") or None,
        request.args.get("to") or None,
        request.args.get("month") or None,
        request.args.get("year") or None,
    )


def _context(village: Village | None, period: Period | None) -> dict[str, Any]:
    """What every report page's filter form needs."""
    return {
        "villages": services.villages_in_scope(g.user),
        "village": village,
        "groups": services.groups_of(village.id) if village else [],
        "period": period,
        "is_deployment_admin": is_deployment_admin(g.user),
        "compares_villages": policy.compares_villages(g.user),
        "keeps_register": policy.keeps_register(g.user),
        "publishes_board": policy.publishes_board(g.user),
    }


def _chosen_village() -> Village | None:
    village_id = _int_arg("village_id")
    if village_id is None and g.user.village_id is None:
        return None
    return services.report_village(g.user, village_id)


# --- dashboards -------------------------------------------------------------------------------------


@bp.get("/reports/")
@login_required(policy.reads_reports)
def dashboard():
    """A village's dashboard for a month, with the last twelve months of points as a chart."""
    village = _chosen_village()
    if village is None:
        return redirect(url_for("reports.county", **request.args))
    period = _period()
    stats = services.village_stats(g.user, village.id, period)
    year = last_months(12, period.last)
    trend = services.issued_by_month([village.id], year)
    participation = stats["participation"]
    figures = {
        "trend": _month_chart(year, trend, _("Points issued per council, last 12 months")),
        "groups": charts.hbar(
            [(row["group"] or _("No group"), row["rate"]) for row in participation["by_group"]],
            title=_("Participation by villager group"),
            color=charts.PALETTE[1],
            percent=True,
        ),
        "councils": charts.hbar(
            [(council_label(row["council"]), row["issued"]) for row in stats["by_council"]],
            title=_("Points issued by council"),
        ),
        "checkins": charts.hbar(
            [(row["title"], row["checkins"]) for row in stats["checkins"]["events"]],
            title=_("Check-ins per event"),
            color=charts.PALETTE[2],
        ),
        "goods": charts.hbar(
            [(f"{row['name']} ({row['unit']})", row["quantity"]) for row in stats["redemptions"]["items"]],
            title=_("Goods given out"),
            color=charts.PALETTE[3],
        ),
        "claims": charts.hbar(
            [(_status(status), count) for status, count in stats["claims"]["by_status"].items()],
            title=_("Claims by status"),
            color=charts.PALETTE[4],
        ),
    }
    return render_template("reports/dashboard.html", stats=stats, charts=figures, **_context(village, period))


def _status(code: str) -> str:
    return claim_status_label(code)


def _month_chart(period: Period, rows: list[dict[str, Any]], title: str) -> Markup:
    months = period.month_keys()
    index = {m: i for i, m in enumerate(months)}
    series = []
    for council in COUNCILS:
        values = [0.0] * len(months)
        for row in rows:
            if row["council"] == council and row["month"] in index:
                values[index[row["month"]]] += row["issued"]
        if any(values):
            series.append((council_label(council), values))
    return charts.stacked_columns(months, series, title=title)


@bp.get("/reports/county")
@login_required(policy.compares_villages)
def county():
    """Every village in scope compared, for deployment-wide (and village) admins."""
    period = _period()
    overview = services.villages_overview(g.user, period)
    rows = overview["villages"]
    figures = {
        "issued": charts.hbar(
            [(r["name"], r["issued"]) for r in sorted(rows, key=lambda r: -r["issued"])],
            title=_("Points issued per village"),
        ),
        "rate": charts.hbar(
            [(r["name"], r["rate"]) for r in sorted(rows, key=lambda r: -r["rate"])],
            title=_("Participation rate per village"),
            color=charts.PALETTE[1],
            percent=True,
        ),
        "trend": _month_chart(period, overview["by_month"], _("Points issued per council and month")),
    }
    return render_template("reports/county.html", overview=overview, charts=figures, **_context(None, period))


# --- rankings and the 红黑榜 -------------------------------------------------------------------------


@bp.get("/reports/rankings")
@login_required(policy.reads_reports)
def rankings():
    village = _chosen_village()
    if village is None:
        return render_template("reports/choose_village.html", **_context(None, None))
    period = _period()
    result = services.rankings(g.user, village.id, period, _int_arg("group_id"))
    members = participation.member_rankings(g.user, village.id, period, _tag_arg(village))
    return render_template(
        "reports/rankings.html", result=result, members=members, **_context(village, period)
    )


def _tag_arg(village: Village) -> str | None:
    """The `tag` filter, if it is one of the village's tags (a stale link just shows everyone)."""
    tag = (request.args.get("tag") or "").strip()
    return tag if tag in village.tag_list else None


# --- participation by person and by tag ----------------------------------------------------------------


@bp.get("/reports/participation")
@login_required(policy.reads_reports)
def participation_page():
    """Who earned points, by tag, with the monthly trend; who did not take part for the village's staff."""
    village = _chosen_village()
    if village is None:
        return render_template(
            "reports/choose_village.html", **_context(None, None), target="reports.participation_page"
        )
    period = _period()
    tag = _tag_arg(village)
    result = participation.participation(g.user, village.id, period, tag)
    chart = charts.hbar(
        [(row["tag"] or _("Everyone"), row["rate"]) for row in result["rows"]],
        title=_("Members who earned points, by tag"),
        color=charts.PALETTE[1],
        percent=True,
    )
    return render_template(
        "reports/participation.html",
        result=result,
        chart=chart,
        tag=tag,
        tags=village.tag_list,
        sees_names=policy.sees_members_by_name(g.user, village.id),
        **_context(village, period),
    )


@bp.get("/reports/party-members")
@login_required(policy.reads_reports)
def party_members_page():
    """党员积分, a sheet for the village's party branch to print (A4)."""
    village = _chosen_village()
    if village is None:
        return render_template(
            "reports/choose_village.html", **_context(None, None), target="reports.party_members_page"
        )
    period = _period()
    tag = _tag_arg(village) or participation.PARTY_TAG
    report = participation.party_report(g.user, village.id, period, tag)
    return render_template("reports/party_members.html", report=report, **_context(village, period))


@bp.get("/reports/honor-board")
@login_required(policy.reads_reports)
def honor_board():
    village = _chosen_village()
    if village is None:
        return render_template("reports/choose_village.html", **_context(None, None))
    period = _period()
    board = services.honor_board(g.user, village.id, period, _int_arg("group_id"), _int_arg("top") or 10)
    return render_template(
        "reports/honor_board.html", board=board, public=False, published=village.publish_rankings,
        **_context(village, period),
    )  # fmt: skip


@bp.post("/reports/honor-board/publish")
@login_required(policy.publishes_board)
def publish_board():
    """Show or hide the village's 红黑榜 on its public board (the village's own choice)."""
    village_id = request.form.get("village_id", "")
    if not village_id.isdigit():
        abort(400)
    publish = request.form.get("publish") == "1"
    village = village_services.update_village(g.user, int(village_id), {"publish_rankings": publish})
    return redirect(url_for("reports.honor_board", village_id=village.id))


@bp.get("/board/<code>/honor")
def public_board(code: str):
    """The public 红黑榜 of a village that chose to publish it; no login."""
    period = _period()
    board = services.public_board(code, period, _int_arg("top") or 10)
    return render_template("reports/honor_board.html", board=board, public=True, period=period, code=code)


# --- exports and import -----------------------------------------------------------------------------


@bp.get("/reports/exports")
@login_required(policy.reads_reports)
def export_page():
    village = _chosen_village()
    member_exports = participation.export_titles(g.user, village.id) if village else {}
    return render_template(
        "reports/exports.html",
        exports=exports.EXPORTS,
        member_exports=member_exports,
        **_context(village, _period()),
    )


@bp.get("/reports/import")
@login_required(policy.keeps_register)
def import_page():
    village = _chosen_village()
    return render_template("reports/import.html", **_context(village, None))


# --- printable household cards ----------------------------------------------------------------------


@bp.get("/reports/cards")
@login_required(policy.keeps_register)
def cards():
    """An A4 sheet of household QR cards (ten per page) for a village, a group or chosen households."""
    ids = [int(v) for v in request.args.getlist("household_id") if v.isdigit() and len(v) < 10]
    village = _chosen_village()
    if village is None and not ids:
        return render_template("reports/choose_village.html", **_context(None, None), target="reports.cards")
    # Cards come out group by group in the village's own order (一组, 二组 … 十组), as they are handed out.
    group_rank = village_services.group_ranks([village.id] if village is not None else None)
    in_group_order = (
        case(group_rank, value=Household.group_id, else_=len(group_rank)) if group_rank else literal(0)
    )
    query = (
        household_services.visible_households(g.user)
        .options(selectinload(Household.village))
        .where(Household.active.is_(True))
        .order_by(Household.village_id, in_group_order, Household.id)
    )
    if ids:
        query = query.where(Household.id.in_(ids))
    if village is not None:
        query = query.where(Household.village_id == village.id)
        group = services.report_group(village, _int_arg("group_id"))
        if group is not None:
            query = query.where(Household.group_id == group.id)
    pager = paginate(query, per_page=MAX_CARDS)
    households = pager.items
    cards = [
        {"household": h, "qr": _inline_svg(qr_svg(household_services.card_token(h)))} for h in households
    ]
    pages = [cards[i : i + 10] for i in range(0, len(cards), 10)]
    return render_template(
        "reports/cards.html", pages=pages, count=len(cards), pager=pager, **_context(village, None)
    )


def _inline_svg(svg: bytes) -> Markup:
    """An SVG document as an element to put inside HTML (without its XML declaration)."""
    text = svg.decode()
    return Markup(text[text.index("<svg") :])


@bp.route("/reports/cards/reissue", methods=["GET", "POST"])
@login_required(policy.keeps_register)
def reissue_card():
    """A new card for one household, after a confirmation: the old card stops working at once.

    GET asks (a page, not a script's dialog); POST without the ticked box asks again. Then the new card
    is shown to print.
    """
    value = request.values.get("household_id", "")
    if not value.isdigit() or len(value) > 9:
        abort(400)
    household = household_services.get_household(g.user, int(value))
    if request.method == "POST":
        if request.form.get("confirm") == "1":
            household = household_services.reissue_card(g.user, household.id)
            return redirect(url_for("reports.cards", household_id=household.id, reissued=1))
        errors = {str(_l("Confirmation")): [_("Tick the box to confirm that the old card stops working.")]}
        return render_template("reports/reissue.html", household=household, errors=errors), 422
    return render_template("reports/reissue.html", household=household, errors={})
