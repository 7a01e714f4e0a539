"""A village group's place in the village's own order (一组 before 十组; free-text names by position).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # Null means "by name, numbers read as numbers"; a plain nullable column adds in place on SQLite.
    op.add_column("village_groups", sa.Column("position", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("village_groups", "position")
