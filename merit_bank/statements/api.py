"""Annual statements as PDF: one household's, or every household's of a village (a page each)."""

from __future__ import annotations

from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..auth.scope import current_user
from ..pdf import pdf_response
from ..schemas import StrictSchema
from . import services

blp = Blueprint("statements_api", __name__, url_prefix="/api/v1", description="Annual statements")


class YearArgs(StrictSchema):
    # The service says which years have statements (2000 to this year); the bound keeps the spec honest.
    year = fields.Integer(
        required=True, validate=validate.Range(1, 9999), metadata={"description": "the calendar year (local)"}
    )


@blp.route("/households/<int:household_id>/statement.pdf")
@jwt_required()
@blp.arguments(YearArgs, location="query")
@blp.response(200, content_type="application/pdf")
def household_statement_pdf(args, household_id):
    """A household's annual statement, A4 (its villagers; staff of its village)."""
    statement = services.household_statement(current_user(), household_id, args["year"])
    data = services.statements_pdf([statement], f"{statement['household'].head_name} {args['year']}")
    return pdf_response(data, f"statement-{statement['household'].code}-{args['year']}.pdf")


@blp.route("/villages/<int:village_id>/statements.pdf")
@jwt_required()
@blp.arguments(YearArgs, location="query")
@blp.response(200, content_type="application/pdf")
def village_statements_pdf(args, village_id):
    """Every active household's annual statement of a village in one PDF, a page each (staff)."""
    statements = services.village_statements(current_user(), village_id, args["year"])
    data = services.statements_pdf(statements, f"statements {args['year']}")
    return pdf_response(data, f"statements-{village_id}-{args['year']}.pdf")
