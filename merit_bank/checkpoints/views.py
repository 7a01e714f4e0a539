"""Public pages: a village's ledger verification page, and the fingerprint the notice board prints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, url_for

from .. import web
from ..events.tokens import base_url
from . import services

bp = Blueprint("checkpoints", __name__)


def latest_checkpoint(village_id: int) -> dict[str, Any] | None:
    """The village's latest checkpoint as the 公示栏 shows it (seq, base32 fingerprint, day), or None."""
    return services.board_fingerprint(village_id)


def verify_page_url(village_code: str) -> str:
    """Where printed QR codes send a reader to check the village's ledger (on PUBLIC_BASE_URL if set)."""
    return base_url() + url_for("checkpoints.verify_page", village_code=village_code)


@bp.get("/board/<village_code>/ledger")
def verify_page(village_code: str):
    """账本核验: the chain's length and head, every signed checkpoint, and the public export's link."""
    village = services.village_by_code(village_code)
    user = web.page_user()
    if user is not None:
        g.user = user  # the menu of a logged-in visitor; the page itself is the same for everyone
    return render_template(
        "checkpoints/verify.html", village=village, summary=services.verification_summary(village)
    )
