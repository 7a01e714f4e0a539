"""Member tags (身份标签): a village's list of tags and the tags each member carries.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    # Plain nullable columns add in place on SQLite; null reads as "the defaults" (village) or "none" (member).
    op.add_column("villages", sa.Column("member_tags", sa.JSON(), nullable=True))
    op.add_column("members", sa.Column("tags", sa.JSON(), nullable=True))


def downgrade():
    op.drop_column("members", "tags")
    op.drop_column("villages", "member_tags")
