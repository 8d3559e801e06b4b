"""catalog settings: values recorded with the catalog (its prompt: domain preset, item fields, templates)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 18:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'catalog_settings',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_catalog_settings')),
    )


def downgrade() -> None:
    op.drop_table('catalog_settings')
