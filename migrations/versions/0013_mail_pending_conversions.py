"""pending conversions: a double opt-in's conversion counts once confirmed

Revision ID: 0013_mail
Revises: 0012_speed
Create Date: 2026-12-06 02:00:00.000000

A conversion from a form with double opt-in is recorded as pending and moves no stage and
scores nothing until the e-mail address is confirmed (capture.leads.pending). Existing rows
were all counted when recorded: the server default false keeps them so, without a rewrite.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_mail'
down_revision = '0012_speed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('conversion_events') as batch_op:
        batch_op.add_column(
            sa.Column('pending', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('conversion_events') as batch_op:
        batch_op.drop_column('pending')
