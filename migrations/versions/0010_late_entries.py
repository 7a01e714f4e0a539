"""Back-dating: a village's grace window for late entries, and which claims are late and who entered them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Plain columns only (no constraint), so that SQLite adds and drops them in place: a constraint would make
# SQLite copy the claims table, and dropping the old copy fails once check-ins, actions or objections
# refer to it.


def upgrade():
    op.add_column("villages", sa.Column("late_entry_days", sa.Integer(), server_default="3", nullable=False))
    op.add_column("claims", sa.Column("late_entry", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("claims", sa.Column("entered_by_id", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("claims", "entered_by_id")
    op.drop_column("claims", "late_entry")
    op.drop_column("villages", "late_entry_days")
