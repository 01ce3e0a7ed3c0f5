"""registered cameras without an appliance: registrations, their cameras, requests to their owners, uploads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), server_default='', nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('manage_salt', sa.String(length=64), nullable=False),
    sa.Column('manage_token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('affirmed_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reconfirm_by', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('manage_token_hash')
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registrations_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_affirmed_at'), ['affirmed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_reconfirm_by'), ['reconfirm_by'], unique=False)
    op.create_table('registered_cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('outdoor', sa.Boolean(), nullable=False),
    sa.Column('view_direction_deg', sa.Float(), nullable=True),
    sa.Column('description', sa.String(length=500), server_default='', nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('shares_past', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('registered_cameras', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registered_cameras_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registered_cameras_latitude'), ['latitude'], unique=False)
        batch_op.create_index(batch_op.f('ix_registered_cameras_longitude'), ['longitude'], unique=False)
    op.create_table('owner_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registered_camera_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('analyst', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=100), server_default='', nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_number', sa.String(length=100), nullable=False),
    sa.Column('window_from', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_to', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('link_token_hash', sa.String(length=64), nullable=False),
    sa.Column('link_expires_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('statement', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ),
    sa.ForeignKeyConstraint(['registered_camera_id'], ['registered_cameras.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('link_token_hash')
    )
    with op.batch_alter_table('owner_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_requests_registered_camera_id'), ['registered_camera_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_owner_requests_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_requests_link_expires_at'), ['link_expires_at'], unique=False)
    op.create_table('owner_uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('container', sa.String(length=100), nullable=False),
    sa.Column('video_codec', sa.String(length=50), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('uploaded_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['owner_requests.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('upload_id')
    )
    with op.batch_alter_table('owner_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_uploads_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_uploads_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_table('owner_uploads')
    op.drop_table('owner_requests')
    op.drop_table('registered_cameras')
    op.drop_table('registrations')
