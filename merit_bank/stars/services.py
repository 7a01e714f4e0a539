"""星级文明户: ratings computed from the ledger, published as fixed snapshots, printed as certificates.

A household's stars for a year are the number of the village's thresholds its earned points reach
(earned = awards minus their reversals, posted in the local-time year, exactly as the reports count them),
lowered to a council's cap when the household has a net deduction of that council in the year. A
publication copies every rating (names and figures too), so nothing that happens later alters it; a
correction is the next version, with a reason, and the board shows the latest.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..auth.policy import ensure_village
from ..clock import local_date, local_today, local_zone
from ..database import savepoint, transaction, utcnow
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..households.models import Household
from ..labels import COUNCILS, council_label
from ..reports.periods import year_period
from ..reports.services import analytic_reads, scored_entries
from ..villages.models import Village, VillageGroup
from ..villages.ordering import ranks, row_key
from . import policy
from .models import DEFAULT_CAPS, DEFAULT_THRESHOLDS, MAX_STARS, StarPublication, StarRating, StarSettings

STAR_WORDS = ("零", "一", "二", "三", "四", "五")


# --- settings ---------------------------------------------------------------------------------------


def village_for(actor: User | None, village_id: int | None) -> Village:
    if actor is not None:
        policy.ensure_previews_stars(actor)
        if village_id is None:
            village_id = actor.village_id
        if village_id is None:
            raise ValidationFailed(errors={"village_id": [_l("Choose a village.")]})
        ensure_village(actor, village_id)
    village = db.session.get(Village, village_id) if village_id is not None else None
    if village is None:
        raise NotFound("not-found", _l("No such village."))
    return village


def settings_of(village_id: int) -> dict[str, Any]:
    """The village's thresholds and caps, or the defaults."""
    row = db.session.get(StarSettings, village_id)
    if row is None:
        return {"thresholds": list(DEFAULT_THRESHOLDS), "caps": dict(DEFAULT_CAPS), "custom": False}
    return {"thresholds": list(row.thresholds), "caps": dict(row.caps), "custom": True}


def check_settings(thresholds: Any, caps: Any) -> tuple[list[int], dict[str, int]]:
    """Thresholds: 1 to 5 whole, positive, strictly rising numbers; caps: {council: 0..stars-1}."""
    errors: dict[str, list[Any]] = {}
    if (
        not isinstance(thresholds, list)
        or not 1 <= len(thresholds) <= MAX_STARS
        or not all(isinstance(t, int) and not isinstance(t, bool) for t in thresholds)
    ):
        errors["thresholds"] = [_l("Give 1 to 5 whole numbers of points, one for each star.")]
    elif any(t <= 0 or t > 10_000_000 for t in thresholds):
        errors["thresholds"] = [_l("Each threshold is a whole number of points from 1 to 10,000,000.")]
    elif any(b <= a for a, b in pairwise(thresholds)):
        errors["thresholds"] = [_l("Each star needs more points than the one before.")]
    if not isinstance(caps, dict):
        errors["caps"] = [_l("Give the councils whose deductions cap the rating, each with its cap.")]
    else:
        most = len(thresholds) if isinstance(thresholds, list) else MAX_STARS
        for council, cap in caps.items():
            if council not in COUNCILS:
                errors.setdefault("caps", []).append(_l("Unknown council: %(code)s.", code=str(council)[:40]))
            elif not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap < most:
                errors.setdefault("caps", []).append(
                    _l(
                        "The cap for %(council)s must be from 0 to %(most)d stars.",
                        council=council_label(council),
                        most=most - 1,
                    )
                )
    if errors:
        raise ValidationFailed(errors=errors)
    return list(thresholds), {c: caps[c] for c in COUNCILS if c in caps}


def update_settings(actor: User, village_id: int | None, thresholds: Any, caps: Any) -> dict[str, Any]:
    """A village's admin sets its thresholds and caps; published years keep the settings they used."""
    policy.ensure_publishes_stars(actor)
    village = village_for(actor, village_id)
    clean_thresholds, clean_caps = check_settings(thresholds, caps)
    with transaction():
        row = db.session.get(StarSettings, village.id)
        if row is None:
            row = StarSettings(village_id=village.id)
            db.session.add(row)
        row.thresholds = clean_thresholds
        row.caps = clean_caps
        row.updated_by_id = actor.id
        row.updated_at = utcnow()
    return {"village_id": village.id, **settings_of(village.id)}


# --- computing ratings ------------------------------------------------------------------------------


def rate(earned: int, deducted: dict[str, int], settings: dict[str, Any]) -> tuple[int, str | None]:
    """(stars, the council whose cap lowered them or None) for one household's year."""
    stars = sum(1 for threshold in settings["thresholds"] if earned >= threshold)
    capped_by = None
    for council in COUNCILS:  # a fixed order, so the lowest cap wins and ties name the same council
        cap = settings["caps"].get(council)
        if cap is not None and deducted.get(council, 0) > 0 and cap < stars:
            stars, capped_by = cap, council
    return stars, capped_by


def _check_year(year: Any) -> int:
    try:
        number = int(year)
    except (TypeError, ValueError):
        number = 0
    if not 2000 <= number <= local_today().year:
        raise ValidationFailed(
            errors={"year": [_l("The year must be from 2000 to %(year)d.", year=local_today().year)]}
        )
    return number


def compute(village: Village, year: int, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Every household's rating for the year, best first, from the ledger as it is now."""
    scored = scored_entries([village.id], year_period(year)).subquery()
    earned: dict[int, int] = defaultdict(int)
    deducted: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for household_id, cls, council, amount in db.session.execute(
        select(scored.c.household_id, scored.c.cls, scored.c.council, func.sum(scored.c.amount)).group_by(
            scored.c.household_id, scored.c.cls, scored.c.council
        )
    ):
        if cls == "earn":
            earned[household_id] += int(amount or 0)
        else:  # a deduction is negative on the household; its reversal gives it back
            deducted[household_id][council] -= int(amount or 0)
    rows = []
    for household_id, code, head_name, group_name, active in db.session.execute(
        select(Household.id, Household.code, Household.head_name, VillageGroup.name, Household.active)
        .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
        .where(Household.village_id == village.id)
    ):
        points = earned.get(household_id, 0)
        if not active and not points and household_id not in deducted:
            continue
        stars, capped_by = rate(points, deducted.get(household_id, {}), settings)
        rows.append(
            {
                "household_id": household_id,
                "code": code,
                "head_name": head_name,
                "group": group_name,
                "earned": points,
                "stars": stars,
                "capped_by": capped_by,
            }
        )
    order = ranks(village.groups)
    rows.sort(
        key=lambda r: (-r["stars"], -r["earned"], row_key(order, r["group"]), r["head_name"], r["code"])
    )
    return rows


def _counts(rows: list[dict[str, Any]], most: int) -> dict[str, int]:
    counts = {str(stars): 0 for stars in range(most, -1, -1)}
    for row in rows:
        counts[str(row["stars"])] = counts.get(str(row["stars"]), 0) + 1
    return counts


def _local(moment: datetime) -> str:
    return moment.astimezone(local_zone()).isoformat(timespec="seconds")


def _publication_summary(publication: StarPublication) -> dict[str, Any]:
    return {
        "id": publication.id,
        "version": publication.version,
        "corrected": publication.version > 1,
        "published_at": _local(publication.published_at),
        "published_on": local_date(publication.published_at).isoformat(),
        "published_by": publication.published_by_name,
        "reason": publication.reason,
        "settings": publication.settings,
    }


def _publications(village_id: int, year: int) -> list[StarPublication]:
    return list(
        db.session.scalars(
            select(StarPublication)
            .where(StarPublication.village_id == village_id, StarPublication.year == year)
            .order_by(StarPublication.version.desc())
        )
    )


def _rating_rows(publication: StarPublication) -> list[dict[str, Any]]:
    return [
        {
            "household_id": r.household_id,
            "code": r.household_code,
            "head_name": r.head_name,
            "group": r.group_name,
            "earned": r.earned,
            "stars": r.stars,
            "capped_by": r.capped_by,
        }
        for r in publication.ratings
    ]


def household_rating(village_id: int, household_id: int, year: int) -> int | None:
    """A household's stars in the village's latest publication of the year; None when the year is not
    published (or the household was not on it)."""
    latest = db.session.scalar(
        select(StarPublication.id)
        .where(StarPublication.village_id == village_id, StarPublication.year == year)
        .order_by(StarPublication.version.desc())
        .limit(1)
    )
    if latest is None:
        return None
    return db.session.scalar(
        select(StarRating.stars).where(
            StarRating.publication_id == latest, StarRating.household_id == household_id
        )
    )


def preview(actor: User, village_id: int | None, year: Any) -> dict[str, Any]:
    """The ratings the ledger gives now, beside what was published for the year (if anything)."""
    village = village_for(actor, village_id)
    number = _check_year(year)
    analytic_reads()
    settings = settings_of(village.id)
    rows = compute(village, number, settings)
    published = _publications(village.id, number)
    differs = None
    if published:
        latest = _rating_rows(published[0])
        key = ("household_id", "earned", "stars", "capped_by")
        differs = [tuple(r[k] for k in key) for r in latest] != [tuple(r[k] for k in key) for r in rows] or (
            published[0].settings.get("thresholds") != settings["thresholds"]
            or published[0].settings.get("caps") != settings["caps"]
        )
    return {
        "village_id": village.id,
        "village_name": village.name,
        "year": number,
        "settings": settings,
        "counts": _counts(rows, len(settings["thresholds"])),
        "items": rows,
        "publications": [_publication_summary(p) for p in published],
        "differs_from_published": differs,
    }


def _publication_body(village: Village, publication: StarPublication) -> dict[str, Any]:
    rows = _rating_rows(publication)
    return {
        "village_id": village.id,
        "village_name": village.name,
        "year": publication.year,
        **_publication_summary(publication),
        "counts": _counts(rows, len(publication.settings.get("thresholds", []))),
        "items": rows,
    }


def publish(actor: User, village_id: int | None, year: Any, reason: str | None = None) -> dict[str, Any]:
    """Publish the year's ratings as they are now: version 1, or a correction (next version) with a reason."""
    policy.ensure_publishes_stars(actor)
    village = village_for(actor, village_id)
    number = _check_year(year)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ValidationFailed(errors={"reason": [_l("At most 500 characters.")]})
    with transaction():
        latest = db.session.scalar(
            select(func.max(StarPublication.version)).where(
                StarPublication.village_id == village.id, StarPublication.year == number
            )
        )
        if latest and not reason:
            raise ValidationFailed(
                errors={
                    "reason": [
                        _l(
                            "The stars of %(year)d are already published; say why you correct them.",
                            year=number,
                        )
                    ]
                }
            )
        settings = settings_of(village.id)
        settings.pop("custom", None)
        rows = compute(village, number, settings)
        publication = StarPublication(
            village_id=village.id,
            year=number,
            version=(latest or 0) + 1,
            published_by_id=actor.id,
            published_by_name=(actor.person_name or actor.username)[:100],
            published_at=utcnow(),
            settings=settings,
            reason=reason,
        )
        try:
            with savepoint():
                db.session.add(publication)
                db.session.flush()
        except IntegrityError:
            # Another admin published the same version a moment ago.
            raise DomainError(
                "stars-already-published",
                _l("Someone else has just published these stars; reload and check them."),
            ) from None
        db.session.add_all(
            StarRating(
                publication_id=publication.id,
                position=position,
                household_id=row["household_id"],
                household_code=row["code"],
                head_name=row["head_name"],
                group_name=row["group"],
                earned=row["earned"],
                stars=row["stars"],
                capped_by=row["capped_by"],
            )
            for position, row in enumerate(rows, start=1)
        )
    db.session.expire(publication, ["ratings"])
    return _publication_body(village, publication)


def published(
    actor: User | None, village_id: int | None, year: Any, version: int | None = None
) -> dict[str, Any]:
    """A published list (the latest version unless one is asked for); 404 if the year is not published."""
    village = village_for(actor, village_id)
    number = _check_year(year)
    publications = _publications(village.id, number)
    chosen = next((p for p in publications if version is None or p.version == version), None)
    if chosen is None:
        raise NotFound("stars-not-published", _l("The stars of %(year)d are not published.", year=number))
    body = _publication_body(village, chosen)
    body["versions"] = [_publication_summary(p) for p in publications]
    return body


def board_stars(village_id: int) -> dict[str, Any] | None:
    """For the public board: the latest year's latest publication, households with at least one star.

    No household codes, no zero ratings and no cap reasons: the board honours, it does not expose.
    """
    year = db.session.scalar(
        select(func.max(StarPublication.year)).where(StarPublication.village_id == village_id)
    )
    if year is None:
        return None
    publication = _publications(village_id, year)[0]
    rows = [
        {"head_name": r.head_name, "group": r.group_name, "earned": r.earned, "stars": r.stars}
        for r in publication.ratings
        if r.stars > 0
    ]
    return {"year": year, **_publication_summary(publication), "items": rows}


# --- certificates -----------------------------------------------------------------------------------


def star_word(stars: int) -> str:
    """三 in 三星级文明户; in another language, the number itself."""
    from flask_babel import get_locale

    chinese = str(get_locale() or "zh").startswith("zh")
    return STAR_WORDS[stars] if chinese and 0 <= stars < len(STAR_WORDS) else str(stars)


def certificates_pdf(
    actor: User, village_id: int | None, year: Any, household_id: int | None = None, verify_url: str = ""
) -> tuple[bytes, str]:
    """A4 certificates of the latest publication: one page per household with a star, or one household.

    Returns (pdf bytes, file name).
    """
    from ..pdf import Document

    body = published(actor, village_id, year)
    rows = [r for r in body["items"] if r["stars"] > 0]
    if household_id is not None:
        rows = [r for r in rows if r["household_id"] == household_id]
        if not rows:
            raise NotFound(
                "not-found", _l("This household has no star rating in the published list of that year.")
            )
    village_name = body["village_name"]
    document = Document(_("%(year)d Star-rated civilised households", year=body["year"]), author=village_name)
    if not rows:
        document.page()
        document.heading(
            _(
                "%(village)s · %(year)d star-rated civilised households",
                village=village_name,
                year=body["year"],
            )
        )
        document.text(_("No household reached a star this year."), align="C")
    for row in rows:
        _certificate_page(document, body, row, verify_url)
    suffix = f"-{household_id}" if household_id is not None else ""
    return document.output(), f"stars-{body['year']}-v{body['version']}{suffix}.pdf"


def _certificate_page(document: Any, body: dict[str, Any], row: dict[str, Any], verify_url: str) -> None:
    pdf = document.pdf
    document.page()
    pdf.set_draw_color(180, 30, 30)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 190, 277)
    pdf.set_line_width(0.4)
    pdf.rect(13, 13, 184, 271)
    document.space(22)
    pdf.set_text_color(180, 30, 30)
    document.heading(_("Certificate"), size=40, space_after=6)
    document.heading(_("Star-rated civilised household"), size=26, space_after=14)
    pdf.set_text_color(0, 0, 0)
    document.heading(_("%(name)s household", name=row["head_name"]), size=30, space_after=4)
    if row["group"]:
        document.text(row["group"], size=14, align="C")
    document.space(10)
    document.text(
        _(
            "In %(year)d your household earned %(points)d points in the %(village)s merit bank and is rated "
            "a %(word)s-star civilised household.",
            year=body["year"],
            points=row["earned"],
            village=body["village_name"],
            word=star_word(row["stars"]),
        ),
        size=15,
        align="C",
        line_height=10,
    )
    document.space(8)
    pdf.set_text_color(200, 150, 0)
    document.heading("★" * row["stars"], size=44, space_after=4)
    pdf.set_text_color(0, 0, 0)
    document.text(_("%(count)d stars · %(year)d", count=row["stars"], year=body["year"]), size=14, align="C")
    if verify_url:
        document.qr(verify_url, x=(210 - 28) / 2, y=205, size=28)
        pdf.set_y(234)
        document.text(_("Scan to check the village's public ledger"), size=9, align="C")
    pdf.set_y(248)
    document.text(_("%(village)s village committee", village=body["village_name"]), size=14, align="R")
    document.text(body["published_on"], size=12, align="R")
    if body["corrected"]:
        document.text(_("Corrected list, version %(version)d", version=body["version"]), size=9, align="L")
