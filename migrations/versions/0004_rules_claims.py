"""Scoring rules with their versions; claims, their history and objections.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('council', sa.String(length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('monthly_cap', sa.Integer(), nullable=True),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('approvals_required', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.CheckConstraint("unit IN ('each', 'hour')", name=op.f('ck_rules_unit')),
    sa.CheckConstraint('approvals_required IN (1, 2)', name=op.f('ck_rules_approvals_required')),
    sa.CheckConstraint('notice_days >= 0', name=op.f('ck_rules_notice_days')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rules_created_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_rules_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rules'))
    )
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rules_village_id'), ['village_id'], unique=False)

    op.create_table('rule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('council', sa.String(length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('monthly_cap', sa.Integer(), nullable=True),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('approvals_required', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rule_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_rule_versions_rule_id_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_versions')),
    sa.UniqueConstraint('rule_id', 'version', name=op.f('uq_rule_versions_rule_id_version'))
    )
    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_versions_rule_id'), ['rule_id'], unique=False)

    op.create_table('claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('rule_version_id', sa.Integer(), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('council', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('first_approver_id', sa.Integer(), nullable=True),
    sa.Column('notice_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('photo_name', sa.String(length=80), nullable=True),
    sa.Column('photo_type', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('villager', 'clerk', 'checkin')", name=op.f('ck_claims_source')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'in_notice', 'posted', 'rejected', 'disputed')", name=op.f('ck_claims_status')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_claims_quantity')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_claims_created_by_id_users')),
    sa.ForeignKeyConstraint(['first_approver_id'], ['users.id'], name=op.f('fk_claims_first_approver_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_claims_household_id_households')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_claims_member_id_members')),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_claims_rule_id_rules')),
    sa.ForeignKeyConstraint(['rule_version_id'], ['rule_versions.id'], name=op.f('fk_claims_rule_version_id_rule_versions')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_claims_transaction_id_ledger_transactions')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_claims_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claims')),
    sa.UniqueConstraint('source_key', name=op.f('uq_claims_source_key'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claims_household_id_rule_id', ['household_id', 'rule_id'], unique=False)
        batch_op.create_index('ix_claims_status_notice_ends_at', ['status', 'notice_ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_village_id'), ['village_id'], unique=False)

    op.create_table('claim_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_claim_actions_actor_id_users')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_claim_actions_claim_id_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_actions'))
    )
    with op.batch_alter_table('claim_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_actions_claim_id'), ['claim_id'], unique=False)

    op.create_table('claim_objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_claim_objections_claim_id_claims')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_claim_objections_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_objections'))
    )
    with op.batch_alter_table('claim_objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_objections_claim_id'), ['claim_id'], unique=False)



def downgrade():
    with op.batch_alter_table('claim_objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_objections_claim_id'))

    op.drop_table('claim_objections')
    with op.batch_alter_table('claim_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_actions_claim_id'))

    op.drop_table('claim_actions')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claims_village_id'))
        batch_op.drop_index('ix_claims_status_notice_ends_at')
        batch_op.drop_index('ix_claims_household_id_rule_id')

    op.drop_table('claims')
    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_versions_rule_id'))

    op.drop_table('rule_versions')
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rules_village_id'))

    op.drop_table('rules')
