"""users.session_generation: logout, password change and deactivation end every session

Revision ID: 0010_accounts
Revises: 0008
Create Date: 2026-12-05 23:50:00.000000

A session remembers the user's public id and this number; the number goes up when the user logs
out, changes password or is deactivated, and a session with an older one is no longer let in, so
a session cookie copied before logout is worthless. Existing rows start at 0; sessions from
before this migration carry no number and must log in again once.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010_accounts'
down_revision = '0009_privacy'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
