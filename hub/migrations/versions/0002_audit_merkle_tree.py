"""audit merkle tree

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:12:36.505461
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size')
    )
    op.create_table('audit_nodes',
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('idx', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx')
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_index', sa.BigInteger(), nullable=True))
    _backfill()
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.alter_column('leaf_index', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint('uq_audit_entries_leaf_index', ['leaf_index'])


def _backfill() -> None:
    """Entries written before the tree existed become its first leaves, in the order they were written."""
    from sqlalchemy.orm import Session

    from hub.audit.log import SIZE_COUNTER, DbTree, canonical
    from hub.tables import AuditEntry, Counter
    from wire import merkle

    session = Session(bind=op.get_bind())
    rows = session.execute(sa.text("SELECT id FROM audit_entries ORDER BY id")).scalars().all()
    for index, row_id in enumerate(rows):
        session.execute(sa.text("UPDATE audit_entries SET leaf_index = :i WHERE id = :id"), {"i": index, "id": row_id})
    session.flush()
    for index, row_id in enumerate(rows):
        entry = session.get(AuditEntry, row_id)
        DbTree(session, index + 1).add_leaf(index, merkle.leaf_hash(canonical(entry)))
    session.add(Counter(name=SIZE_COUNTER, value=len(rows)))
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_entries_leaf_index', type_='unique')
        batch_op.drop_column('leaf_index')

    op.drop_table('audit_nodes')
    op.drop_table('audit_checkpoints')

