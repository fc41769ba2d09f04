"""config versions: per-process caches of forms, partner origins and webhook endpoints;
submissions keep only the indexes that are read

Revision ID: 0012_speed
Revises: 0011_caps
Create Date: 2026-12-06 02:00:00.000000

Every write to a watched table bumps `config_versions.version` through a trigger, so each app
process can keep what rarely changes and check one number per transaction instead of reading
it all again (capture/base/settled.py). The statements are the ones `create_all` runs.

Every accepted submission wrote `ix_submissions_status` (read only to list the few quarantined
ones) and `ix_submissions_partner` (never read): a partial index over the quarantined rows
replaces both.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012_speed'
down_revision = '0011_caps'
branch_labels = None
depends_on = None

WATCHED = ('forms', 'partners', 'partner_origins', 'webhook_endpoints')
BUMP = (
    "INSERT INTO config_versions (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = config_versions.version + 1"
)
POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bump_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  {BUMP};
  RETURN NULL;
END
$$
"""


def upgrade():
    op.drop_index('ix_submissions_status', table_name='submissions')
    op.drop_index('ix_submissions_partner', table_name='submissions')
    op.create_index(
        'ix_submissions_quarantined',
        'submissions',
        ['id'],
        unique=False,
        postgresql_where=sa.text("status = 'quarantined'"),
        sqlite_where=sa.text("status = 'quarantined'"),
    )
    op.create_table(
        'config_versions',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_config_versions')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES_FUNCTION)
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR "
                f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version()"
            )
    else:
        for table in WATCHED:
            for event in ('INSERT', 'UPDATE', 'DELETE'):
                op.execute(
                    f"CREATE TRIGGER {table}_config_version_{event.lower()} AFTER {event} "
                    f"ON {table} BEGIN {BUMP}; END"
                )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_config_version()")
    else:
        for table in WATCHED:
            for event in ('insert', 'update', 'delete'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version_{event}")
    op.drop_table('config_versions')
    op.drop_index(
        'ix_submissions_quarantined',
        table_name='submissions',
        postgresql_where=sa.text("status = 'quarantined'"),
        sqlite_where=sa.text("status = 'quarantined'"),
    )
    op.create_index('ix_submissions_partner', 'submissions', ['partner'], unique=False)
    op.create_index('ix_submissions_status', 'submissions', ['status'], unique=False)
