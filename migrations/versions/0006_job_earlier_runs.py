"""jobs.earlier_runs_s: the seconds of a job's earlier runs, so a resumed job's run time is the sum of its runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 05:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('earlier_runs_s', sa.Float(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('earlier_runs_s')
