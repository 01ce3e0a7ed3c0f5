"""stream sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:10:00
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stream_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.String(length=36), nullable=False),
    sa.Column('analyst', sa.String(length=100), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_number', sa.String(length=100), nullable=False),
    sa.Column('started_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('grant_id')
    )
    with op.batch_alter_table('stream_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stream_sessions_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stream_sessions_analyst'), ['analyst'], unique=False)


def downgrade() -> None:
    op.drop_table('stream_sessions')
