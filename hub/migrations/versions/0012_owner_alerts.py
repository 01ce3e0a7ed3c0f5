"""owner alerts and the audit log's search keys: cameras an entry is about, its purpose, indexed; what each box
witnessed; owners' e-mail alert settings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:00:00

Existing entries get their purpose (from their details) and their cameras (from their object and details), in
batches, so the auditor's and the owner's searches find them too.
"""
import json

from alembic import op
import sqlalchemy as sa
import hub.tables
from hub.audit.subjects import cameras_named


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BATCH = 1000


def _camera_business(bind, named) -> dict[int, int]:
    ids = set(named.camera_ids)
    for request_id in named.request_ids:
        ids |= {r for (r,) in bind.execute(sa.text("SELECT camera_id FROM footage_requests WHERE id = :i"),
                                            {"i": request_id})}
    for clip_id in named.clip_ids:
        ids |= {r for (r,) in bind.execute(sa.text("SELECT camera_id FROM clips WHERE id = :i"), {"i": clip_id})}
    for read_id in named.read_ids:
        ids |= {r for (r,) in bind.execute(sa.text("SELECT camera_id FROM plate_reads WHERE id = :i"),
                                            {"i": read_id})}
    found = {}
    for camera_id in ids:
        for c, b in bind.execute(sa.text("SELECT c.id, a.business_id FROM cameras c JOIN appliances a ON "
                                         "a.id = c.appliance_id WHERE c.id = :i"), {"i": camera_id}):
            found[c] = b
    for device_id, name in named.by_name:
        for c, b in bind.execute(sa.text("SELECT c.id, a.business_id FROM cameras c JOIN appliances a ON "
                                         "a.id = c.appliance_id WHERE a.device_id = :d AND c.name = :n"),
                                 {"d": device_id, "n": name}):
            found[c] = b
    return found


def _backfill() -> None:
    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(sa.text("SELECT leaf_index, object, details FROM audit_entries WHERE leaf_index > :l "
                                    "ORDER BY leaf_index LIMIT :n"), {"l": last, "n": BATCH}).all()
        if not rows:
            return
        for leaf_index, obj, details in rows:
            details = json.loads(details) if isinstance(details, str) else (details or {})
            purpose = details.get("purpose")
            if isinstance(purpose, str) and purpose:
                bind.execute(sa.text("UPDATE audit_entries SET purpose = :p WHERE leaf_index = :l"),
                             {"p": purpose[:32], "l": leaf_index})
            for camera_id, business_id in _camera_business(bind, cameras_named(obj or "", details)).items():
                bind.execute(sa.text("INSERT INTO audit_subjects (leaf_index, camera_id, business_id) "
                                     "VALUES (:l, :c, :b)"), {"l": leaf_index, "c": camera_id, "b": business_id})
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=32), server_default='', nullable=False))
        batch_op.create_index('ix_audit_entries_case_number', ['case_number', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_entries_actor', ['actor', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_entries_purpose', ['purpose', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_entries_outcome', ['outcome', 'leaf_index'], unique=False)
    op.create_table('audit_subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_subjects_leaf_index', 'audit_subjects', ['leaf_index'], unique=False)
    op.create_index('ix_audit_subjects_camera', 'audit_subjects', ['camera_id', 'leaf_index'], unique=False)
    op.create_index('ix_audit_subjects_business', 'audit_subjects', ['business_id', 'leaf_index'], unique=False)
    with op.batch_alter_table('appliances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('witnessed_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('witnessed_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('witnessed_at', hub.tables.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offline_since', hub.tables.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', hub.tables.UTCDateTime(timezone=True), nullable=True))
    op.create_table('owner_alert_settings',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('camera_offline_after_s', sa.Integer(), nullable=True),
    sa.Column('request_emails', sa.Boolean(), nullable=False),
    sa.Column('request_reminder_after_s', sa.Integer(), nullable=True),
    sa.Column('updated_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('offline_alerts_sent',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('offline_since', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'camera_id')
    )
    _backfill()


def downgrade() -> None:
    op.drop_table('offline_alerts_sent')
    op.drop_table('owner_alert_settings')
    op.drop_column('footage_requests', 'reminded_at')
    op.drop_column('cameras', 'offline_since')
    for column in ('witnessed_at', 'witnessed_size', 'witnessed_note'):
        op.drop_column('appliances', column)
    op.drop_index('ix_audit_subjects_business', table_name='audit_subjects')
    op.drop_index('ix_audit_subjects_camera', table_name='audit_subjects')
    op.drop_index('ix_audit_subjects_leaf_index', table_name='audit_subjects')
    op.drop_table('audit_subjects')
    for name in ('ix_audit_entries_outcome', 'ix_audit_entries_purpose', 'ix_audit_entries_actor',
                 'ix_audit_entries_case_number'):
        op.drop_index(name, table_name='audit_entries')
    op.drop_column('audit_entries', 'purpose')
