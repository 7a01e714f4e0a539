"""Points summary per village × local month × council and per household × month and × year, with each
village's mark.

Revision ID: 0014
Revises: 0013

Empty at first: `flask refresh-summary` (or the first county comparison) folds the ledger in.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "summary_marks",
        sa.Column("village_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("village_id", name=op.f("pk_summary_marks")),
    )
    op.create_table(
        "village_month_summary",
        sa.Column("village_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("council", sa.String(length=32), nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("deducted", sa.BigInteger(), nullable=False),
        sa.Column("redeemed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("village_id", "month", "council", name=op.f("pk_village_month_summary")),
    )
    op.create_table(
        "household_month_summary",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("village_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("household_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("deducted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "village_id", "household_id", name=op.f("pk_household_month_summary")
        ),
    )
    op.create_table(
        "household_year_summary",
        sa.Column("year", sa.String(length=4), nullable=False),
        sa.Column("village_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("household_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("deducted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", "village_id", "household_id", name=op.f("pk_household_year_summary")),
    )


def downgrade():
    op.drop_table("household_year_summary")
    op.drop_table("household_month_summary")
    op.drop_table("village_month_summary")
    op.drop_table("summary_marks")
