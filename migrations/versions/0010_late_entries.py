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


def upgrade():
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late_entry_days", sa.Integer(), server_default="3", nullable=False)
        )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late_entry", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("entered_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_claims_entered_by_id_users"), "users", ["entered_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_claims_entered_by_id_users"), type_="foreignkey")
        batch_op.drop_column("entered_by_id")
        batch_op.drop_column("late_entry")
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.drop_column("late_entry_days")
