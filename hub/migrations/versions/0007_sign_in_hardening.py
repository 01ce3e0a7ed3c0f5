"""sign-in hardening: throttle counters, TOTP replay guard, user names unique regardless of case

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:40:00

`login_failures` (failures per user name only) gives way to `sign_in_counters` (per account and address, per
address, per account: see hub.throttle); its rows are only minutes old by design and are not carried over.
The upgrade stops, changing nothing, if two user names differ only in case: an admin must rename one first.
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _refuse_names_differing_only_in_case() -> None:
    clashes = op.get_bind().execute(sa.text(
        "SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1")).scalars().all()
    if clashes:
        raise RuntimeError("user names differing only in case cannot stay: " + ", ".join(sorted(clashes))
                           + "; rename all but one of each, then run the migration again")


def upgrade() -> None:
    _refuse_names_differing_only_in_case()
    op.create_table('sign_in_counters',
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('account', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('trusted_until', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'account', 'source')
    )
    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_counters_window_start'), ['window_start'], unique=False)
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_username_at')
    op.drop_table('login_failures')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)


def downgrade() -> None:
    op.drop_index('uq_users_username_lower', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('at', hub.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_username_at', ['username', 'at'], unique=False)
    op.drop_table('sign_in_counters')
