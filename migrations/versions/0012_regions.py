"""Regions (county → township) above villages, and the region a supervisor oversees.

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def _add_region_column(table: str) -> None:
    # SQLite cannot ALTER in a named foreign key, and a batch copy of villages or users fails once other
    # tables refer to them (foreign_keys=ON): there the reference goes inline in ADD COLUMN, which SQLite allows
    # for a nullable column.
    name = f"fk_{table}_region_id_regions"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN region_id INTEGER CONSTRAINT {name} REFERENCES regions (id)")
    else:
        op.add_column(table, sa.Column("region_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), table, "regions", ["region_id"], ["id"])
    op.create_index(op.f(f"ix_{table}_region_id"), table, ["region_id"], unique=False)


def _drop_region_column(table: str) -> None:
    op.drop_index(op.f(f"ix_{table}_region_id"), table_name=table)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(f"fk_{table}_region_id_regions"), table, type_="foreignkey")
    # SQLite (3.35+) drops a column whose only constraint is its own inline reference in place.
    op.drop_column(table, "region_id")


def upgrade():
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["regions.id"], name=op.f("fk_regions_parent_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
    )
    op.create_index(op.f("ix_regions_parent_id"), "regions", ["parent_id"], unique=False)
    _add_region_column("villages")
    _add_region_column("users")


def downgrade():
    _drop_region_column("users")
    _drop_region_column("villages")
    op.drop_index(op.f("ix_regions_parent_id"), table_name="regions")
    op.drop_table("regions")
