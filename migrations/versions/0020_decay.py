"""decay rewrites leads in place (HOT): no index on score, half-empty pages

Revision ID: 0020_decay
Revises: 0019_landing
Create Date: 2026-12-10 05:20:00.000000

The nightly decay (`leadgate scoring decay`) changes the score, band and engagement of most
leads. With `score` indexed, every such update was a new row version with new entries in every
index of `leads`, the four GIN trigram indexes among them (47 s at a million leads). Without
an index on any column decay writes, PostgreSQL updates the row in place on its page (a
heap-only tuple): no index is touched. Score filters walk the list's primary key instead, as
the temperature filter already does.

`fillfactor = 50` leaves half of each page free, so even a pass that changes every lead finds
room for the new versions on the same page. It applies to pages written from now on: existing
rows move onto such pages as they are next updated (run VACUUM FULL or pg_repack in a quiet
hour to have it at once). The index is dropped CONCURRENTLY, outside the migration's
transaction, so submissions are not held off. SQLite has neither HOT nor fillfactor: only the
index goes.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_decay'
down_revision = '0019_landing'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        op.drop_index('ix_leads_score', table_name='leads')
        return
    op.execute('ALTER TABLE leads SET (fillfactor = 50)')
    with op.get_context().autocommit_block():
        op.drop_index('ix_leads_score', table_name='leads', postgresql_concurrently=True)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        op.create_index('ix_leads_score', 'leads', ['score'], unique=False)
        return
    op.execute('ALTER TABLE leads RESET (fillfactor)')
    with op.get_context().autocommit_block():
        op.create_index(
            'ix_leads_score', 'leads', ['score'], unique=False, postgresql_concurrently=True
        )
