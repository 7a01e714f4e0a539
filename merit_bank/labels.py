"""Names people read for codes stored in the database (councils, roles, kinds)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# The village's councils (理事会), each a code stored on rules, claims, ledger entries and clerks.
COUNCILS = (
    "volunteer",
    "covenant",
    "wedding_funeral",
    "villagers_council",
    "moral_review",
    "anti_drug_gambling",
)

COUNCIL_LABELS = {
    "volunteer": _l("Volunteer service"),
    "covenant": _l("Village covenant"),
    "wedding_funeral": _l("Weddings and funerals council"),
    "villagers_council": _l("Villagers' deliberation council"),
    "moral_review": _l("Moral review council"),
    "anti_drug_gambling": _l("Anti-drug and anti-gambling council"),
}

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "clerk": _l("Council clerk"),
    "shopkeeper": _l("Shopkeeper"),
    "villager": _l("Villager"),
    "supervisor": _l("Supervisor (read-only)"),
}


# Claim statuses (claims/models.py STATUSES): one word per status, the same on every page, report and export.
CLAIM_STATUS_LABELS = {
    "pending": _l("Pending review"),
    "approved": _l("Approved once"),
    "in_notice": _l("In public notice"),
    "posted": _l("Posted"),
    "rejected": _l("Rejected"),
    "disputed": _l("Disputed"),
}
# How a claim came in (claims/models.py `source`).
CLAIM_SOURCE_LABELS = {
    "villager": _l("Filed by the villager"),
    "clerk": _l("Entered by staff"),
    "checkin": _l("Event check-in"),
}
# Ledger transaction kinds (ledger/models.py TRANSACTION_KINDS): the words of exports and reports.
LEDGER_KIND_LABELS = {
    "award": _l("Award"),
    "deduction": _l("Deduction"),
    "redemption": _l("Redemption"),
    "reversal": _l("Reversal"),
    "adjustment": _l("Adjustment"),
    "expiry": _l("Expiry"),
}
# The same kinds as a villager's history says them.
HISTORY_KIND_LABELS = {
    "award": _l("Points earned"),
    "deduction": _l("Points deducted"),
    "redemption": _l("Spent at the shop"),
    "reversal": _l("Correction"),
    "adjustment": _l("Adjustment"),
    "expiry": _l("Points expired"),
}
REDEMPTION_STATUS_LABELS = {
    "completed": _l("Completed"),
    "voided": _l("Voided"),
}


def claim_status_label(code: str) -> str:
    return str(CLAIM_STATUS_LABELS.get(code, code))


def claim_status_labels() -> dict[str, str]:
    """Every claim status's word, for a page's script (the event page's live list of scans)."""
    return {code: str(label) for code, label in CLAIM_STATUS_LABELS.items()}


def council_label(code: str) -> str:
    return str(COUNCIL_LABELS.get(code, code))


def role_label(code: str) -> str:
    return str(ROLE_LABELS.get(code, code))
