"""The outbox and dead letters in SQL: enqueue (coalescing), claim with a lease, settle results.

Claims take ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of dispatchers share the queue
without waiting on each other or taking the same row; on SQLite the immediate write transaction
serialises claimers. A claim is a lease: rows of a dispatcher that died are taken again when it ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.outbox import PlannedWrite
from hub.ports import RecordRef
from state.chunks import chunks
from state.tables import outbox, system_writes, xref


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(slots=True)
class OutboxItem:
    id: int
    system: str
    object: str
    canonical_id: str
    op: str
    payload: dict[str, Any]
    fingerprint: str
    external_id: str | None
    canonical: dict[str, Any]
    status: str
    claimed_by: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        system=row.system,
        object=row.object,
        canonical_id=row.canonical_id,
        op=row.op,
        payload=orjson.loads(row.payload),
        fingerprint=row.fingerprint,
        external_id=row.external_id,
        canonical=orjson.loads(row.canonical),
        claimed_by=row.claimed_by,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


class OutboxOps:
    """Mixed into the store's transaction: every method runs on its connection."""

    conn: Connection
    is_postgres: bool

    def system_writes(self, system: str, obj: str, canonical_ids: Iterable[str]) -> dict[str, str]:
        t = system_writes
        found: dict[str, str] = {}
        ids = sorted(set(canonical_ids))
        for part in chunks(ids):
            rows = self.conn.execute(
                sa.select(t.c.canonical_id, t.c.fingerprint).where(
                    t.c.system == system,
                    t.c.object == obj,
                    t.c.canonical_id.in_(part),
                )
            )
            found.update({cid: fp for cid, fp in rows})
        return found

    def written_values(
        self, system: str, obj: str, canonical_ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """What the hub last wrote to each record (canonical values), for echo recognition."""
        t = system_writes
        found: dict[str, dict[str, Any]] = {}
        ids = sorted(set(canonical_ids))
        for part in chunks(ids):
            rows = self.conn.execute(
                sa.select(t.c.canonical_id, t.c.written).where(
                    t.c.system == system,
                    t.c.object == obj,
                    t.c.canonical_id.in_(part),
                )
            )
            found.update({cid: orjson.loads(written) for cid, written in rows})
        return found

    def enqueue_writes(self, writes: Sequence[PlannedWrite], run_id: str | None) -> None:
        """Queue writes; a still-pending write for the same record is replaced (newest state wins)."""
        if not writes:
            return
        now = _now()
        t = outbox
        for w in writes:
            updated = self.conn.execute(
                sa.update(t)
                .where(
                    t.c.system == w.system,
                    t.c.object == w.object,
                    t.c.canonical_id == w.canonical_id,
                    t.c.op == w.op.value,  # an upsert never absorbs a merge or a delete
                    t.c.status == "pending",
                )
                .values(
                    op=w.op.value, payload=orjson.dumps(w.payload).decode(), fingerprint=w.fingerprint,
                    canonical=orjson.dumps(w.values).decode(),
                    external_id=w.external_id, updated_at=now, run_id=run_id,
                )
            )  # fmt: skip
            if updated.rowcount:
                continue
            self.conn.execute(
                sa.insert(t).values(
                    system=w.system, object=w.object, canonical_id=w.canonical_id, op=w.op.value,
                    payload=orjson.dumps(w.payload).decode(), fingerprint=w.fingerprint,
                    canonical=orjson.dumps(w.values).decode(),
                    external_id=w.external_id, status="pending", attempts=0, next_attempt_at=now,
                    run_id=run_id, created_at=now, updated_at=now,
                )
            )  # fmt: skip

    def claim_writes(
        self, system: str, limit: int, worker: str, lease: timedelta
    ) -> list[OutboxItem]:
        now = _now()
        t = outbox
        due = sa.or_(
            sa.and_(t.c.status == "pending", t.c.next_attempt_at <= now),
            sa.and_(t.c.status == "inflight", t.c.lease_until < now),
        )
        query = sa.select(t.c.id).where(t.c.system == system, due).order_by(t.c.id).limit(limit)
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        ids = list(self.conn.execute(query).scalars())
        if not ids:
            return []
        self.conn.execute(
            sa.update(t)
            .where(t.c.id.in_(ids))
            .values(status="inflight", claimed_by=worker, lease_until=now + lease, updated_at=now)
        )
        rows = self.conn.execute(sa.select(t).where(t.c.id.in_(ids)).order_by(t.c.id))
        return [_item(r) for r in rows]

    def settle_done(self, item: OutboxItem, external_id: str | None, created: bool) -> bool:
        """Mark a sent write done; False when its lease ran out and another dispatcher took it over
        (that one settles it: a write is settled, and audited, once)."""
        now = _now()
        owned = self.conn.execute(
            sa.update(outbox)
            .where(
                outbox.c.id == item.id,
                outbox.c.status == "inflight",
                outbox.c.claimed_by == item.claimed_by,
            )
            .values(
                status="done",
                external_id=external_id,
                lease_until=None,
                last_error=None,
                updated_at=now,
            )
        )
        if not owned.rowcount:
            return False
        sw = system_writes
        if item.op == "merge":
            survivor = str(item.payload.get("merged_into"))
            if external_id and external_id != survivor:  # the system gave the survivor a new id
                self.conn.execute(
                    sa.update(xref)
                    .where(
                        xref.c.system == item.system,
                        xref.c.object == item.object,
                        xref.c.external_id == survivor,
                    )
                    .values(external_id=external_id)
                )
            return True
        if item.op == "delete":
            self.conn.execute(
                sa.delete(sw).where(
                    sw.c.system == item.system,
                    sw.c.object == item.object,
                    sw.c.canonical_id == item.canonical_id,
                )
            )
            return True
        changed = self.conn.execute(
            sa.update(sw)
            .where(
                sw.c.system == item.system,
                sw.c.object == item.object,
                sw.c.canonical_id == item.canonical_id,
            )
            .values(
                fingerprint=item.fingerprint,
                external_id=external_id,
                written=orjson.dumps(item.canonical).decode(),
                written_at=now,
            )
        )
        if not changed.rowcount:
            self.conn.execute(
                sa.insert(sw).values(
                    system=item.system, object=item.object, canonical_id=item.canonical_id,
                    external_id=external_id, fingerprint=item.fingerprint,
                    written=orjson.dumps(item.canonical).decode(), written_at=now,
                )
            )  # fmt: skip
        if external_id:
            known = self.conn.execute(
                sa.select(xref.c.canonical_id).where(
                    xref.c.system == item.system,
                    xref.c.object == item.object,
                    xref.c.external_id == external_id,
                )
            ).first()
            if known is None:
                self.conn.execute(
                    sa.insert(xref).values(
                        system=item.system, object=item.object, external_id=external_id,
                        canonical_id=item.canonical_id,
                        reason=orjson.dumps({"rule": "written", "created": created}).decode(),
                        run_id=None, linked_at=now,
                    )
                )  # fmt: skip
        return True

    def settle_retry(self, item: OutboxItem, error: str, at: datetime) -> None:
        self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == item.id)
            .values(
                status="pending", attempts=item.attempts + 1, next_attempt_at=at, lease_until=None,
                last_error=error[:4000], updated_at=_now(),
            )
        )  # fmt: skip

    def settle_dead(self, item: OutboxItem, error: str) -> None:
        self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == item.id)
            .values(
                status="dead", attempts=item.attempts + 1, lease_until=None, last_error=error[:4000],
                updated_at=_now(),
            )
        )  # fmt: skip

    def outbox_items(
        self, status: str, limit: int = 100, system: str | None = None
    ) -> list[OutboxItem]:
        t = outbox
        query = sa.select(t).where(t.c.status == status).order_by(t.c.id).limit(limit)
        if system:
            query = query.where(t.c.system == system)
        return [_item(r) for r in self.conn.execute(query)]

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        row = self.conn.execute(sa.select(outbox).where(outbox.c.id == item_id)).first()
        return _item(row) if row else None

    def requeue(self, item_id: int) -> bool:
        """A dead letter back into the queue, its attempts reset (replay)."""
        changed = self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == item_id, outbox.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=_now(), updated_at=_now())
        )
        return bool(changed.rowcount)

    def discard(self, item_id: int) -> bool:
        changed = self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == item_id, outbox.c.status == "dead")
            .values(status="discarded", updated_at=_now())
        )
        return bool(changed.rowcount)

    def outbox_depth(self) -> dict[tuple[str, str], int]:
        t = outbox
        rows = self.conn.execute(
            sa.select(t.c.system, t.c.status, sa.func.count())
            .where(t.c.status.in_(["pending", "inflight", "dead"]))
            .group_by(t.c.system, t.c.status)
        )
        return {(system, status): count for system, status, count in rows}

    def xref_refs(self, system: str, obj: str, external_ids: Iterable[str]) -> dict[str, str]:
        """external id → canonical id, for records of one object."""
        refs = [RecordRef(system, obj, e) for e in external_ids]
        found: dict[str, str] = {}
        for part in chunks(refs):
            rows = self.conn.execute(
                sa.select(xref.c.external_id, xref.c.canonical_id).where(
                    xref.c.system == system, xref.c.object == obj,
                    xref.c.external_id.in_([r.external_id for r in part]),
                )
            )  # fmt: skip
            found.update({ext: cid for ext, cid in rows})
        return found
