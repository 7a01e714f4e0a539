"""Points expiry: the ledger kind `expiry`, village settings, and the announcements that must precede a run.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('award', 'deduction', 'redemption', 'reversal', 'adjustment')"
NEW_KINDS = "kind IN ('award', 'deduction', 'redemption', 'reversal', 'adjustment', 'expiry')"


def _swap_kind_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_transactions DROP CONSTRAINT ck_ledger_transactions_kind")
        op.execute(f"ALTER TABLE ledger_transactions ADD CONSTRAINT ck_ledger_transactions_kind CHECK ({new})")
        return
    # SQLite cannot alter a CHECK constraint, and rebuilding the table would copy the append-only chain,
    # drop its triggers and fight the entries' foreign keys. SQLite documents editing the stored CREATE
    # TABLE text for exactly this case (a change that does not alter the on-disk format), so the
    # constraint's text is swapped in place and the schema version bumped so connections reload it.
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_transactions'"
    ).scalar_one()
    if old not in sql:
        raise RuntimeError("ledger_transactions: the kind constraint is not the one this migration expects")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'ledger_transactions'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade():
    _swap_kind_check(OLD_KINDS, NEW_KINDS)
    # Plain nullable columns add in place on SQLite (see 0010).
    op.add_column("villages", sa.Column("expiry_years", sa.Integer(), nullable=True))
    op.add_column("villages", sa.Column("expiry_day", sa.String(length=5), server_default="12-31", nullable=False))
    op.create_table(
        "expiry_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_by_id", sa.Integer(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_expiry_announcements_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expiry_announcements")),
        sa.UniqueConstraint("village_id", "expires_on", name=op.f("uq_expiry_announcements_village_id_expires_on")),
    )


def downgrade():
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT 1 FROM ledger_transactions WHERE kind = 'expiry' LIMIT 1").first():
        raise RuntimeError("the ledger holds expiry transactions; it is append-only, so 0017 cannot be undone")
    op.drop_table("expiry_announcements")
    op.drop_column("villages", "expiry_day")
    op.drop_column("villages", "expiry_years")
    _swap_kind_check(NEW_KINDS, OLD_KINDS)
