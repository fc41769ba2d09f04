"""page counts: views and starts per day and dimensions, without anything about the viewer

Revision ID: 0018_analytics
Revises: 0016_rules
Create Date: 2026-12-06 02:00:00.000000

One row per UTC day and combination of form, landing page, partner, UTM source and medium,
language and variant (hashed into `digest`, so the key stays short); two counters. No address,
identifier or cookie of any viewer exists in it.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_analytics'
down_revision = '0016_rules'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'page_counts',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('digest', sa.String(length=32), nullable=False),
        sa.Column('form', sa.String(length=100), nullable=True),
        sa.Column('page', sa.String(length=100), nullable=True),
        sa.Column('partner', sa.String(length=80), nullable=True),
        sa.Column('source', sa.String(length=200), nullable=True),
        sa.Column('medium', sa.String(length=200), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=True),
        sa.Column('variant', sa.String(length=40), nullable=True),
        sa.Column('views', sa.Integer(), server_default='0', nullable=False),
        sa.Column('starts', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('day', 'digest', name=op.f('pk_page_counts')),
    )


def downgrade():
    op.drop_table('page_counts')
