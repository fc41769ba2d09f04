"""lead search trigram index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 15:32:21.523734

The back office's text search (`ILIKE '%text%'` over e-mail, first and last name, company)
reads every lead without these: one GIN trigram index per column, PostgreSQL only. pg_trgm is
a trusted extension since PostgreSQL 13, so the database owner may create it; it goes into
`public`, which the indexes name, whatever the search_path. The indexes are built
CONCURRENTLY (outside the migration's transaction): a plain CREATE INDEX would hold off every
submission for as long as the build takes at a million leads. SQLite gets none.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = ('email', 'first_name', 'last_name', 'company')
EXTENSION = """
DO $$ BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL;
END $$
"""


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(EXTENSION)
    with op.get_context().autocommit_block():
        for column in COLUMNS:
            op.create_index(
                f'ix_leads_{column}_trgm',
                'leads',
                [column],
                unique=False,
                postgresql_using='gin',
                postgresql_ops={column: 'public.gin_trgm_ops'},
                postgresql_concurrently=True,
            )


def downgrade():
    # The extension stays: it is the database's, and other schemas' objects may use it.
    if op.get_bind().dialect.name != 'postgresql':
        return
    for column in reversed(COLUMNS):
        op.drop_index(f'ix_leads_{column}_trgm', table_name='leads', if_exists=True)
