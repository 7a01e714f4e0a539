"""The thresholds of the flags: settings (app config `SUPERVISION_<NAME>`) with defaults.

docs/supervision.md gives the reasoning behind each default; a deployment tunes them to its villages.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    # Staff households: their share of the village's points at least this many times their share of
    # households, and at least this many points, before it is worth a look.
    staff_share_ratio: float = 2.0
    staff_share_min_points: int = 30
    # A posting to a staff household approved by a colleague: listed from this many postings on.
    staff_colleague_min_postings: int = 1
    # Reciprocal approvals: each of the two approved at least this many claims of the other's household
    # (or filed by the other), and this share of all the other's approved claims.
    reciprocal_min_each: int = 2
    reciprocal_min_share: float = 0.6
    # Approvals in seconds: approved less than this many seconds after filing, this many times.
    fast_seconds: int = 60
    fast_min_count: int = 5
    # Approvals in bulk: this many by one reviewer within one window of this many minutes.
    bulk_window_minutes: int = 10
    bulk_min_count: int = 30
    # Approvals at night (local time): from the start hour to the end hour, this many times.
    night_start_hour: int = 22
    night_end_hour: int = 6
    night_min_count: int = 3
    # One reviewer approving this share of a council's claims (at least this many) while others could.
    dominant_share: float = 0.8
    dominant_min_claims: int = 10
    # Late entries (补录) by one person in a month.
    late_min_count: int = 5
    # Adjustments by one person in a month: this many, or this many points moved.
    adjust_min_count: int = 3
    adjust_min_points: int = 100
    # Voids by one person in a month: this many and this share of that person's redemptions.
    void_min_count: int = 3
    void_min_rate: float = 0.1
    # Voids soon after the redemption: within this many minutes, this many times in a month.
    void_soon_minutes: int = 30
    void_soon_min_count: int = 2
    # A household's month: above median + k × MAD (scaled to a standard deviation), at least this many
    # points and this many times the median, in a village where at least this many households earned.
    jump_mad_k: float = 5.0
    jump_min_points: int = 50
    jump_min_ratio: float = 3.0
    jump_min_households: int = 5
    # Evidence items kept on one flag (the figures always count them all).
    evidence_limit: int = 200

    @classmethod
    def from_config(cls, config: Any) -> Thresholds:
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = f"SUPERVISION_{field.name.upper()}"
            if name in config:
                values[field.name] = type(getattr(cls, field.name))(config[name])
        return cls(**values)
