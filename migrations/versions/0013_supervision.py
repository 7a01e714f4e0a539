"""Supervision: the flags table, and the indexes the flag queries read the period's rows by.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "supervision_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=60), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("checked_by_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'checked')", name=op.f("ck_supervision_flags_status")),
        sa.ForeignKeyConstraint(
            ["checked_by_id"], ["users.id"], name=op.f("fk_supervision_flags_checked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_supervision_flags_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_flags")),
        sa.UniqueConstraint("key", name=op.f("uq_supervision_flags_key")),
    )
    op.create_index(
        "ix_supervision_flags_village_id_period", "supervision_flags", ["village_id", "period"], unique=False
    )
    # The flags read one township's month: approvals by their time, claims and ledger rows by village and
    # time, voids by their time. Plain indexes only (no table rewrite on SQLite).
    op.create_index("ix_claim_actions_action_created_at", "claim_actions", ["action", "created_at"])
    op.create_index("ix_claims_village_id_created_at", "claims", ["village_id", "created_at"])
    op.create_index(
        "ix_ledger_transactions_village_id_created_at", "ledger_transactions", ["village_id", "created_at"]
    )
    op.create_index("ix_shop_redemption_voids_created_at", "shop_redemption_voids", ["created_at"])


def downgrade():
    op.drop_index("ix_shop_redemption_voids_created_at", table_name="shop_redemption_voids")
    op.drop_index("ix_ledger_transactions_village_id_created_at", table_name="ledger_transactions")
    op.drop_index("ix_claims_village_id_created_at", table_name="claims")
    op.drop_index("ix_claim_actions_action_created_at", table_name="claim_actions")
    op.drop_index("ix_supervision_flags_village_id_period", table_name="supervision_flags")
    op.drop_table("supervision_flags")
