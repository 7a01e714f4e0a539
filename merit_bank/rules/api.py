"""JSON API of scoring rules: the rulebook in scope, versioned edits, retirement."""

from __future__ import annotations

from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from ..auth.scope import current_user, ensure_village
from ..schemas import page_of
from . import services
from .schemas import (
    RulebookImportResultSchema,
    RulebookImportSchema,
    RuleCreateSchema,
    RuleDetailSchema,
    RulePageSchema,
    RulePatchSchema,
    RuleQuerySchema,
    RuleSchema,
)

blp = Blueprint("rules_api", __name__, url_prefix="/api/v1", description="Scoring rules")


@blp.route("/rules", methods=["POST"])
@jwt_required()
@blp.arguments(RuleCreateSchema)
@blp.response(201, RuleSchema)
def create_rule(data):
    """Add a rule to a village's rulebook (admins), or a deployment-wide one (deployment admins)."""
    return services.create_rule(current_user(), data)


@blp.route("/rules")
@jwt_required()
@blp.arguments(RuleQuerySchema, location="query")
@blp.response(200, RulePageSchema)
def list_rules(args):
    """Rules in scope; filter by `council`, `active` and `village_id` (with the deployment-wide ones)."""
    user = current_user()
    if args.get("village_id") is not None:
        ensure_village(user, args["village_id"])
    query = services.list_rules(
        user, council=args.get("council"), active=args.get("active"), village_id=args.get("village_id")
    )
    return page_of(query, args["page"], args["per_page"], list)


@blp.route("/rules/import-default", methods=["POST"])
@jwt_required()
@blp.arguments(RulebookImportSchema)
@blp.response(201, RulebookImportResultSchema)
def import_default(data):
    """Copy the default rulebook into a village (codes it already has are skipped)."""
    created = services.import_rulebook(current_user(), data["village_id"])
    return {"created": len(created), "items": created}


@blp.route("/rules/<int:rule_id>")
@jwt_required()
@blp.response(200, RuleDetailSchema)
def get_rule(rule_id):
    """A rule with every version of its terms."""
    rule = services.rule_for_actor(current_user(), rule_id)
    return _detail(rule)


def _detail(rule):
    row = {name: getattr(rule, field.attribute or name) for name, field in RuleSchema().fields.items()}
    return {**row, "versions": services.rule_versions(rule)}


@blp.route("/rules/<int:rule_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(RulePatchSchema)
@blp.response(200, RuleDetailSchema)
def update_rule(data, rule_id):
    """Change a rule's terms: a new version; claims already made keep the version they were judged under."""
    return _detail(services.update_rule(current_user(), rule_id, data))


@blp.route("/rules/<int:rule_id>/retire", methods=["POST"])
@jwt_required()
@blp.response(200, RuleSchema)
def retire_rule(rule_id):
    """Retire a rule: no new claims on it; it is kept for the claims and ledger entries that name it."""
    return services.retire_rule(current_user(), rule_id)


@blp.route("/rules/<int:rule_id>", methods=["DELETE"])
@jwt_required()
@blp.response(204)
def delete_rule(rule_id):
    """Delete a rule that was never used; a used rule → 409 `rule-in-use` (retire it instead)."""
    services.delete_rule(current_user(), rule_id)
    return ""
