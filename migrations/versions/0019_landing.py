"""multilingual landing pages and their A/B variants

Revision ID: 0019_landing
Revises: 0018_analytics
Create Date: 2026-12-06 02:00:00.000000

`magnets.texts`: the landing page in other languages, cover alt and button texts (nullable:
existing magnets keep their one language). `landing_variants`: the versions of a page in an
A/B test (its views are the analytics counters' `page_counts` rows by page and variant).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0019_landing'
down_revision = '0018_analytics'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    with op.batch_alter_table('magnets') as batch_op:
        batch_op.add_column(sa.Column('texts', JSON, nullable=True))
    op.create_table(
        'landing_variants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('magnet_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=8), nullable=False),
        sa.Column('is_control', sa.Boolean(), nullable=False),
        sa.Column('texts', JSON, nullable=False),
        sa.Column('cover_key', sa.String(length=200), nullable=True),
        sa.Column('cover_type', sa.String(length=40), nullable=True),
        sa.Column('cover_sha256', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['magnet_id'], ['magnets.id'], name=op.f('fk_landing_variants_magnet_id_magnets'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_landing_variants')),
        sa.UniqueConstraint('magnet_id', 'key', name=op.f('uq_landing_variants_magnet_id')),
    )
    with op.batch_alter_table('landing_variants') as batch_op:
        batch_op.create_index(batch_op.f('ix_landing_variants_magnet_id'), ['magnet_id'], unique=False)

def downgrade():
    with op.batch_alter_table('landing_variants') as batch_op:
        batch_op.drop_index(batch_op.f('ix_landing_variants_magnet_id'))
    op.drop_table('landing_variants')
    with op.batch_alter_table('magnets') as batch_op:
        batch_op.drop_column('texts')
