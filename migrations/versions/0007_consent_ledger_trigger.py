"""consent ledger: append-only enforced by PostgreSQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:45:00

A row trigger refuses UPDATE and DELETE on consent_records unless erasure of the person set
`leadgate.erasing` for its own transaction (capture/leads/consent.py). SQLite has no such
guard; the ORM's checks are all it gets.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION consent_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('leadgate.erasing', true), '') <> 'on' THEN
    RAISE EXCEPTION 'consent_records is append-only: add a new record (erasure excepted)'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$
"""
TRIGGER = """
CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records
FOR EACH ROW EXECUTE FUNCTION consent_records_append_only()
"""


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP TRIGGER IF EXISTS consent_records_append_only ON consent_records')
    op.execute('DROP FUNCTION IF EXISTS consent_records_append_only()')
