"""owners hold their own keys: owner passkeys, which boxes hold them, owner-signed policies and approvals

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:00:00

Consent versions and approvals from before this revision carry no owner signature (`signed` and
`owner_approval` stay NULL): the hub no longer sends them and the boxes no longer accept hub-signed policies,
so sharing of those cameras is off until their owners sign a policy with a passkey paired at the box.
"""
from alembic import op
import sqlalchemy as sa
import hub.tables


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner_passkeys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", hub.tables.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "appliance_owner_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("appliance_id", sa.Integer(), sa.ForeignKey("appliances.id"), nullable=False, index=True),
        sa.Column("passkey_id", sa.Integer(), sa.ForeignKey("owner_passkeys.id"), nullable=False, index=True),
        sa.Column("fingerprint", sa.String(40), nullable=False),
        sa.Column("paired_at", hub.tables.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("appliance_id", "passkey_id"),
    )
    with op.batch_alter_table("consent_versions") as batch:
        batch.add_column(sa.Column("signed", sa.Text(), nullable=True))
    with op.batch_alter_table("footage_requests") as batch:
        batch.add_column(sa.Column("owner_approval", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("footage_requests") as batch:
        batch.drop_column("owner_approval")
    with op.batch_alter_table("consent_versions") as batch:
        batch.drop_column("signed")
    op.drop_table("appliance_owner_keys")
    op.drop_table("owner_passkeys")
