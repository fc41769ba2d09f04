"""scoring versions: rules and conversion kinds edited at run time

Revision ID: 0016_rules
Revises: 0015_routing
Create Date: 2026-12-06 02:00:00.000000

One row per save of the scoring rules and conversion kinds, never updated; the highest id is in
force. Empty on upgrade: the configuration stays in force (it is the seed) until the first save.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0016_rules'
down_revision = '0015_routing'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scoring_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('kinds', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('change', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('via', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['users.id'],
            name=op.f('fk_scoring_versions_created_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_versions')),
    )
    # A saved version bumps config_versions (0012_speed), the counter every request reads.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE TRIGGER scoring_versions_config_version AFTER INSERT OR UPDATE OR DELETE OR "
            "TRUNCATE ON scoring_versions FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version()"
        )
    else:
        for event in ('INSERT', 'UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER scoring_versions_config_version_{event.lower()} AFTER {event} "
                "ON scoring_versions BEGIN INSERT INTO config_versions (id, version) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET version = config_versions.version + 1; END"
            )


def downgrade():
    op.drop_table('scoring_versions')  # its triggers go with it
