"""owners and routing: leads.owner_id, sales teams, routing rules, owner changes

Revision ID: 0015_routing
Revises: 0014_nurture
Create Date: 2026-12-06 01:50:37.633671

A lead's owner is a nullable column (no rewrite of existing rows on PostgreSQL); teams hold a
round-robin turn counter; rules are ordered rows; owner changes are the timeline's record.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0015_routing'
down_revision = '0014_nurture'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sales_teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('fallback', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('turns', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_teams')),
    sa.UniqueConstraint('slug', name=op.f('uq_sales_teams_slug'))
    )
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('conditions', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['sales_teams.id'], name=op.f('fk_routing_rules_team_id_sales_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_routing_rules_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    op.create_table('sales_team_members',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['sales_teams.id'], name=op.f('fk_sales_team_members_team_id_sales_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sales_team_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_sales_team_members'))
    )
    with op.batch_alter_table('sales_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_team_members_user_id'), ['user_id'], unique=False)

    op.create_table('owner_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=True),
    sa.Column('to_email', sa.String(length=320), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_owner_changes_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_changes'))
    )
    with op.batch_alter_table('owner_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_changes_lead_id'), ['lead_id'], unique=False)

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_leads_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_leads_owner_id_users'), 'users', ['owner_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_leads_owner_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_leads_owner_id'))
        batch_op.drop_column('owner_id')

    with op.batch_alter_table('owner_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_owner_changes_lead_id'))

    op.drop_table('owner_changes')
    with op.batch_alter_table('sales_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_team_members_user_id'))

    op.drop_table('sales_team_members')
    op.drop_table('routing_rules')
    op.drop_table('sales_teams')
