"""score history: an index for counting a rule's scored rows in a cap's window

Revision ID: 0021_downloads
Revises: 0020_decay
Create Date: 2026-12-06 05:20:00.000000

A capped rule (the `download` rule among them) counts the lead's scored rows of that rule in
its window on every scoring: a download does it inside its one statement. Through
`ix_score_changes_lead_id` that read every history row of the lead, capped repeats included,
so a download got slower with each earlier one. The partial index holds only scored rows
(`reason IS NULL`) by lead, rule and time: the count reads the few rows in the window.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_downloads'
down_revision = '0020_decay'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_score_changes_scored',
        'score_changes',
        ['lead_id', 'rule', 'created_at'],
        unique=False,
        postgresql_where=sa.text('reason IS NULL'),
        sqlite_where=sa.text('reason IS NULL'),
    )


def downgrade():
    op.drop_index(
        'ix_score_changes_scored',
        table_name='score_changes',
        postgresql_where=sa.text('reason IS NULL'),
        sqlite_where=sa.text('reason IS NULL'),
    )
