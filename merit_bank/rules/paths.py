"""What happens to points claimed under a rule (审核 → 公示 → 入账), said once for every page and the API.

The claims workflow decides by the same terms (claims/services.py): a filed claim waits for
`approvals_required` reviewers; after the last approval it posts at once when `notice_days` is 0, else it
goes on the notice board for that many days and posts if nobody objects. A check-in under a rule that
needs no review posts at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..i18n import request_gettext as _


class Terms(Protocol):
    needs_review: bool
    notice_days: int
    approvals_required: int


@dataclass(frozen=True)
class RulePath:
    reviewers: int
    notice_days: int
    checkins_post_at_once: bool

    @property
    def kind(self) -> str:
        """`at_once` (posts at the last approval) or `public_notice` (posts after the notice)."""
        return "public_notice" if self.notice_days else "at_once"

    @property
    def claim_summary(self) -> str:
        """The path of a claim filed by a person, in the reader's language."""
        if self.reviewers == 2:
            if self.notice_days:
                return _(
                    "Needs two reviewers, one after the other; then on the village notice board for "
                    "%(n)d day(s), and posted if nobody objects.",
                    n=self.notice_days,
                )
            return _("Needs two reviewers, one after the other; posted as soon as the second approves.")
        if self.notice_days:
            return _(
                "Reviewed by the council; then on the village notice board for %(n)d day(s), and posted "
                "if nobody objects.",
                n=self.notice_days,
            )
        return _("Reviewed by the council; posted as soon as it is approved.")

    @property
    def checkin_summary(self) -> str:
        """The path of a check-in at an event under the rule."""
        if self.checkins_post_at_once:
            return _("A check-in at an event posts at once.")
        return self.claim_summary

    @property
    def summary(self) -> str:
        """The whole path: a filed claim's, and a check-in's where it differs."""
        if not self.checkins_post_at_once:
            return self.claim_summary
        return f"{self.claim_summary} {self.checkin_summary}"


def rule_path(terms: Terms) -> RulePath:
    """The path of claims under a rule or one of its versions."""
    return RulePath(
        reviewers=terms.approvals_required,
        notice_days=terms.notice_days,
        checkins_post_at_once=not terms.needs_review,
    )
