"""JSON API of the ledger: history, transaction lists, verification, export and admin corrections."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, request
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from ..auth import audit
from ..auth.scope import current_user, ensure_village, visible_village_ids
from ..errors import DomainError, NotFound
from ..extensions import db
from ..inputs import has_control
from . import actions, policy, services
from .hashing import request_digest
from .models import Entry, Transaction
from .schemas import (
    AdjustmentSchema,
    BalanceQuerySchema,
    BalanceSchema,
    ExportQuerySchema,
    HistoryPageSchema,
    ReversalSchema,
    TransactionPageSchema,
    TransactionQuerySchema,
    TransactionSchema,
    VerifyQuerySchema,
    VerifySchema,
)

blp = Blueprint("ledger_api", __name__, url_prefix="/api/v1", description="The points ledger")


def _household_in_scope(household_id: int) -> int:
    """The household's village, if the caller may see the household; 404 otherwise (no leak)."""
    user = current_user()
    village_id = policy.ensure_sees_household(user, household_id, services.account_village(household_id))
    audit.note_household_view(user, household_id)
    return village_id


def _idempotency_key(scope: str) -> tuple[str, str]:
    """The ledger key and request hash of a write that moves points (Idempotency-Key header)."""
    header = request.headers.get("Idempotency-Key", "")
    if not header:
        raise DomainError("idempotency-key-required", "Send an Idempotency-Key header.", status=400)
    if len(header) > 100 or has_control(header):
        raise DomainError("validation-error", "The Idempotency-Key is 1 to 100 characters.", status=422)
    # Keys are per user, so two clients that happen to pick one key never see each other's result.
    key = f"http:{current_user().id}:{header}"
    return key, request_digest({"scope": scope, "path": request.path, "body": request.get_json(silent=True)})


def _dump_transactions(transactions: list[Transaction], household_id: int | None) -> list[dict[str, Any]]:
    account_id = None
    if household_id is not None:
        account = services.household_account(household_id)
        account_id = account.id if account else None
    rows = []
    for tx in transactions:
        row: dict[str, Any] = {
            c: getattr(tx, c)
            for c in (
                "id", "village_id", "seq", "kind", "actor_id", "rule_id", "rule_version", "memo",
                "created_at", "reverses_id", "prev_hash", "hash",
            )
        }  # fmt: skip
        row["entries"] = tx.entries
        if account_id is not None:
            legs = [e for e in tx.entries if e.account_id == account_id]
            row["amount"] = sum(e.amount for e in legs)
            row["balance_after"] = legs[-1].balance_after if legs else None
        rows.append(row)
    return rows


@blp.route("/households/<int:household_id>/transactions")
@jwt_required()
@blp.arguments(TransactionQuerySchema(only=("page", "per_page")), location="query")
@blp.response(200, HistoryPageSchema)
def household_history(args, household_id):
    """A household's transactions, newest first, each with the balance right after it."""
    _household_in_scope(household_id)
    return services.household_history(household_id, page=args["page"], per_page=args["per_page"])


@blp.route("/ledger/households/<int:household_id>/balance")
@jwt_required()
@blp.arguments(BalanceQuerySchema, location="query")
@blp.response(200, BalanceSchema)
def household_balance(args, household_id):
    """A household's balance now, or as of a past moment (`?as_of=`)."""
    at = args.get("as_of")
    if at is None:
        # The scope check's row holds the balance too: one read (it is answered only if in scope).
        village_id, balance = services.household_village_and_balance(household_id)
        user = current_user()
        policy.ensure_sees_household(user, household_id, village_id)
        audit.note_household_view(user, household_id)
    else:
        _household_in_scope(household_id)
        balance = services.balance_as_of(household_id, at)
    return {"household_id": household_id, "balance": balance, "as_of": at}


@blp.route("/ledger/transactions")
@jwt_required()
@blp.arguments(TransactionQuerySchema, location="query")
@blp.response(200, TransactionPageSchema)
def list_transactions(args):
    """Ledger transactions in scope, newest first; filter by village, household and [from, to)."""
    user = current_user()
    household_id = args.get("household_id")
    own_only = policy.reads_own_household_only(user)
    if own_only:
        household_id = household_id or user.household_id
        if household_id is None:
            return {"items": [], "total": 0, "page": args["page"]}
        _household_in_scope(household_id)
    else:
        policy.ensure_lists_transactions(user)
        if household_id is not None:
            _household_in_scope(household_id)
    village_ids = None if own_only else visible_village_ids(user)
    if args.get("village_id") is not None:
        ensure_village(user, args["village_id"])
        village_ids = [args["village_id"]]
    result = services.list_transactions(
        village_ids=village_ids,
        household_id=household_id,
        start=args.get("start"),
        end=args.get("end"),
        page=args["page"],
        per_page=args["per_page"],
    )
    result["items"] = _dump_transactions(result["items"], household_id)
    return result


@blp.route("/ledger/transactions/<int:transaction_id>")
@jwt_required()
@blp.response(200, TransactionSchema)
def get_transaction(transaction_id):
    """One transaction with its entries (admins and clerks of its village)."""
    user = current_user()
    policy.ensure_lists_transactions(user)
    tx = db.session.get(
        Transaction,
        transaction_id,
        options=[selectinload(Transaction.entries).joinedload(Entry.account)],
    )
    if tx is None:
        raise NotFound("not-found", "No such transaction.")
    policy.ensure_sees_transaction(user, tx.village_id)
    return _dump_transactions([tx], None)[0]


@blp.route("/ledger/transactions/<int:transaction_id>/reversal", methods=["POST"])
@jwt_required()
@blp.arguments(ReversalSchema)
@blp.response(201, TransactionSchema)
def reverse_transaction(data, transaction_id):
    """Reverse a transaction (admins of its village); a transaction can be reversed once."""
    reversal = actions.reverse(
        current_user(), transaction_id, key=lambda: _idempotency_key("reversal"), memo=data["memo"]
    )
    return _dump_transactions([reversal], None)[0]


@blp.route("/ledger/adjustments", methods=["POST"])
@jwt_required()
@blp.arguments(AdjustmentSchema)
@blp.response(201, TransactionSchema)
def adjust(data):
    """An admin correction through the village's suspense account; a reason is required."""
    tx = actions.adjust(
        current_user(),
        village_id=data["village_id"],
        household_id=data.get("household_id"),
        shop_id=data.get("shop_id"),
        points=data["points"],
        key=lambda: _idempotency_key("adjustment"),
        memo=data["memo"],
    )
    return _dump_transactions([tx], None)[0]


@blp.route("/ledger/verify")
@jwt_required()
@blp.arguments(VerifyQuerySchema, location="query")
@blp.response(200, VerifySchema)
def verify(args):
    """Recompute the hash chains, entry sums and cached balances (admins; a village admin: their village)."""
    return actions.verify(current_user(), args.get("village_id"))


@blp.route("/ledger/export")
@jwt_required()
@blp.arguments(ExportQuerySchema, location="query")
def export(args):
    """A village's chain as CSV or JSON lines, with everything needed to recompute its hashes."""
    buffer = io.StringIO()
    actions.export(current_user(), args["village_id"], args["format"], buffer)
    mimetype = "text/csv" if args["format"] == "csv" else "application/x-ndjson"
    filename = f"ledger-village-{args['village_id']}.{args['format']}"
    return Response(
        buffer.getvalue(),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
