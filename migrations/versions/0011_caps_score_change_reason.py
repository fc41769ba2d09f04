"""score change reason: repeats beyond a scoring rule's cap

Revision ID: 0011_caps
Revises: 0008
Create Date: 2026-12-06 00:00:00.000000

A repeat beyond a rule's cap (`max` per `per` window) is kept in the score history with 0 points
and the reason; the cap counts the rows of its rule without one. Nullable, no default: adding
it rewrites nothing, and every existing row is a scored one.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_caps'
down_revision = '0010_accounts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('score_changes') as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('score_changes') as batch_op:
        batch_op.drop_column('reason')
