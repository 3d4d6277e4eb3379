"""Store operations of probabilistic matching: the blocking index, scorer models, the review queue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.golden import StoredSource
from hub.model import EntityType
from hub.ports import RecordRef, ReviewRow
from state.chunks import chunks as _chunks
from state.tables import INDEX_COLUMNS, identity_constraints, source_records
from state.tables_matching import blocking_keys, match_models, match_reviews

# (system, object) groups of candidates read in one query (each group at most one chunk of ids).
_GROUPS_PER_QUERY = 8


class MatchingOps:
    """Mixed into the store's transaction: every method runs on its connection."""

    conn: Connection
    _placeholder: str
    _time: Any

    # The transaction's own (state/store.py), shared with the deterministic key index.
    def _insert_rows(
        self, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None: ...

    def _replace_index(
        self, table: sa.Table, entries: Sequence[tuple[StoredSource, Sequence[str]]]
    ) -> None: ...

    # --- the blocking index ---------------------------------------------------------------------

    def blocking_members(
        self, entity: EntityType, keys: Iterable[str], max_block: int
    ) -> dict[str, list[tuple[str, str]]]:
        """Key → [(source key, canonical id)] for each key whose block holds at most ``max_block``
        records; a larger block says too little to compare (``hub.identity.blocking``) and is left
        out without being read."""
        wanted = sorted(set(keys))
        mark = self._placeholder
        found: dict[str, list[tuple[str, str]]] = {}
        for part in _chunks(wanted):
            # One round trip: each block counted only up to one past the limit (a common surname's
            # block holds thousands of entries), then the members of the blocks within it.
            values = ", ".join([f"({mark})"] * len(part))
            sql = (
                f"WITH wanted(key) AS (VALUES {values}),"
                " small(key) AS (SELECT wanted.key FROM wanted WHERE (SELECT COUNT(*) FROM"
                " (SELECT 1 FROM blocking_keys b WHERE b.entity_type = "
                f"{mark} AND b.key = wanted.key LIMIT {mark}) AS held) <= {mark})"
                " SELECT b.key, b.source_key, b.canonical_id FROM small"
                f" JOIN blocking_keys b ON b.entity_type = {mark} AND b.key = small.key"
            )
            params = (*part, entity.value, max_block + 1, max_block, entity.value)
            for key, source_key, cid in self.conn.exec_driver_sql(sql, params):
                found.setdefault(key, []).append((source_key, cid))
        return found

    def replace_blocking_keys(self, entries: Sequence[tuple[StoredSource, Sequence[str]]]) -> None:
        """Each source record's blocking keys, replacing what it had; a deleted record has none."""
        self._replace_index(blocking_keys, entries)

    def clear_blocking_keys(self, entity: EntityType) -> None:
        self.conn.execute(
            sa.delete(blocking_keys).where(blocking_keys.c.entity_type == entity.value)
        )

    def add_blocking_keys(self, entity: EntityType, rows: Sequence[tuple[str, str, str]]) -> None:
        """(key, canonical id, source key) rows, for a rebuild of the whole index."""
        self._insert_rows(
            blocking_keys,
            INDEX_COLUMNS,
            [(entity.value, key[:300], cid, source_key) for key, cid, source_key in rows],
        )

    def count_blocking_keys(self, entity: EntityType) -> int:
        t = blocking_keys
        query = sa.select(sa.func.count()).select_from(t).where(t.c.entity_type == entity.value)
        return int(self.conn.execute(query).scalar_one())

    def source_values(self, source_keys: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Source key → (canonical id, values) of live source records."""
        by_object: dict[tuple[str, str], list[str]] = {}
        for key in set(source_keys):
            ref = RecordRef.parse(key)
            by_object.setdefault((ref.system, ref.object), []).append(ref.external_id)
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        mark = self._placeholder
        live = "false" if self.conn.dialect.name == "postgresql" else "0"
        groups = [(system, obj, part) for (system, obj), ids in sorted(by_object.items())
                  for part in _chunks(sorted(ids))]  # fmt: skip
        # Through the driver, in one round trip for every system's candidates (on PostgreSQL a
        # query per system cost a millisecond each): one index range per (system, object).
        for start in range(0, len(groups), _GROUPS_PER_QUERY):
            chosen = groups[start : start + _GROUPS_PER_QUERY]
            where = " OR ".join(
                f"(system = {mark} AND object = {mark}"
                f" AND external_id IN ({', '.join([mark] * len(part))}))"
                for _, _, part in chosen
            )
            params = [value for system, obj, part in chosen for value in (system, obj, *part)]
            sql = (
                'SELECT system, object, external_id, canonical_id, "values" FROM source_records'
                f" WHERE deleted = {live} AND ({where})"
            )
            for system, obj, external_id, cid, values in self.conn.exec_driver_sql(
                sql, tuple(params)
            ):
                found[f"{system}/{obj}/{external_id}"] = (cid, orjson.loads(values))
        return found

    def iter_live_sources(
        self, entity: EntityType, batch: int = 5000
    ) -> Iterable[tuple[str, str, dict[str, Any]]]:
        """(source key, canonical id, values) of every live source record of one entity type, in
        pages by row id (a million records never sit in one result set)."""
        t = source_records
        last = 0
        while True:
            query = (
                sa.select(t.c.id, t.c.system, t.c.object, t.c.external_id, t.c.canonical_id,
                          t.c["values"])
                .where(t.c.entity_type == entity.value, t.c.deleted == sa.false(), t.c.id > last)
                .order_by(t.c.id)
                .limit(batch)
            )  # fmt: skip
            rows = self.conn.execute(query).all()
            if not rows:
                return
            for _, system, obj, external_id, cid, values in rows:
                yield f"{system}/{obj}/{external_id}", cid, orjson.loads(values)
            last = rows[-1][0]

    # --- scorer models --------------------------------------------------------------------------

    def match_model(self, entity: EntityType) -> tuple[str, str] | None:
        """(configuration fingerprint, model JSON) of the trained model for ``entity``."""
        t = match_models
        row = self.conn.execute(
            sa.select(t.c.config_fingerprint, t.c.model).where(t.c.entity_type == entity.value)
        ).first()
        return (row.config_fingerprint, row.model) if row else None

    def save_match_model(
        self,
        entity: EntityType,
        fingerprint: str,
        model_json: str,
        n_records: int,
        run_id: str | None,
    ) -> None:
        t = match_models
        self.conn.execute(sa.delete(t).where(t.c.entity_type == entity.value))
        self.conn.execute(
            sa.insert(t).values(
                entity_type=entity.value,
                config_fingerprint=fingerprint,
                model=model_json,
                n_records=n_records,
                trained_at=datetime.now(UTC),
                run_id=run_id,
            )
        )

    def match_models_trained(self) -> dict[str, tuple[datetime, int, str]]:
        """Entity type → (trained at, records trained on, configuration fingerprint)."""
        t = match_models
        query = sa.select(t.c.entity_type, t.c.trained_at, t.c.n_records, t.c.config_fingerprint)
        return {
            r.entity_type: (r.trained_at, r.n_records, r.config_fingerprint)
            for r in self.conn.execute(query)
        }

    # --- the review queue -----------------------------------------------------------------------

    def add_review(
        self,
        entity: EntityType,
        pair: tuple[str, str],
        sources: tuple[str, str],
        probability: float,
        weight: float,
        detail: dict[str, Any],
        origin: str,
        run_id: str | None,
    ) -> bool:
        """Queue the pair (two canonical ids, and the source record of each the score is about);
        False when the pair was queued before, whatever became of it."""
        (a, a_source), (b, b_source) = sorted(zip(pair, sources, strict=True))
        mark = self._placeholder
        columns = ("entity_type", "a", "b", "a_source", "b_source", "probability", "weight",
                   "detail", "origin", "status", "created_at", "run_id")  # fmt: skip
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join([mark] * len(columns))
        now = self._time(datetime.now(UTC))
        # ON CONFLICT DO NOTHING: two workers proposing one pair at once store it once.
        result = self.conn.exec_driver_sql(
            f"INSERT INTO match_reviews ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING",
            (entity.value, a, b, a_source, b_source, probability, weight,
             orjson.dumps(detail).decode(), origin, "open", now, run_id),
        )  # fmt: skip
        return bool(result.rowcount)

    def reviews(
        self, status: str | None = "open", entity: EntityType | None = None, limit: int = 50
    ) -> list[ReviewRow]:
        t = match_reviews
        query = sa.select(t).order_by(t.c.probability.desc(), t.c.id).limit(limit)
        if status:
            query = query.where(t.c.status == status)
        if entity is not None:
            query = query.where(t.c.entity_type == entity.value)
        return [self._review(r) for r in self.conn.execute(query)]

    def review(self, review_id: int) -> ReviewRow | None:
        t = match_reviews
        row = self.conn.execute(sa.select(t).where(t.c.id == review_id)).first()
        return self._review(row) if row else None

    def count_reviews(self) -> dict[str, int]:
        t = match_reviews
        query = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        return {status: int(count) for status, count in self.conn.execute(query)}

    def settle_review(self, review_id: int, status: str, by: str, note: str | None) -> None:
        t = match_reviews
        self.conn.execute(
            sa.update(t)
            .where(t.c.id == review_id)
            .values(status=status, decided_by=by, decided_at=datetime.now(UTC), note=note)
        )

    @staticmethod
    def _review(row: Any) -> ReviewRow:
        return ReviewRow(
            id=int(row.id),
            entity_type=EntityType(row.entity_type),
            a=row.a,
            b=row.b,
            a_source=row.a_source,
            b_source=row.b_source,
            probability=float(row.probability),
            weight=float(row.weight),
            detail=orjson.loads(row.detail),
            origin=row.origin,
            status=row.status,
            created_at=row.created_at,
            run_id=row.run_id,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            note=row.note,
        )

    def all_constraints(self) -> list[tuple[str, str, str]]:
        """(kind, a, b) of every decision a person (or a merge) made, oldest first."""
        t = identity_constraints
        query = sa.select(t.c.kind, t.c.a, t.c.b).order_by(t.c.id)
        return [(r.kind, r.a, r.b) for r in self.conn.execute(query)]
