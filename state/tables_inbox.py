"""The webhook inbox: every verified delivery, stored before the sender gets its 2xx.

Defined on the shared ``state.tables.metadata`` so one schema (and one Alembic history) holds it;
created by revision ``0002``. One row per delivery (a HubSpot batch is split into one row per event).

* ``(system, delivery_key)`` is unique: a redelivery of the same event inserts nothing.
* ``status``: ``pending`` (claimable once ``available_at`` has passed), ``processing`` (claimed by
  ``claimed_by`` until ``lease_until``; claimable again after that), ``done``, ``dead``.
* ``payload`` holds the body as received (decrypted for the OA schemes), byte for byte.
"""

from __future__ import annotations

import sqlalchemy as sa

from state.tables import Moment, metadata, row_id

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    row_id(),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("scheme", sa.String(32), nullable=False),
    sa.Column("delivery_key", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(128), nullable=False, server_default=""),
    sa.Column("headers", sa.Text, nullable=False, server_default="{}"),  # non-secret headers (JSON)
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("received_at", Moment, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("available_at", Moment, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("lease_until", Moment, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("finished_at", Moment, nullable=True),
    sa.UniqueConstraint("system", "delivery_key"),
    sa.Index("ix_webhook_inbox_claim", "status", "available_at"),
)
