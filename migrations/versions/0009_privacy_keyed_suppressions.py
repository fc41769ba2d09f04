"""privacy: keyed suppression entries

Revision ID: 0009_privacy
Revises: 0008
Create Date: 2026-12-05 23:40:00.000000

Suppression entries were a plain SHA-256 of the address, which anyone with a list of addresses
can reverse. They become an HMAC keyed with SUPPRESSION_KEY (`email_hmac`). The old hashes
cannot be re-keyed (the addresses are gone, as they should be), and keeping them would keep the
reversible value, so they are dropped: the rows stay as counts of erasures (`email_hmac` NULL)
but no longer recognise their address. See docs/privacy.md. Downgrading cannot bring the plain
hashes back: it empties the table.

People erased before this version keep working links to nothing: their download links are
revoked and their downloads lose IP address and user agent here, as erasure does now. (Their
quarantined submissions and e-mails could only be found by the address, which is gone.)
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_privacy'
down_revision = '0008'
branch_labels = None
depends_on = None


ERASED_LEADS = "SELECT id FROM leads WHERE erased_at IS NOT NULL"


def upgrade():
    op.execute(sa.text(
        "UPDATE download_grants SET revoked_at = CURRENT_TIMESTAMP, revoked_by = 'erasure'"
        f" WHERE revoked_at IS NULL AND lead_id IN ({ERASED_LEADS})"
    ))
    op.execute(sa.text(
        f"UPDATE downloads SET ip = NULL, user_agent = NULL WHERE lead_id IN ({ERASED_LEADS})"
    ))
    with op.batch_alter_table('suppressions') as batch:
        batch.add_column(sa.Column('email_hmac', sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f('uq_suppressions_email_hmac'), ['email_hmac'])
        batch.drop_constraint(op.f('uq_suppressions_email_sha256'), type_='unique')
        batch.drop_column('email_sha256')


def downgrade():
    op.execute(sa.text('DELETE FROM suppressions'))
    with op.batch_alter_table('suppressions') as batch:
        batch.add_column(sa.Column('email_sha256', sa.String(length=64), nullable=False))
        batch.create_unique_constraint(op.f('uq_suppressions_email_sha256'), ['email_sha256'])
        batch.drop_constraint(op.f('uq_suppressions_email_hmac'), type_='unique')
        batch.drop_column('email_hmac')
