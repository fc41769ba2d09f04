"""score history: no per-row foreign-key check, one index by lead

Revision ID: 0022_score_history
Revises: 0021_downloads
Create Date: 2026-12-06 13:40:00.000000

The nightly decay writes a history row for every lead whose score it lowers: at a million
leads PostgreSQL's foreign-key check, a query per inserted row, was a third of the pass (5.8 of
17 s), and each row entered three indexes. Leads are never deleted (erasure overwrites them in
place) and every history row is written beside its lead's score, so the check never refused a
row; the constraint's ON DELETE CASCADE becomes a statement-level trigger on leads
(`leads_forget_score_changes`, PostgreSQL; SQLite never enforced the key).

`ix_score_changes_lead_id` and the partial `ix_score_changes_scored` become one index by lead,
rule, reason and time: the timeline and erasure read its first column; a cap's count
(`reason IS NULL`, an equality to a B-tree) then reaches the time range of the scored rows
only, capped repeats left out, as the partial index did.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022_score_history'
down_revision = '0021_downloads'
branch_labels = None
depends_on = None

FORGET = """
CREATE OR REPLACE FUNCTION leads_forget_score_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM score_changes WHERE lead_id IN (SELECT id FROM gone);
  RETURN NULL;
END
$$
"""
TRIGGER = """
CREATE TRIGGER leads_forget_score_changes AFTER DELETE ON leads
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION leads_forget_score_changes()
"""


def upgrade():
    with op.batch_alter_table('score_changes', schema=None) as batch_op:
        batch_op.drop_constraint('fk_score_changes_lead_id_leads', type_='foreignkey')
        batch_op.drop_index(
            'ix_score_changes_scored',
            postgresql_where=sa.text('reason IS NULL'),
            sqlite_where=sa.text('reason IS NULL'),
        )
        batch_op.drop_index('ix_score_changes_lead_id')
        batch_op.create_index(
            'ix_score_changes_lead', ['lead_id', 'rule', 'reason', 'created_at'], unique=False
        )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(FORGET)
        op.execute(TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER leads_forget_score_changes ON leads')
        op.execute('DROP FUNCTION leads_forget_score_changes()')
    with op.batch_alter_table('score_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_score_changes_lead')
        batch_op.create_index('ix_score_changes_lead_id', ['lead_id'], unique=False)
        batch_op.create_index(
            'ix_score_changes_scored',
            ['lead_id', 'rule', 'created_at'],
            unique=False,
            postgresql_where=sa.text('reason IS NULL'),
            sqlite_where=sa.text('reason IS NULL'),
        )
        batch_op.create_foreign_key(
            'fk_score_changes_lead_id_leads', 'leads', ['lead_id'], ['id'], ondelete='CASCADE'
        )
