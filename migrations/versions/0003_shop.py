"""Points shop: items, the stock log, redemptions with lines and voids, closed months; append-only triggers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The shop's history, like the ledger's, is written once: a mistake is corrected by a new row.
APPEND_ONLY_TABLES = (
    "shop_stock_movements",
    "shop_redemptions",
    "shop_redemption_lines",
    "shop_redemption_voids",
    "shop_month_closures",
)


def upgrade():
    op.create_table('shop_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('price_points', sa.Integer(), nullable=False),
    sa.Column('photo', sa.String(length=64), nullable=True),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('monthly_limit', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('monthly_limit IS NULL OR monthly_limit > 0', name=op.f('ck_shop_items_limit_positive')),
    sa.CheckConstraint('price_points > 0', name=op.f('ck_shop_items_price_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_shop_items_stock_not_negative')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_items_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_items')),
    sa.UniqueConstraint('shop_id', 'name', name=op.f('uq_shop_items_shop_id_name'))
    )
    with op.batch_alter_table('shop_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_items_shop_id'), ['shop_id'], unique=False)

    op.create_table('shop_month_closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('total_points', sa.BigInteger(), nullable=False),
    sa.Column('point_value_fen', sa.Integer(), nullable=False),
    sa.Column('value_fen', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_shop_month_closures_actor_id_users')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_month_closures_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_month_closures')),
    sa.UniqueConstraint('shop_id', 'month', name=op.f('uq_shop_month_closures_shop_id_month'))
    )
    with op.batch_alter_table('shop_month_closures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_month_closures_shop_id'), ['shop_id'], unique=False)

    op.create_table('shop_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('total_points', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('total_points > 0', name=op.f('ck_shop_redemptions_total_positive')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_shop_redemptions_actor_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_shop_redemptions_household_id_households')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_redemptions_shop_id_shops')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_shop_redemptions_transaction_id_ledger_transactions')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_shop_redemptions_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_redemptions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_shop_redemptions_idempotency_key')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_shop_redemptions_transaction_id'))
    )
    with op.batch_alter_table('shop_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_redemptions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_redemptions_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_redemptions_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_redemptions_shop_id'), ['shop_id'], unique=False)

    op.create_table('shop_redemption_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('price_points', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_shop_redemption_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['shop_items.id'], name=op.f('fk_shop_redemption_lines_item_id_shop_items')),
    sa.ForeignKeyConstraint(['redemption_id'], ['shop_redemptions.id'], name=op.f('fk_shop_redemption_lines_redemption_id_shop_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_redemption_lines'))
    )
    with op.batch_alter_table('shop_redemption_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_redemption_lines_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_redemption_lines_redemption_id'), ['redemption_id'], unique=False)

    op.create_table('shop_redemption_voids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_shop_redemption_voids_actor_id_users')),
    sa.ForeignKeyConstraint(['redemption_id'], ['shop_redemptions.id'], name=op.f('fk_shop_redemption_voids_redemption_id_shop_redemptions')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_shop_redemption_voids_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_redemption_voids')),
    sa.UniqueConstraint('redemption_id', name=op.f('uq_shop_redemption_voids_redemption_id')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_shop_redemption_voids_transaction_id'))
    )
    with op.batch_alter_table('shop_redemption_voids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_redemption_voids_month'), ['month'], unique=False)

    op.create_table('shop_stock_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('stock_after', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('opening', 'restock', 'redemption', 'void', 'stocktake')", name=op.f('ck_shop_stock_movements_kind')),
    sa.CheckConstraint('stock_after >= 0', name=op.f('ck_shop_stock_movements_stock_after_not_negative')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_shop_stock_movements_actor_id_users')),
    sa.ForeignKeyConstraint(['item_id'], ['shop_items.id'], name=op.f('fk_shop_stock_movements_item_id_shop_items')),
    sa.ForeignKeyConstraint(['redemption_id'], ['shop_redemptions.id'], name=op.f('fk_shop_stock_movements_redemption_id_shop_redemptions')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_stock_movements_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_stock_movements'))
    )
    with op.batch_alter_table('shop_stock_movements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_stock_movements_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_stock_movements_redemption_id'), ['redemption_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_stock_movements_shop_id'), ['shop_id'], unique=False)

    create_append_only_triggers(op.get_bind().dialect.name)


def create_append_only_triggers(dialect: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the shop's history tables."""
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION shop_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'shop history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION shop_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION shop_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'shop history is append-only: {action} on {table} refused'); END"
                )
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"no append-only triggers for {dialect}")


def drop_append_only_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS shop_refuse_change()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def downgrade():
    drop_append_only_triggers(op.get_bind().dialect.name)
    with op.batch_alter_table('shop_stock_movements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_stock_movements_shop_id'))
        batch_op.drop_index(batch_op.f('ix_shop_stock_movements_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_shop_stock_movements_item_id'))
    op.drop_table('shop_stock_movements')
    with op.batch_alter_table('shop_redemption_voids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_redemption_voids_month'))
    op.drop_table('shop_redemption_voids')
    with op.batch_alter_table('shop_redemption_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_redemption_lines_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_shop_redemption_lines_item_id'))
    op.drop_table('shop_redemption_lines')
    with op.batch_alter_table('shop_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_redemptions_shop_id'))
        batch_op.drop_index(batch_op.f('ix_shop_redemptions_month'))
        batch_op.drop_index(batch_op.f('ix_shop_redemptions_household_id'))
        batch_op.drop_index(batch_op.f('ix_shop_redemptions_created_at'))
    op.drop_table('shop_redemptions')
    with op.batch_alter_table('shop_month_closures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_month_closures_shop_id'))
    op.drop_table('shop_month_closures')
    with op.batch_alter_table('shop_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_items_shop_id'))
    op.drop_table('shop_items')
