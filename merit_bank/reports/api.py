"""JSON API of reports: rankings, 红黑榜, statistics, village comparison, exports, roster import."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request, stream_with_context
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user
from ..errors import DomainError
from ..extensions import db
from ..villages.models import Village
from . import exports, importer, participation, services
from .periods import Period, parse_period
from .schemas import (
    BoardArgs,
    BoardSchema,
    ExportArgs,
    ImportArgs,
    ImportReportSchema,
    ParticipationArgs,
    ParticipationExportArgs,
    PeriodArgs,
    PublicBoardArgs,
    RankingArgs,
    RankingSchema,
)

blp = Blueprint("reports_api", __name__, url_prefix="/api/v1", description="Reports, exports and imports")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period_of(args: dict[str, Any], *, everything: bool = False) -> Period | None:
    """The period the query names; with none named, the current month (or everything, for exports)."""
    if everything and not any(args.get(k) for k in ("start", "end", "month", "year")):
        return None
    return parse_period(args.get("start"), args.get("end"), args.get("month"), args.get("year"))


@blp.route("/reports/rankings")
@jwt_required()
@blp.arguments(RankingArgs, location="query")
@blp.response(200, RankingSchema)
def rankings(args):
    """Households of a village (or group) ranked by points earned; deductions shown apart."""
    return services.rankings(current_user(), args.get("village_id"), period_of(args), args.get("group_id"))


@blp.route("/reports/honor-board")
@jwt_required()
@blp.arguments(BoardArgs, location="query")
@blp.response(200, BoardSchema)
def honor_board(args):
    """The 红黑榜: top earners and households with covenant deductions."""
    return services.honor_board(
        current_user(), args.get("village_id"), period_of(args), args.get("group_id"), args["top"]
    )


@blp.route("/reports/board/<code>")
@blp.arguments(PublicBoardArgs, location="query")
@blp.response(200, BoardSchema)
def public_board(args, code):
    """The public 红黑榜 of a village that publishes it (no login); 404 otherwise."""
    return services.public_board(code, period_of(args), args["top"])


@blp.route("/reports/stats")
@jwt_required()
@blp.arguments(PeriodArgs, location="query")
@blp.response(200)
def stats(args):
    """A village's figures: points by council and month, participation, check-ins, goods, claims."""
    return services.village_stats(current_user(), args.get("village_id"), period_of(args))


@blp.route("/reports/villages")
@jwt_required()
@blp.arguments(PeriodArgs, location="query")
@blp.response(200)
def villages(args):
    """Every village in scope side by side (admins)."""
    return services.villages_overview(current_user(), period_of(args))


def export_response(name: str, fmt: str, args: dict[str, Any]) -> Response:
    """A streamed CSV or XLSX download of one export, scoped to the caller."""
    export = exports.EXPORTS[name]
    village_ids = services.report_villages(current_user(), args.get("village_id"))
    period = period_of(args, everything=True)
    code = None
    if args.get("village_id"):
        code = db.session.get_one(Village, args["village_id"]).code
    header = args.get("header", "labels")
    if fmt == "csv":
        body = exports.csv_chunks(export, village_ids, period, header)
        mimetype = "text/csv; charset=utf-8"
    else:
        body = exports.xlsx_chunks(export, village_ids, period, header)
        mimetype = XLSX_TYPE
    response = Response(stream_with_context(body), mimetype=mimetype)
    name_on_disk = exports.filename(export, fmt, code, period)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name_on_disk)}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


_NAMES = ",".join(exports.EXPORTS)


@blp.route(f"/exports/<any({_NAMES}):name>.<any(csv,xlsx):fmt>")
@jwt_required()
@blp.arguments(ExportArgs, location="query")
@blp.response(200, content_type="text/csv")
@blp.alt_response(200, content_type=XLSX_TYPE, success=True, description="XLSX")
def export(args, name, fmt):
    """Download ledger, balances, claims, check-ins, redemptions or settlement, by village and period."""
    return export_response(name, fmt, args)


@blp.route("/reports/participation")
@jwt_required()
@blp.arguments(ParticipationArgs, location="query")
@blp.response(200)
def participation_report(args):
    """Members who earned points, by tag (and everyone): counts, rate, trend by month; for the village's own
    staff also who did not take part (`absent`, else null)."""
    return participation.participation(
        current_user(), args.get("village_id"), period_of(args), args.get("tag")
    )


@blp.route("/reports/member-rankings")
@jwt_required()
@blp.arguments(ParticipationArgs, location="query")
@blp.response(200)
def member_rankings(args):
    """Members who earned points, ranked (of one tag if asked); members who earned nothing are not listed."""
    return participation.member_rankings(
        current_user(), args.get("village_id"), period_of(args), args.get("tag")
    )


@blp.route("/reports/party-members")
@jwt_required()
@blp.arguments(ParticipationArgs, location="query")
@blp.response(200)
def party_members(args):
    """党员积分: every member tagged 党员 (or `tag`) with points, deeds and months (village staff)."""
    return participation.party_report(
        current_user(), args.get("village_id"), period_of(args), args.get("tag") or participation.PARTY_TAG
    )


_PARTICIPATION_NAMES = ",".join(f"'{n}'" for n in participation.EXPORT_NAMES)


@blp.route(f"/exports/members/<any({_PARTICIPATION_NAMES}):name>.<any(csv,xlsx):fmt>")
@jwt_required()
@blp.arguments(ParticipationExportArgs, location="query")
@blp.response(200, content_type="text/csv")
@blp.alt_response(200, content_type=XLSX_TYPE, success=True, description="XLSX")
def participation_export(args, name, fmt):
    """Participation, member rankings, members who did not take part, or 党员积分 of one village."""
    period = period_of(args)
    export = participation.export_of(current_user(), name, args.get("village_id"), period, args.get("tag"))
    village = services.report_village(current_user(), args.get("village_id"))
    header = args.get("header", "labels")
    # One village's figures, already in memory: written whole, not streamed.
    if fmt == "csv":
        body, mimetype = exports.csv_chunks(export, None, period, header), "text/csv; charset=utf-8"
    else:
        body, mimetype = exports.xlsx_chunks(export, None, period, header), XLSX_TYPE
    response = Response(b"".join(body), mimetype=mimetype)
    name_on_disk = exports.filename(export, fmt, village.code, period)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name_on_disk)}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/households/import", methods=["POST"])
@jwt_required()
@blp.arguments(ImportArgs, location="query")
@blp.response(200, ImportReportSchema)
def import_households(args):
    """Import a roster (multipart field `file`, XLSX or CSV); `dry_run=1` only checks it.

    Every bad row is reported as {row, column, problem}; a real import with problems is refused
    with 422 `import-invalid` (carrying the same report) and writes nothing.
    """
    upload = request.files.get("file")
    if upload is None:
        raise DomainError(
            "file-required",
            _l("Send the roster as multipart/form-data in the field 'file'."),
            status=400,
        )
    data = importer.read_upload(upload.stream, current_app.config.get("MAX_CONTENT_LENGTH") or 6 * 2**20)
    return importer.import_roster(
        current_user(), args["village_id"], data, upload.filename or "", dry_run=args["dry_run"]
    )


@blp.route("/households/import/template.xlsx")
@jwt_required()
@blp.response(200, content_type=XLSX_TYPE)
def import_template():
    """An empty roster with the columns the import reads."""
    services.report_villages(current_user(), None)
    response = Response(importer.template_xlsx(), mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote("户籍花名册模板.xlsx")
    return response
