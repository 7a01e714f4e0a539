"""Public JSON of the checkpoints: no login, no personal data (API.md, "Checkpoints and public ...")."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask_smorest import Blueprint

from . import services
from .schemas import CheckpointListSchema, PublicKeySchema, PublicVillageListSchema

blp = Blueprint(
    "checkpoints_api", __name__, url_prefix="/api/v1/public", description="Signed chain checkpoints (public)"
)


@blp.route("/keys")
@blp.response(200, PublicKeySchema)
def keys():
    """The deployment's Ed25519 public key: what checks every checkpoint's signature."""
    return {"ed25519_public_key": services.public_key()}


@blp.route("/villages")
@blp.response(200, PublicVillageListSchema)
def villages():
    """Every village's code and name, so that a witness can find all checkpoints."""
    return {"items": services.public_villages()}


@blp.route("/villages/<code>/checkpoints")
@blp.response(200, CheckpointListSchema)
def checkpoints(code):
    """A village's signed checkpoints, oldest first."""
    village = services.village_by_code(code)
    return {"items": [services.dump(c) for c in services.checkpoints_of(village.id)]}


@blp.route("/villages/<code>/ledger.jsonl")
@blp.response(200, content_type="application/x-ndjson")
def ledger_export(code):
    """The village's chain as JSON lines: every hashed field, accounts as opaque ids (docs/ledger.md)."""
    village = services.village_by_code(code)
    # Streamed: anyone may ask, so a long chain must not be held in memory once per request.
    return Response(
        stream_with_context(services.public_export(village)),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": f'inline; filename="ledger-{village.code}.jsonl"'},
    )
