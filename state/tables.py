"""The hub's schema: one SQLAlchemy metadata for SQLite and PostgreSQL, migrated by Alembic.

JSON payloads are stored as text the hub serialises itself: the same bytes on both engines, which the
audit hash chain needs, and faster than per-row JSON type processing on bulk inserts.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Moment = sa.DateTime(timezone=True)


def row_id(name: str = "id") -> sa.Column[int]:
    """A surrogate key the database numbers: BIGINT, but INTEGER on SQLite, where only an INTEGER
    PRIMARY KEY is the rowid and autoincrements."""
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


source_records = sa.Table(
    "source_records",
    metadata,
    row_id(),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("object", sa.String(128), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("entity_type", sa.String(16), nullable=False),
    sa.Column("canonical_id", sa.String(32), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("values", sa.Text, nullable=False),  # normalised canonical values (JSON)
    sa.Column("field_times", sa.Text, nullable=False),  # {field: ISO time of its last change}
    sa.Column("raw", sa.Text, nullable=False),  # the fields as read (JSON)
    sa.Column("refs", sa.Text, nullable=False, server_default="{}"),
    sa.Column("location", sa.String(512), nullable=False, server_default=""),
    sa.Column("modified_at", Moment, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("first_seen_at", Moment, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
    sa.UniqueConstraint("system", "object", "external_id"),
)

golden_records = sa.Table(
    "golden_records",
    metadata,
    sa.Column("canonical_id", sa.String(32), primary_key=True),
    sa.Column("entity_type", sa.String(16), nullable=False, index=True),
    sa.Column(
        "fields", sa.Text, nullable=False
    ),  # {field: {v, system, object, external_id, at, rule}}
    sa.Column("pinned", sa.Text, nullable=False, server_default="{}"),
    sa.Column("redirect_to", sa.String(32), nullable=True, index=True),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
)

xref = sa.Table(
    "xref",
    metadata,
    row_id(),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("object", sa.String(128), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("canonical_id", sa.String(32), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),  # why it was linked (keys, rule) as JSON
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("linked_at", Moment, nullable=False),
    sa.UniqueConstraint("system", "object", "external_id"),
)

# The columns both key indexes (``match_keys`` here, ``blocking_keys``) are written by.
INDEX_COLUMNS = ("entity_type", "key", "canonical_id", "source_key")

match_keys = sa.Table(
    "match_keys",
    metadata,
    row_id(),
    sa.Column("entity_type", sa.String(16), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("canonical_id", sa.String(32), nullable=False),
    sa.Column(
        "source_key", sa.String(450), nullable=False, index=True
    ),  # system/object/external id
    sa.Index("ix_match_keys_lookup", "entity_type", "key"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("system", sa.String(64), primary_key=True),
    sa.Column("object", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("updated_at", Moment, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False, server_default="cli"),
    sa.Column("systems", sa.Text, nullable=False),  # JSON list
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("counts", sa.Text, nullable=False, server_default="{}"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("report", sa.Text, nullable=True),  # a reconcile run's findings and repairs (JSON)
    sa.Column("started_at", Moment, nullable=False, index=True),
    sa.Column("finished_at", Moment, nullable=True),
)

record_errors = sa.Table(
    "record_errors",
    metadata,
    row_id(),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("severity", sa.String(16), nullable=False),  # rejected | warning
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("object", sa.String(128), nullable=False),
    sa.Column("location", sa.String(512), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", Moment, nullable=False),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("at", Moment, nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True, index=True),
    sa.Column("canonical_id", sa.String(32), nullable=True, index=True),
    sa.Column("system", sa.String(64), nullable=True),
    sa.Column("object", sa.String(128), nullable=True),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row: the last sequence number and hash, moved in the same transaction as every append, so a
# deleted tail is detected too. Appenders lock this row, which serialises the chain across workers.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# --- writes to systems ------------------------------------------------------------------------

# The outbox: one row per pending write, added in the same transaction as the golden-record change
# that causes it. A pending row for the same record is updated in place (the newest state wins);
# a claimed row carries a lease, so a dispatcher that dies mid-batch leaves rows others retake.
outbox = sa.Table(
    "outbox",
    metadata,
    row_id(),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("object", sa.String(128), nullable=False),
    sa.Column("canonical_id", sa.String(32), nullable=False),
    sa.Column("op", sa.String(8), nullable=False),  # upsert | delete
    sa.Column("payload", sa.Text, nullable=False),  # the system's fields (JSON)
    sa.Column(
        "canonical", sa.Text, nullable=False, server_default="{}"
    ),  # the golden values it carries
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column(
        "status", sa.String(12), nullable=False
    ),  # pending | inflight | done | dead | discarded
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Moment, nullable=False),
    sa.Column("lease_until", Moment, nullable=True),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
    sa.Index("ix_outbox_due", "status", "system", "next_attempt_at"),
    sa.Index("ix_outbox_record", "system", "object", "canonical_id", "status"),
)

# What the hub last wrote to each record of each system, as a fingerprint of the canonical values
# it carried: a write that would change nothing is skipped, and the same values read back are an echo.
system_writes = sa.Table(
    "system_writes",
    metadata,
    sa.Column("system", sa.String(64), primary_key=True),
    sa.Column("object", sa.String(128), primary_key=True),
    sa.Column("canonical_id", sa.String(32), primary_key=True),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("written", sa.Text, nullable=False, server_default="{}"),  # those values (JSON)
    sa.Column("written_at", Moment, nullable=False),
)

# A person's (or a merge's) decision about two golden records: must-link or cannot-link. The matcher
# and the batch dedupe honour them; they are kept even after the records merge or split again.
identity_constraints = sa.Table(
    "identity_constraints",
    metadata,
    row_id(),
    sa.Column("kind", sa.String(12), nullable=False),  # must_link | cannot_link
    sa.Column("a", sa.String(450), nullable=False, index=True),  # canonical id or system/object/id
    sa.Column("b", sa.String(450), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=False),
    sa.Column("at", Moment, nullable=False),
)

# Calls made within the current rate window of each shared budget (one row a call; old rows go as
# the window rolls). See state/rate_windows.py.
api_call_log = sa.Table(
    "api_call_log",
    metadata,
    row_id(),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # epoch seconds
    sa.Index("ix_api_call_log_key_at", "key", "at"),
)

import state.tables_inbox  # noqa: E402  (the inbox tables share this metadata)
import state.tables_matching  # noqa: E402, F401  (the matching tables share this metadata)
