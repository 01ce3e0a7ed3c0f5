"""footage canvass: incidents, cases, coverage, clip requests, clips, notices

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:30:50.315162
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reported_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_listing', ['status', 'priority', 'reported_at'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_number', sa.String(length=100), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('public_reference', sa.String(length=32), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retain_until', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_number'),
    sa.UniqueConstraint('public_reference')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_incident_id'), ['incident_id'], unique=False)

    op.create_table('coverage_spans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('start', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('coverage_spans', schema=None) as batch_op:
        batch_op.create_index('ix_coverage_camera_end', ['camera_id', 'end', 'start'], unique=False)

    op.create_table('clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('manifest', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('actual_from', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actual_to', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('verification', sa.Text(), nullable=False),
    sa.Column('uploaded_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('upload_token_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['footage_requests.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id')
    )
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clips_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clips_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clips_upload_token_hash'), ['upload_token_hash'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('created_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', hub.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['footage_requests.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_business_id'), ['business_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('incident_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_from', hub.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('approved_to', hub.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decision_note', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('decided_how', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('approval_index', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', hub.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('clip_stage', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('clip_detail', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('upload_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_footage_requests_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_footage_requests_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_footage_requests_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_footage_requests_status', ['status', 'expires_at'], unique=False)
        batch_op.create_unique_constraint('uq_footage_requests_upload_token_hash', ['upload_token_hash'])
        batch_op.create_foreign_key('fk_footage_requests_case_id', 'cases', ['case_id'], ['id'])
        batch_op.create_foreign_key('fk_footage_requests_incident_id', 'incidents', ['incident_id'], ['id'])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=320), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's batch mode copies the table and cannot carry an expression index over: put 0007's back.
        op.execute("CREATE UNIQUE INDEX IF NOT EXISTS uq_users_username_lower ON users (lower(username))")

    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.drop_constraint('fk_footage_requests_incident_id', type_='foreignkey')
        batch_op.drop_constraint('fk_footage_requests_case_id', type_='foreignkey')
        batch_op.drop_constraint('uq_footage_requests_upload_token_hash', type_='unique')
        batch_op.drop_index('ix_footage_requests_status')
        batch_op.drop_index(batch_op.f('ix_footage_requests_incident_id'))
        batch_op.drop_index(batch_op.f('ix_footage_requests_expires_at'))
        batch_op.drop_index(batch_op.f('ix_footage_requests_case_id'))
        batch_op.drop_column('upload_token_hash')
        batch_op.drop_column('clip_detail')
        batch_op.drop_column('clip_stage')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('approval_index')
        batch_op.drop_column('decided_how')
        batch_op.drop_column('decision_note')
        batch_op.drop_column('approved_to')
        batch_op.drop_column('approved_from')
        batch_op.drop_column('incident_id')
        batch_op.drop_column('case_id')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_user_id'))
        batch_op.drop_index(batch_op.f('ix_notices_business_id'))

    op.drop_table('notices')
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clips_upload_token_hash'))
        batch_op.drop_index(batch_op.f('ix_clips_case_id'))
        batch_op.drop_index(batch_op.f('ix_clips_camera_id'))

    op.drop_table('clips')
    with op.batch_alter_table('coverage_spans', schema=None) as batch_op:
        batch_op.drop_index('ix_coverage_camera_end')

    op.drop_table('coverage_spans')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_incident_id'))

    op.drop_table('cases')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_listing')

    op.drop_table('incidents')
