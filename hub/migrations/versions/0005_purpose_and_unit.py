"""purpose of footage requests, agency unit of users (for the transparency report)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit', sa.String(length=100), server_default='', nullable=False))
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=32), server_default='other', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.drop_column('purpose')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unit')
