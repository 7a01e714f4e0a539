"""Identity numbers record the id of the key that protects them, so the keys can be rotated.

Every number stored before this revision was made with the key derived from SECRET_KEY, key id 0.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_number_key_id", sa.Integer(), nullable=True))
    op.execute("UPDATE members SET id_number_key_id = 0 WHERE id_number_encrypted IS NOT NULL")


def downgrade():
    # Only numbers under key 0 stay readable by the older code: run rotate-keys back to key 0 first.
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("id_number_key_id")
