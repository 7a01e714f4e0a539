"""Events, check-ins (one per member and event) and the audit log of every scan.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('rotating', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_events_created_by_users')),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_events_rule_id_rules')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_events_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_village_id'), ['village_id'], unique=False)

    op.create_table('event_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_event_checkins_actor_id_users')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_event_checkins_claim_id_claims')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_checkins_event_id_events')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_event_checkins_household_id_households')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_event_checkins_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_checkins')),
    sa.UniqueConstraint('event_id', 'member_id', name=op.f('uq_event_checkins_event_id_member_id'))
    )
    with op.batch_alter_table('event_checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_checkins_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_checkins_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_checkins_member_id'), ['member_id'], unique=False)

    op.create_table('event_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('token', sa.String(length=80), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('checkin_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('device', sa.String(length=200), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_event_scans_actor_id_users')),
    sa.ForeignKeyConstraint(['checkin_id'], ['event_checkins.id'], name=op.f('fk_event_scans_checkin_id_event_checkins')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_scans_event_id_events')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_event_scans_household_id_households')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_event_scans_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_scans')),
    sa.UniqueConstraint('event_id', 'nonce', name=op.f('uq_event_scans_event_id_nonce'))
    )
    with op.batch_alter_table('event_scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_scans_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_scans_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_scans_household_id'), ['household_id'], unique=False)



def downgrade():
    with op.batch_alter_table('event_scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_scans_household_id'))
        batch_op.drop_index(batch_op.f('ix_event_scans_event_id'))
        batch_op.drop_index(batch_op.f('ix_event_scans_actor_id'))

    op.drop_table('event_scans')
    with op.batch_alter_table('event_checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_checkins_member_id'))
        batch_op.drop_index(batch_op.f('ix_event_checkins_household_id'))
        batch_op.drop_index(batch_op.f('ix_event_checkins_event_id'))

    op.drop_table('event_checkins')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_village_id'))
        batch_op.drop_index(batch_op.f('ix_events_rule_id'))

    op.drop_table('events')
