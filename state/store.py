"""The SQL store: every read and write of the hub's state, in batches, inside one transaction.

``SqlStore.transaction()`` yields a ``SqlTransaction``; everything done through it commits together
(source records, xref, golden records, match keys, audit events, record errors, the cursor), which is
what makes "a change is stored before its cursor advances" and "audit in the same transaction" hold.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.audit import GENESIS, AuditEvent, ChainReport, chain_digest, chain_hash, dumps, moment
from hub.golden import GoldenRecord, GoldenValue, StoredSource
from hub.identity.keys import MatchKey
from hub.model import EntityType
from hub.ports import RecordRef, Rejection
from state import db
from state.chunks import chunks as _chunks
from state.identity_store import IdentityOps
from state.matching_store import MatchingOps
from state.outbox_store import OutboxOps
from state.tables import (
    INDEX_COLUMNS,
    audit_events,
    audit_head,
    cursors,
    golden_records,
    match_keys,
    record_errors,
    runs,
    source_records,
    xref,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite ``DateTime`` stores it: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``
    (``isoformat`` pads the year to four digits as SQLAlchemy does, and is faster than strftime)."""
    if value.tzinfo is not None:
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _as_is(value: Any) -> Any:
    return value


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _json_or_empty(value: dict[str, Any]) -> str:
    return _json(value) if value else "{}"


_SOURCE_COLUMNS = (
    "system",
    "object",
    "external_id",
    "entity_type",
    "canonical_id",
    "fingerprint",
    "values",
    "field_times",
    "raw",
    "refs",
    "location",
    "modified_at",
    "deleted",
    "first_seen_at",
    "updated_at",
)
# An update keeps the identity (system, object, external id) and ``first_seen_at``.
_SOURCE_UPDATED = (*_SOURCE_COLUMNS[3:13], "updated_at")
_GOLDEN_COLUMNS = (
    "canonical_id",
    "entity_type",
    "fields",
    "pinned",
    "redirect_to",
    "deleted",
    "version",
    "created_at",
    "updated_at",
)
_XREF_COLUMNS = ("system", "object", "external_id", "canonical_id", "reason", "run_id", "linked_at")
_AUDIT_COLUMNS = (
    "seq",
    "at",
    "event",
    "run_id",
    "canonical_id",
    "system",
    "object",
    "external_id",
    "detail",
    "prev_hash",
    "hash",
)


def _changed_times_json(times: dict[str, datetime], modified_at: datetime) -> str:
    """Only the field times that differ from the record's own change time are stored: most do not."""
    if not times or all(t == modified_at for t in times.values()):
        return "{}"
    return _json({k: v.isoformat() for k, v in times.items() if v != modified_at})


def _times_from_json(text: str) -> dict[str, datetime]:
    if text == "{}":
        return {}
    return {k: _utc(datetime.fromisoformat(v)) for k, v in orjson.loads(text).items()}


_ENTITY_TYPES = {e.value: e for e in EntityType}  # calling the enum is a slow Python path


@dataclass(slots=True)
class RunRow:
    id: str
    kind: str
    trigger: str
    systems: list[str]
    status: str
    counts: dict[str, int]
    error: str | None
    report: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(slots=True)
class ErrorRow:
    run_id: str
    severity: str
    system: str
    object: str
    location: str
    external_id: str | None
    reason: str


class SqlTransaction(OutboxOps, IdentityOps, MatchingOps):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_postgres = conn.dialect.name == "postgresql"
        self._placeholder = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
        # Values in the form the driver stores them as SQLAlchemy's column types would: psycopg
        # adapts times and booleans itself, SQLite gets SQLAlchemy's text and 0/1.
        self._time: Any = _as_is if self.is_postgres else _sqlite_time
        self._bool: Any = _as_is if self.is_postgres else int
        self._inserts: dict[tuple[str, tuple[str, ...]], str] = {}

    def _insert_rows(
        self, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert many rows through the driver's executemany: the hot path of every import.

        SQLAlchemy's per-row parameter processing costs more than SQLite's own insert, so rows are
        built as tuples in the form each dialect's column types would store (``_time``, ``_bool``)."""
        if not rows:
            return
        sql = self._inserts.get((table.name, columns))
        if sql is None:
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join([self._placeholder] * len(columns))
            sql = self._inserts[(table.name, columns)] = (
                f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
            )
        self.conn.exec_driver_sql(sql, list(rows))

    def _update_rows(
        self,
        table: sa.Table,
        columns: tuple[str, ...],
        keys: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Update many rows through the driver: each row holds ``columns``' values, then ``keys``'."""
        if not rows:
            return
        mark = self._placeholder
        sets = ", ".join(f'"{c}" = {mark}' for c in columns)
        where = " AND ".join(f'"{c}" = {mark}' for c in keys)
        self.conn.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {where}", list(rows))

    # --- source records -----------------------------------------------------------------------

    def sources_by_ref(
        self, system: str, obj: str, external_ids: Sequence[str]
    ) -> dict[str, StoredSource]:
        found: dict[str, StoredSource] = {}
        t = source_records
        mark = self._placeholder
        for part in _chunks(list(external_ids)):
            # Which of them are held, through the driver (cheap, and on a first import the answer
            # is none); then the held ones in full.
            sql = (
                "SELECT external_id FROM source_records WHERE system = {m} AND object = {m}"
                " AND external_id IN ({marks})"
            ).format(m=mark, marks=", ".join([mark] * len(part)))
            held = [r[0] for r in self.conn.exec_driver_sql(sql, (system, obj, *part)).fetchall()]
            if not held:
                continue
            rows = self.conn.execute(
                sa.select(t).where(
                    t.c.system == system, t.c.object == obj, t.c.external_id.in_(held)
                )
            ).all()
            for row in rows:
                found[row.external_id] = self._source(row)
        return found

    def sources_of(self, canonical_ids: Iterable[str]) -> dict[str, list[StoredSource]]:
        found: dict[str, list[StoredSource]] = {}
        t = source_records
        for part in _chunks(sorted(set(canonical_ids))):
            for row in self.conn.execute(
                sa.select(t).where(t.c.canonical_id.in_(part)).order_by(t.c.id)
            ).all():
                found.setdefault(row.canonical_id, []).append(self._source(row))
        return found

    @staticmethod
    def _source(row: Any) -> StoredSource:
        return StoredSource(
            ref=RecordRef(row.system, row.object, row.external_id),
            entity_type=_ENTITY_TYPES[row.entity_type],
            canonical_id=row.canonical_id,
            values=orjson.loads(row.values),
            field_times=_times_from_json(row.field_times),
            modified_at=_utc(row.modified_at),
            fingerprint=row.fingerprint,
            deleted=row.deleted,
            id=row.id,
            refs=orjson.loads(row.refs),
            raw=orjson.loads(row.raw),
            location=row.location,
        )

    def insert_sources(self, sources: Sequence[StoredSource]) -> None:
        if not sources:
            return
        now = self._time(_now())
        db_time, db_bool = self._time, self._bool
        rows = []
        for s in sources:
            ref, modified = s.ref, s.modified_at
            rows.append(
                (
                    ref.system,
                    ref.object,
                    ref.external_id,
                    s.entity_type.value,
                    s.canonical_id,
                    s.fingerprint,
                    _json(s.values),
                    _changed_times_json(s.field_times, modified),
                    _json(s.raw),
                    _json_or_empty(s.refs),
                    s.location[:512],
                    db_time(modified),
                    db_bool(s.deleted),
                    now,
                    now,
                )
            )
        self._insert_rows(source_records, _SOURCE_COLUMNS, rows)

    def update_sources(self, sources: Sequence[StoredSource]) -> None:
        if not sources:
            return
        now = self._time(_now())
        db_time, db_bool = self._time, self._bool
        rows = []
        for s in sources:
            ref, modified = s.ref, s.modified_at
            rows.append(
                (
                    s.entity_type.value,
                    s.canonical_id,
                    s.fingerprint,
                    _json(s.values),
                    _changed_times_json(s.field_times, modified),
                    _json(s.raw),
                    _json_or_empty(s.refs),
                    s.location[:512],
                    db_time(modified),
                    db_bool(s.deleted),
                    now,
                    ref.system,
                    ref.object,
                    ref.external_id,
                )
            )
        self._update_rows(source_records, _SOURCE_UPDATED, _SOURCE_COLUMNS[:3], rows)

    # --- xref and match keys ------------------------------------------------------------------

    def xref_lookup(self, refs: Iterable[RecordRef]) -> dict[RecordRef, str]:
        grouped: dict[tuple[str, str], list[str]] = {}
        for ref in refs:
            grouped.setdefault((ref.system, ref.object), []).append(ref.external_id)
        found: dict[RecordRef, str] = {}
        t = xref
        for (system, obj), ids in grouped.items():
            for part in _chunks(sorted(set(ids))):
                rows = self.conn.execute(
                    sa.select(t.c.external_id, t.c.canonical_id).where(
                        t.c.system == system, t.c.object == obj, t.c.external_id.in_(part)
                    )
                )
                for ext, cid in rows:
                    found[RecordRef(system, obj, ext)] = cid
        return found

    def xref_of(self, canonical_id: str) -> list[tuple[RecordRef, str, datetime]]:
        t = xref
        rows = self.conn.execute(
            sa.select(t.c.system, t.c.object, t.c.external_id, t.c.reason, t.c.linked_at)
            .where(t.c.canonical_id == canonical_id)
            .order_by(t.c.id)
        )
        return [
            (RecordRef(r.system, r.object, r.external_id), r.reason, _utc(r.linked_at))
            for r in rows
        ]

    def external_ids_of(
        self, system: str, canonical_ids: Iterable[str]
    ) -> dict[tuple[str, str], RecordRef]:
        """(object, canonical id) → the record of ``system`` linked to it."""
        found: dict[tuple[str, str], RecordRef] = {}
        t = xref
        for part in _chunks(sorted(set(canonical_ids))):
            rows = self.conn.execute(
                sa.select(t.c.object, t.c.external_id, t.c.canonical_id).where(
                    t.c.system == system, t.c.canonical_id.in_(part)
                )
            )
            for obj, ext, cid in rows:
                found[(obj, cid)] = RecordRef(system, obj, ext)
        return found

    def add_xrefs(
        self, links: Sequence[tuple[RecordRef, str, dict[str, Any]]], run_id: str | None
    ) -> None:
        if not links:
            return
        now = self._time(_now())
        self._insert_rows(
            xref,
            _XREF_COLUMNS,
            [
                (ref.system, ref.object, ref.external_id, cid, _json(reason), run_id, now)
                for ref, cid, reason in links
            ],
        )

    def clusters_for_keys(self, entity: EntityType, keys: Iterable[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        mark = self._placeholder
        for part in _chunks(sorted(set(keys))):
            # Through the driver: SQLAlchemy's expanding IN costs more than the index look-ups.
            sql = (
                "SELECT DISTINCT key, canonical_id FROM match_keys"
                f" WHERE entity_type = {mark} AND key IN ({', '.join([mark] * len(part))})"
            )
            for key, cid in self.conn.exec_driver_sql(sql, (entity.value, *part)).fetchall():
                found.setdefault(key, set()).add(cid)
        return found

    def replace_keys(self, entries: Sequence[tuple[StoredSource, list[MatchKey]]]) -> None:
        """The keys of each source record, replacing what it had (a changed email moves its key)."""
        self._replace_index(match_keys, [(s, [k.key for k in keys]) for s, keys in entries])

    def _replace_index(
        self, table: sa.Table, entries: Sequence[tuple[StoredSource, Sequence[str]]]
    ) -> None:
        """A key index (``match_keys``, ``blocking_keys``): each source record's keys replace what
        it had; a deleted record has none."""
        if not entries:
            return
        held = [str(s.ref) for s, _ in entries if s.id is not None]
        for part in _chunks(held):
            self.conn.execute(sa.delete(table).where(table.c.source_key.in_(part)))
        rows: list[tuple[str, str, str, str]] = []
        for source, keys in entries:
            if source.deleted:
                continue
            entity, cid, source_key = source.entity_type.value, source.canonical_id, str(source.ref)
            rows.extend((entity, key[:300], cid, source_key) for key in keys)
        self._insert_rows(table, INDEX_COLUMNS, rows)

    # --- golden records -----------------------------------------------------------------------

    def goldens(self, canonical_ids: Iterable[str]) -> dict[str, GoldenRecord]:
        found: dict[str, GoldenRecord] = {}
        t = golden_records
        for part in _chunks(sorted(set(canonical_ids))):
            for row in self.conn.execute(sa.select(t).where(t.c.canonical_id.in_(part))).all():
                found[row.canonical_id] = GoldenRecord(
                    canonical_id=row.canonical_id,
                    entity_type=_ENTITY_TYPES[row.entity_type],
                    fields=GoldenValue.many_from_json(orjson.loads(row.fields)),
                    pinned=orjson.loads(row.pinned),
                    version=row.version,
                    redirect_to=row.redirect_to,
                    deleted=row.deleted,
                )
        return found

    def resolve(self, canonical_id: str) -> str:
        """Follow merge redirects to the surviving canonical id."""
        seen = {canonical_id}
        current = canonical_id
        while True:
            target = self.conn.execute(
                sa.select(golden_records.c.redirect_to).where(
                    golden_records.c.canonical_id == current
                )
            ).scalar_one_or_none()
            if not target or target in seen:
                return current
            seen.add(target)
            current = target

    def save_goldens(self, new: Sequence[GoldenRecord], changed: Sequence[GoldenRecord]) -> None:
        now = _now()
        t = golden_records
        if new:
            db_now, db_bool = self._time(now), self._bool
            self._insert_rows(
                t,
                _GOLDEN_COLUMNS,
                [
                    (
                        g.canonical_id,
                        g.entity_type.value,
                        _json(g.fields_json()),
                        _json_or_empty(g.pinned),
                        g.redirect_to,
                        db_bool(g.deleted),
                        g.version,
                        db_now,
                        db_now,
                    )
                    for g in new
                ],
            )
        if changed:
            db_now, db_bool = self._time(now), self._bool
            self._update_rows(
                t,
                ("fields", "pinned", "redirect_to", "deleted", "version", "updated_at"),
                ("canonical_id",),
                [
                    (
                        _json(g.fields_json()),
                        _json_or_empty(g.pinned),
                        g.redirect_to,
                        db_bool(g.deleted),
                        g.version,
                        db_now,
                        g.canonical_id,
                    )
                    for g in changed
                ],
            )

    def count_goldens(self) -> dict[str, int]:
        t = golden_records
        rows = self.conn.execute(
            sa.select(t.c.entity_type, sa.func.count())
            .where(t.c.redirect_to.is_(None), t.c.deleted.is_(sa.false()))
            .group_by(t.c.entity_type)
        )
        return {etype: count for etype, count in rows}

    def linked_across_systems(self, entity_type: str, limit: int = 10) -> list[str]:
        """Canonical ids whose sources come from more than one system (examples for people)."""
        t = source_records
        rows = self.conn.execute(
            sa.select(t.c.canonical_id)
            .where(t.c.entity_type == entity_type)
            .group_by(t.c.canonical_id)
            .having(sa.func.count(sa.distinct(t.c.system)) > 1)
            .order_by(t.c.canonical_id)
            .limit(limit)
        )
        return [str(r[0]) for r in rows]

    def live_external_ids(self, system: str, obj: str) -> set[str]:
        t = source_records
        rows = self.conn.execute(
            sa.select(t.c.external_id).where(
                t.c.system == system, t.c.object == obj, t.c.deleted.is_(sa.false())
            )
        )
        return {r[0] for r in rows}

    def duplicates_within_systems(
        self, systems: Sequence[str], limit: int = 50
    ) -> list[tuple[str, str, str, list[str]]]:
        """Golden records linked to more than one live record of the same system × object."""
        t = source_records
        groups = self.conn.execute(
            sa.select(t.c.canonical_id, t.c.system, t.c.object)
            .where(t.c.system.in_(list(systems)), t.c.deleted.is_(sa.false()))
            .group_by(t.c.canonical_id, t.c.system, t.c.object)
            .having(sa.func.count() > 1)
            .order_by(t.c.canonical_id)
            .limit(limit)
        ).all()
        found = []
        for cid, system, obj in groups:
            ids = self.conn.execute(
                sa.select(t.c.external_id).where(
                    t.c.canonical_id == cid,
                    t.c.system == system,
                    t.c.object == obj,
                    t.c.deleted.is_(sa.false()),
                )
            ).scalars()
            found.append((cid, system, obj, sorted(ids)))
        return found

    def iter_goldens(self, entity: EntityType, batch: int = 1000) -> Iterator[GoldenRecord]:
        t = golden_records
        last = ""
        while True:
            ids = (
                self.conn.execute(
                    sa.select(t.c.canonical_id)
                    .where(
                        t.c.entity_type == entity.value,
                        t.c.redirect_to.is_(None),
                        t.c.deleted.is_(sa.false()),
                        t.c.canonical_id > last,
                    )
                    .order_by(t.c.canonical_id)
                    .limit(batch)
                )
                .scalars()
                .all()
            )
            if not ids:
                return
            found = self.goldens(ids)
            for cid in ids:
                yield found[cid]
            last = ids[-1]

    # --- audit ----------------------------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        head = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        if self.is_postgres:
            head = head.with_for_update()  # serialises appenders across workers
        row = self.conn.execute(head).first()
        seq, prev = (row.seq, row.hash) if row else (0, GENESIS)
        rows = []
        db_time = self._time
        at: datetime | None = None
        at_text = at_db = ""
        for e in events:
            seq += 1
            if e.at is not at:  # the events of one batch most often share their time
                at, at_text, at_db = e.at, moment(e.at), db_time(e.at)
            text = dumps(e.detail)
            digest = chain_digest(
                prev,
                seq,
                at_text,
                e.event,
                e.canonical_id,
                e.system,
                e.object,
                e.external_id,
                e.run_id,
                text,
            )
            rows.append(
                (
                    seq,
                    at_db,
                    e.event,
                    e.run_id,
                    e.canonical_id,
                    e.system,
                    e.object,
                    e.external_id,
                    text,
                    prev,
                    digest,
                )
            )
            prev = digest
        self._insert_rows(audit_events, _AUDIT_COLUMNS, rows)
        if row:
            self.conn.execute(
                sa.update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev)
            )
        else:
            self.conn.execute(sa.insert(audit_head).values(id=1, seq=seq, hash=prev))

    def audit_for(self, canonical_id: str, limit: int = 200) -> list[dict[str, Any]]:
        t = audit_events
        rows = self.conn.execute(
            sa.select(t)
            .where(t.c.canonical_id == canonical_id)
            .order_by(t.c.seq.desc())
            .limit(limit)
        )
        return [
            {
                "seq": r.seq,
                "at": _utc(r.at).isoformat(),
                "event": r.event,
                "run_id": r.run_id,
                "source": f"{r.system}/{r.object}/{r.external_id}" if r.system else None,
                "detail": json.loads(r.detail),
            }
            for r in rows
        ]

    # --- cursors, runs, errors ------------------------------------------------------------------

    def cursor(self, system: str, obj: str) -> str | None:
        return self.conn.execute(
            sa.select(cursors.c.value).where(cursors.c.system == system, cursors.c.object == obj)
        ).scalar_one_or_none()

    def cursors(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(cursors).order_by(cursors.c.system, cursors.c.object))
        return [
            {"system": r.system, "object": r.object, "updated_at": _utc(r.updated_at).isoformat()}
            for r in rows
        ]

    def set_cursor(self, system: str, obj: str, value: str, run_id: str | None) -> None:
        t = cursors
        updated = self.conn.execute(
            sa.update(t)
            .where(t.c.system == system, t.c.object == obj)
            .values(value=value, run_id=run_id, updated_at=_now())
        )
        if updated.rowcount == 0:
            self.conn.execute(
                sa.insert(t).values(
                    system=system, object=obj, value=value, run_id=run_id, updated_at=_now()
                )
            )

    def add_errors(self, run_id: str, severity: str, rejections: Sequence[Rejection]) -> None:
        if not rejections:
            return
        now = _now()
        self.conn.execute(
            sa.insert(record_errors),
            [
                {
                    "run_id": run_id,
                    "severity": severity,
                    "system": r.system,
                    "object": r.object,
                    "location": r.location[:512],
                    "external_id": r.external_id,
                    "reason": r.reason,
                    "at": now,
                }
                for r in rejections
            ],
        )

    def bump_run(self, run_id: str, counts: dict[str, int]) -> None:
        """Add ``counts`` to the run's counters, in the same transaction as the work they count."""
        current = self.conn.execute(
            sa.select(runs.c.counts).where(runs.c.id == run_id)
        ).scalar_one()
        merged = json.loads(current)
        for key, value in counts.items():
            merged[key] = merged.get(key, 0) + value
        self.conn.execute(sa.update(runs).where(runs.c.id == run_id).values(counts=_json(merged)))


# The tables a sync or a dedupe run grows in bulk, whose statistics the planner's choices rest on.
STATISTICS_TABLES = ("source_records", "golden_records", "xref", "match_keys", "blocking_keys")


class SqlStore:
    """The hub's state on one database; safe to share between threads (one connection each)."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = db.make_engine(url)
        self._checkpointer = db.checkpoint_in_background(self.engine)
        if migrate:
            try:
                db.upgrade(self.engine)
            except BaseException:
                self.close()
                raise

    def describe(self) -> str:
        return db.describe(self.engine)

    def refresh_statistics(self, tables: Sequence[str] = STATISTICS_TABLES) -> None:
        """Bring the planner's row statistics up to date after a bulk change (PostgreSQL).

        Without them the planner guesses: on a million source records it was seen to look a few
        ids up through the first two columns of their (system, object, external_id) index and
        filter 200,000 rows, 0.6 s a look-up instead of 0.2 ms. Autovacuum would analyse the table
        in time, but it may be off, or behind a bulk load; ANALYZE samples a fixed number of rows,
        so it costs about the same at any size. SQLite's planner needs none for these look-ups."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as conn:
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {table}")  # names from this module, not input

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self.engine.begin() as conn:
            yield SqlTransaction(conn)
        if self._checkpointer is not None:
            self._checkpointer.kick()

    # --- runs -------------------------------------------------------------------------------------

    def start_run(
        self, run_id: str, kind: str, systems: Sequence[str], trigger: str = "cli"
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(runs).values(
                    id=run_id,
                    kind=kind,
                    trigger=trigger,
                    systems=_json(list(systems)),
                    status="running",
                    counts="{}",
                    started_at=_now(),
                )
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        error: str | None = None,
        report: dict[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    error=error,
                    finished_at=_now(),
                    report=_json(report) if report is not None else None,
                )
            )

    def runs(self, limit: int = 20) -> list[RunRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit))
            return [self._run(r) for r in rows]

    def run(self, run_id: str) -> RunRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            return self._run(row) if row else None

    @staticmethod
    def _run(r: Any) -> RunRow:
        return RunRow(
            id=r.id,
            kind=r.kind,
            trigger=r.trigger,
            systems=json.loads(r.systems),
            status=r.status,
            counts=json.loads(r.counts),
            error=r.error,
            report=json.loads(r.report) if r.report else None,
            started_at=_utc(r.started_at),
            finished_at=_utc(r.finished_at) if r.finished_at else None,
        )

    def errors(self, run_id: str, limit: int = 1000) -> list[ErrorRow]:
        t = record_errors
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t).where(t.c.run_id == run_id).order_by(t.c.id).limit(limit)
            )
            return [
                ErrorRow(
                    r.run_id, r.severity, r.system, r.object, r.location, r.external_id, r.reason
                )
                for r in rows
            ]

    def error_summary(self, run_id: str) -> dict[tuple[str, str], int]:
        t = record_errors
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.severity, t.c.reason, sa.func.count())
                .where(t.c.run_id == run_id)
                .group_by(t.c.severity, t.c.reason)
            )
            return {(sev, reason): count for sev, reason, count in rows}

    # --- audit verification -----------------------------------------------------------------------

    def verify_audit(self, batch: int = 5000) -> ChainReport:
        problems: list[str] = []
        prev, expected_seq, checked = GENESIS, 1, 0
        t = audit_events
        with self.engine.connect() as conn:
            last = 0
            while True:
                rows = conn.execute(
                    sa.select(t).where(t.c.seq > last).order_by(t.c.seq).limit(batch)
                ).all()
                if not rows:
                    break
                for r in rows:
                    if r.seq != expected_seq:
                        problems.append(f"events {expected_seq}..{r.seq - 1} are missing")
                    if r.prev_hash != prev:
                        problems.append(f"event {r.seq}: does not follow the event before it")
                    digest = chain_hash(
                        r.prev_hash,
                        r.seq,
                        r.at,
                        r.event,
                        r.canonical_id,
                        r.system,
                        r.object,
                        r.external_id,
                        r.run_id,
                        r.detail,
                    )
                    if digest != r.hash:
                        problems.append(f"event {r.seq}: content does not match its hash (edited)")
                    prev, expected_seq = r.hash, r.seq + 1
                    checked += 1
                last = rows[-1].seq
            head = conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).first()
        if head is None and checked:
            problems.append("the chain head is missing")
        elif head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
            problems.append(
                f"the chain head says event {head.seq} is the last, the log ends at {expected_seq - 1}"
                " (events removed from the end, or the head edited)"
            )
        return ChainReport(not problems, checked, problems[:50])
