"""The points summary: per village × local month × council, per household × month and × year, and each
village's mark.

Derived data only, folded from the ledger after the fact (see summary.py): the posting path never writes
here. Like the ledger, the tables refer to villages and households by id only, so a rebuild stands alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime
from ..extensions import db


class SummaryMark(db.Model):
    """How far a village's summary has been folded: its chain's seq up to which every entry is counted."""

    __tablename__ = "summary_marks"

    village_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The zone the months were cut in: a deployment that changes its zone gets its months rebuilt.
    zone: Mapped[str] = mapped_column(String(64))
    # Set only inside the refresh that holds this row's lock: the chain seq it folds up to.
    target: Mapped[int | None] = mapped_column(BigInteger)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VillageMonthSummary(db.Model):
    """Points of one village in one local month under one council; council '' holds shop spending."""

    __tablename__ = "village_month_summary"

    village_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM, local
    council: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Awards net of their reversals, from the issuing legs (what issued_by_month reads).
    earned: Mapped[int] = mapped_column(BigInteger, default=0)
    # Deductions net of their reversals, a positive number.
    deducted: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points spent at the shop net of voids, from the household legs (council '' only).
    redeemed: Mapped[int] = mapped_column(BigInteger, default=0)


class HouseholdMonthSummary(db.Model):
    """A household's points earned and deducted in one local month (from its household legs).

    The county comparison counts households that earned in a period; over several months that is the
    sign of a household's sum, which monthly village totals cannot give. Keyed month first, so a
    period's rows are one range of the primary key.
    """

    __tablename__ = "household_month_summary"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    village_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    earned: Mapped[int] = mapped_column(BigInteger, default=0)
    deducted: Mapped[int] = mapped_column(BigInteger, default=0)


class HouseholdYearSummary(db.Model):
    """A household's points earned and deducted in one local calendar year: the same figures as its
    months added up, so that a year's comparison reads one row per household instead of twelve."""

    __tablename__ = "household_year_summary"

    year: Mapped[str] = mapped_column(String(4), primary_key=True)  # YYYY, local
    village_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    earned: Mapped[int] = mapped_column(BigInteger, default=0)
    deducted: Mapped[int] = mapped_column(BigInteger, default=0)
