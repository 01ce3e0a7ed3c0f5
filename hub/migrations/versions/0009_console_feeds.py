"""analyst console feeds: paused cameras, plate thumbnails and look-alike search, hits handled, hot-list regions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00

Existing reads get their canonical plate (the look-alike table as it stands in wire.plates on this date, copied
here so the migration does not change if the table does); existing hot-list hits get their read, list and
reason from the read and the alert's message.
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_CANONICAL = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "Z": "2", "S": "5", "G": "6", "B": "8"})


def _backfill_reads() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, plate FROM plate_reads")).all()
    for read_id, plate in rows:
        bind.execute(sa.text("UPDATE plate_reads SET plate_canonical = :c WHERE id = :id"),
                     {"c": plate.upper().translate(_CANONICAL), "id": read_id})


def _backfill_hits() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT a.id, a.message, r.id, r.plate, r.hotlist FROM alerts a JOIN plate_reads r ON r.event_id = a.event_id"
        " WHERE a.kind = 'hotlist_hit'")).all()
    for alert_id, message, read_id, plate, list_name in rows:
        prefix = f"{plate} on {list_name}: "
        reason = message[len(prefix):] if list_name and message.startswith(prefix) else None
        bind.execute(sa.text("UPDATE alerts SET read_id = :r, list_name = :l, reason = :why WHERE id = :id"),
                     {"r": read_id, "l": list_name, "why": reason[:500] if reason else reason, "id": alert_id})


def upgrade() -> None:
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sharing_paused', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('hotlist_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=16), server_default='', nullable=False))
    with op.batch_alter_table('plate_reads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plate_canonical', sa.String(length=10), server_default='', nullable=False))
    _backfill_reads()
    with op.batch_alter_table('plate_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plate_reads_plate_canonical'), ['plate_canonical'], unique=False)
        batch_op.create_index(batch_op.f('ix_plate_reads_first_seen'), ['first_seen'], unique=False)
    op.create_table('plate_thumbnails',
    sa.Column('read_id', sa.Integer(), nullable=False),
    sa.Column('jpeg', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['read_id'], ['plate_reads.id'], ),
    sa.PrimaryKeyConstraint('read_id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('list_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('entry_plate', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', hub.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismissed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('dismissed_at', hub.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_alerts_read_id'), ['read_id'], unique=False)
        batch_op.create_index('ix_alerts_kind_at', ['kind', 'at'], unique=False)
        batch_op.create_foreign_key('fk_alerts_read_id_plate_reads', 'plate_reads', ['read_id'], ['id'])
    _backfill_hits()


def downgrade() -> None:
    # `alerts` is rebuilt (its foreign key to plate_reads goes); the other tables drop their columns in place
    # (SQLite 3.35+), since rebuilding them would drop tables other rows refer to.
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_alerts_read_id_plate_reads', type_='foreignkey')
        batch_op.drop_index('ix_alerts_kind_at')
        batch_op.drop_index(batch_op.f('ix_alerts_read_id'))
        for column in ('note', 'dismissed_at', 'dismissed_by', 'acknowledged_at', 'acknowledged_by', 'reason',
                       'entry_plate', 'list_name', 'read_id'):
            batch_op.drop_column(column)
    op.drop_table('plate_thumbnails')
    op.drop_index('ix_plate_reads_first_seen', table_name='plate_reads')
    op.drop_index('ix_plate_reads_plate_canonical', table_name='plate_reads')
    op.drop_column('plate_reads', 'plate_canonical')
    op.drop_column('hotlist_entries', 'region')
    op.drop_column('cameras', 'sharing_paused')
