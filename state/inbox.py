"""The webhook inbox on SQL: durable before the reply, de-duplicated, claimed without double work.

Implements ``hub.webhooks.inbox.InboxPort`` (its docstring lists the guarantees). On PostgreSQL,
``claim`` is one statement, ``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)``, so any number of
workers share the queue without blocking each other; on SQLite the engine opens every transaction
with ``BEGIN IMMEDIATE`` (``state/db.py``), which serialises claimers in one file.

Times come from ``clock`` (UTC), so leases can be tested without waiting; workers on several hosts
need their clocks in step (NTP) to within a small part of the lease.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from hub.webhooks.inbox import Delivery, InboxItem
from state import db
from state.tables_inbox import webhook_inbox as t  # also registers the table on the shared metadata

_UNFINISHED = ("pending", "processing")
_MAX_ERROR_CHARS = 4000


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlInbox:
    """The inbox on the hub's database (``engine`` from ``state.db.make_engine``, already migrated)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self.is_postgres = engine.dialect.name == "postgresql"
        self._heads = frozenset(ScriptDirectory.from_config(db.alembic_config()).get_heads())

    @classmethod
    def open(cls, url: str, migrate: bool = True) -> SqlInbox:
        engine = db.make_engine(url)
        if migrate:
            db.upgrade(engine)
        return cls(engine)

    def _now(self) -> datetime:
        now = self.clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    # --- the receiver's side ------------------------------------------------------------------------

    def add(self, delivery: Delivery) -> bool:
        return self.add_many([delivery])[0]

    def add_many(self, deliveries: Sequence[Delivery]) -> list[bool]:
        if not deliveries:
            return []
        now = self._now()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for d in deliveries:  # a key repeated inside one batch is one row
            rows.setdefault((d.system, d.key), self._row(d, now))
        insert = postgresql.insert(t) if self.is_postgres else sqlite.insert(t)
        # One cached statement run over many rows (SQLAlchemy batches them into multi-row INSERTs
        # and gathers what RETURNING gives back): a conflicting row returns nothing.
        statement = insert.on_conflict_do_nothing(
            index_elements=["system", "delivery_key"]
        ).returning(t.c.system, t.c.delivery_key)
        with self.engine.begin() as conn:
            returned = conn.execute(statement, list(rows.values()))
            inserted = {(r.system, r.delivery_key) for r in returned}
        # The first occurrence of a key in the batch is the one that counts as new.
        seen: set[tuple[str, str]] = set()
        result = []
        for d in deliveries:
            ident = (d.system, d.key)
            result.append(ident in inserted and ident not in seen)
            seen.add(ident)
        return result

    @staticmethod
    def _row(d: Delivery, now: datetime) -> dict[str, Any]:
        return {
            "system": d.system,
            "scheme": d.scheme,
            "delivery_key": d.key,
            "content_type": d.content_type[:128],
            "headers": json.dumps(dict(d.headers), ensure_ascii=False, sort_keys=True),
            "payload": d.payload,
            "received_at": now,
            "status": "pending",
            "available_at": now,
            "attempts": 0,
        }

    # --- the worker's side --------------------------------------------------------------------------

    def claim(self, limit: int, worker_id: str, lease_seconds: float = 60.0) -> list[InboxItem]:
        if limit <= 0:
            return []
        now = self._now()
        claimable = (
            sa.select(t.c.id)
            .where(
                sa.or_(
                    sa.and_(t.c.status == "pending", t.c.available_at <= now),
                    sa.and_(t.c.status == "processing", t.c.lease_until <= now),
                )
            )
            .order_by(t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # SQLite renders nothing: BEGIN IMMEDIATE serialises
        )
        statement = (
            sa.update(t)
            .where(t.c.id.in_(claimable.scalar_subquery()))
            .values(
                status="processing",
                claimed_by=worker_id[:64],
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=t.c.attempts + 1,
            )
            .returning(*t.c)
        )
        with self.engine.begin() as conn:
            rows = conn.execute(statement).all()
        return sorted((self._item(r) for r in rows), key=lambda item: item.id)

    def renew(self, ids: Iterable[int], worker_id: str, lease_seconds: float = 60.0) -> int:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        lease_until = self._now() + timedelta(seconds=lease_seconds)
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.id.in_(wanted), t.c.status == "processing", t.c.claimed_by == worker_id)
                .values(lease_until=lease_until)
            )
        return int(result.rowcount)

    def done(self, ids: Iterable[int]) -> int:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.id.in_(wanted), t.c.status.in_(_UNFINISHED))
                .values(status="done", finished_at=self._now(), lease_until=None)
            )
        return int(result.rowcount)

    def failed(self, item_id: int, error: str, retry_at: datetime) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.id == item_id, t.c.status == "processing")
                .values(
                    status="pending",
                    available_at=_utc(retry_at),
                    last_error=error[:_MAX_ERROR_CHARS],
                    claimed_by=None,
                    lease_until=None,
                )
            )
        return bool(result.rowcount)

    def dead(self, item_id: int, error: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.id == item_id, t.c.status.in_(_UNFINISHED))
                .values(
                    status="dead",
                    last_error=error[:_MAX_ERROR_CHARS],
                    finished_at=self._now(),
                    lease_until=None,
                )
            )
        return bool(result.rowcount)

    def requeue(self, ids: Iterable[int]) -> int:
        """Dead letters back to pending (``dlq replay``), attempts counted from zero again."""
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.id.in_(wanted), t.c.status == "dead")
                .values(
                    status="pending",
                    available_at=self._now(),
                    attempts=0,
                    claimed_by=None,
                    finished_at=None,
                )
            )
        return int(result.rowcount)

    def discard(self, ids: Iterable[int], reason: str = "discarded by a person") -> int:
        """Dead letters a person gave up on (``dlq discard``): finished, kept, with the reason."""
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(t)
                .where(t.c.id.in_(wanted), t.c.status == "dead")
                .values(
                    status="done", finished_at=self._now(), last_error=reason[:_MAX_ERROR_CHARS]
                )
            )
        return int(result.rowcount)

    def purge_done(self, finished_before: datetime) -> int:
        """Delete finished items older than ``finished_before`` (their keys then stop de-duplicating:
        keep them longer than the senders retry, 24 h for Salesforce, 3 days for HubSpot)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.delete(t).where(t.c.status == "done", t.c.finished_at < _utc(finished_before))
            )
        return int(result.rowcount)

    # --- reading ------------------------------------------------------------------------------------

    def get(self, item_id: int) -> InboxItem | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == item_id)).first()
        return self._item(row) if row else None

    def items(self, status: str | None = None, limit: int = 100) -> list[InboxItem]:
        query = sa.select(t).order_by(t.c.id).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.engine.connect() as conn:
            return [self._item(r) for r in conn.execute(query)]

    def depth(self, system: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(t).where(t.c.status.in_(_UNFINISHED))
        if system is not None:
            query = query.where(t.c.system == system)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self) -> dict[tuple[str, str], int]:
        # Finished items are left out: they pile up (until purged) and are no queue's depth; the
        # claim index answers the rest without reading them.
        query = (
            sa.select(t.c.system, t.c.status, sa.func.count())
            .where(t.c.status.in_((*_UNFINISHED, "dead")))
            .group_by(t.c.system, t.c.status)
        )
        with self.engine.connect() as conn:
            return {(system, status): int(n) for system, status, n in conn.execute(query)}

    def ready(self) -> tuple[bool, str]:
        try:
            with self.engine.connect() as conn:
                found = {
                    row[0]
                    for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                }
        except sa.exc.SQLAlchemyError as exc:
            # The driver's message names host and database, never the password.
            cause = getattr(exc, "orig", None) or exc
            return False, f"database unreachable or not migrated ({type(cause).__name__})"
        if found != self._heads:
            return (
                False,
                f"schema at {sorted(found) or 'nothing'}, code expects {sorted(self._heads)}",
            )
        return True, "ok"

    @staticmethod
    def _item(r: Any) -> InboxItem:
        return InboxItem(
            id=int(r.id),
            system=r.system,
            scheme=r.scheme,
            key=r.delivery_key,
            payload=bytes(r.payload),
            content_type=r.content_type,
            headers=json.loads(r.headers),
            received_at=_utc(r.received_at) or datetime.min.replace(tzinfo=UTC),
            status=r.status,
            attempts=int(r.attempts),
            claimed_by=r.claimed_by,
            lease_until=_utc(r.lease_until),
            last_error=r.last_error,
        )
