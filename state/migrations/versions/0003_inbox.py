"""webhook inbox

Revision ID: 0003
Revises: 0002

Chained after the outbox (0002, written at the same time) so the history keeps one head.
Create Date: 2026-11-23

Hand-written to match ``state/tables_inbox.py`` exactly on SQLite and PostgreSQL (checked by
``tests/state/test_inbox.py::test_migration_matches_tables``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("delivery_key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=128), server_default="", nullable=False),
        sa.Column("headers", sa.Text(), server_default="{}", nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint("system", "delivery_key", name=op.f("uq_webhook_inbox_system_delivery_key")),
    )
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_inbox_claim", ["status", "available_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_inbox_claim")
    op.drop_table("webhook_inbox")
