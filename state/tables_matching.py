"""Probabilistic matching state: the blocking index, the trained scorer models and the review queue.

Defined on the shared ``state.tables.metadata``; created by revision ``0006``.

* ``blocking_keys``: each live source record's blocking keys (``hub.identity.blocking``), so an
  incoming record finds the records worth comparing with by index look-ups, never a scan. A row
  names its source record (system/object/id) and the golden record it belongs to; relinks move it.
* ``match_models``: one trained ``ScorerModel`` per entity type (JSON), with the fingerprint of the
  configuration it was trained for: a model trained for other comparisons is not used.
* ``match_reviews``: pairs of golden records the matcher scored between the review and the link
  thresholds; ``a`` < ``b``, one row per pair whatever its status (``open``, ``linked``, ``rejected``,
  ``stale`` once either side is gone), so a pair is never proposed twice.
"""

from __future__ import annotations

import sqlalchemy as sa

from state.tables import Moment, metadata, row_id

blocking_keys = sa.Table(
    "blocking_keys",
    metadata,
    row_id(),
    sa.Column("entity_type", sa.String(16), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("canonical_id", sa.String(32), nullable=False),
    sa.Column("source_key", sa.String(450), nullable=False, index=True),
    # Covering: a look-up by key reads the index alone, never the table (the latency of matching
    # one record against a million is mostly these reads).
    sa.Index("ix_blocking_keys_lookup", "entity_type", "key", "canonical_id", "source_key"),
)

match_models = sa.Table(
    "match_models",
    metadata,
    sa.Column("entity_type", sa.String(16), primary_key=True),
    sa.Column("config_fingerprint", sa.String(64), nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("n_records", sa.Integer, nullable=False),
    sa.Column("trained_at", Moment, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
)

match_reviews = sa.Table(
    "match_reviews",
    metadata,
    row_id(),
    sa.Column("entity_type", sa.String(16), nullable=False),
    sa.Column("a", sa.String(32), nullable=False),
    sa.Column("b", sa.String(32), nullable=False),
    sa.Column("a_source", sa.String(450), nullable=False),
    sa.Column("b_source", sa.String(450), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),  # levels, contributions
    sa.Column("origin", sa.String(16), nullable=False),  # incremental | dedupe
    sa.Column("status", sa.String(12), nullable=False, server_default="open"),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("decided_by", sa.String(128), nullable=True),
    sa.Column("decided_at", Moment, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.UniqueConstraint("a", "b"),
    sa.Index("ix_match_reviews_status", "status", "entity_type"),
)
