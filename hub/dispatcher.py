"""The dispatcher: sends queued writes to each system in batches, and settles every result.

A batch is claimed with a lease, sent in one ``Connector.write`` call per object (the connector uses
the API's largest batch and its own pacing and retries), and each per-record result is settled in one
transaction: done (what was written is remembered, a created record enters the xref), retried later
with exponential backoff and jitter, or a dead letter (a permanent error, or attempts exhausted).
Killed between the send and the settle, the lease runs out and the batch is sent again: connectors
upsert by an external id that carries the canonical id, so the second send creates nothing new.
"""

from __future__ import annotations

import os
import random
import socket
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hub.audit import AuditEvent
from hub.errors import AuthError, FatalError, RateLimited, RetriableError
from hub.observability import Metrics, get_logger
from hub.ports import Connector, Merging, Write, WriteOp, WriteResult

log = get_logger(__name__)


class DispatchTransaction(Protocol):
    def claim_writes(self, system: str, limit: int, worker: str, lease: timedelta) -> list[Any]: ...

    def settle_done(self, item: Any, external_id: str | None, created: bool) -> bool: ...

    def settle_retry(self, item: Any, error: str, at: datetime) -> None: ...

    def settle_dead(self, item: Any, error: str) -> None: ...

    def append_audit(self, events: Sequence[AuditEvent]) -> None: ...


@dataclass
class DispatchSummary:
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        store: Any,
        connectors: Mapping[str, Connector],
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=5),
        base_delay: float = 5.0,
        max_delay: float = 3600.0,
        worker: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.max_attempts = max_attempts
        self.lease = lease
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.worker = worker or default_worker_id()
        self.clock = clock
        self.metrics = metrics

    def backoff(self, attempts: int, hint: float | None = None) -> datetime:
        """Exponential with full jitter, never sooner than the API asked (Retry-After)."""
        delay = min(self.max_delay, self.base_delay * 2**attempts) * random.uniform(0.5, 1.0)
        if hint is not None:
            delay = max(delay, hint)
        return self.clock() + timedelta(seconds=delay)

    def dispatch(
        self, systems: Sequence[str] | None = None, max_batches: int | None = None
    ) -> DispatchSummary:
        summary = DispatchSummary()
        for system in systems or list(self.connectors):
            connector = self.connectors[system]
            batches = 0
            while max_batches is None or batches < max_batches:
                with self.store.transaction() as tx:
                    items = tx.claim_writes(
                        system, connector.limits.batch_size, self.worker, self.lease
                    )
                if not items:
                    break
                batches += 1
                try:
                    self._send(connector, system, items, summary)
                except (AuthError, FatalError) as exc:
                    summary.failures[system] = str(exc)
                    log.error("writes stopped", system=system, error=str(exc), claimed=len(items))
                    break
        return summary

    def _send(
        self, connector: Connector, system: str, items: list[Any], summary: DispatchSummary
    ) -> None:
        by_object: dict[str, list[Any]] = defaultdict(list)
        for item in items:
            by_object[item.object].append(item)
        for obj, group in by_object.items():
            writes = [
                Write(WriteOp(i.op), obj, i.canonical_id, dict(i.payload), i.external_id)
                for i in group
            ]
            try:
                results = self._write(connector, obj, writes)
            except RateLimited as exc:
                self._retry_all(group, f"rate limited: {exc}", summary, exc.retry_after)
                continue
            except RetriableError as exc:
                self._retry_all(group, f"{type(exc).__name__}: {exc}", summary, None)
                continue
            except (AuthError, FatalError) as exc:
                self._retry_all(group, f"{type(exc).__name__}: {exc}", summary, None)
                raise
            if len(results) != len(group):
                raise FatalError(
                    f"{system}: connector returned {len(results)} results for {len(group)} writes"
                )
            self._settle(system, group, results, summary)

    @staticmethod
    def _write(connector: Connector, obj: str, writes: list[Write]) -> list[WriteResult]:
        """One batch call for upserts and deletes; merges through the API's merge when it has one."""
        merging = isinstance(connector, Merging)
        results: dict[int, WriteResult] = {}
        batch: list[tuple[int, Write]] = []
        for i, w in enumerate(writes):
            if w.op is WriteOp.MERGE and merging:
                results[i] = connector.merge(obj, str(w.fields["merged_into"]), str(w.external_id))  # type: ignore[attr-defined]
            elif w.op is WriteOp.MERGE:
                batch.append(
                    (i, Write(WriteOp.DELETE, w.object, w.canonical_id, w.fields, w.external_id))
                )
            else:
                batch.append((i, w))
        if batch:
            sent = connector.write(obj, [w for _, w in batch])
            for (i, _), result in zip(batch, sent, strict=True):
                results[i] = result
        return [results[i] for i in range(len(writes))]

    def _settle(
        self, system: str, group: list[Any], results: list[WriteResult], summary: DispatchSummary
    ) -> None:
        events: list[AuditEvent] = []
        before = Counter(summary.counts)
        with self.store.transaction() as tx:
            for item, result in zip(group, results, strict=True):
                if result.ok and not tx.settle_done(item, result.external_id, result.created):
                    summary.counts["superseded"] += (
                        1  # the lease ran out; the dispatcher that took over settles it
                    )
                elif result.ok:
                    summary.counts["written"] += 1
                    summary.counts["created" if result.created else "updated"] += 1
                    events.append(
                        AuditEvent(
                            "system.written",
                            {"op": item.op, "fields": item.payload, "created": result.created,
                             "attempt": item.attempts + 1},
                            item.canonical_id, system, item.object, result.external_id,
                        )
                    )  # fmt: skip
                elif result.retriable and item.attempts + 1 < self.max_attempts:
                    tx.settle_retry(
                        item, result.error or "retriable failure", self.backoff(item.attempts)
                    )
                    summary.counts["retried"] += 1
                else:
                    reason = result.error or "failed"
                    if result.retriable:
                        reason = f"gave up after {item.attempts + 1} attempts: {reason}"
                    tx.settle_dead(item, reason)
                    log.warning("write is a dead letter", system=system, object=item.object,
                                record_id=item.external_id or item.canonical_id, outbox_id=item.id, error=reason)  # fmt: skip
                    summary.counts["dead"] += 1
                    events.append(
                        AuditEvent("write.dead", {"op": item.op, "error": reason, "outbox_id": item.id},
                                   item.canonical_id, system, item.object, item.external_id)
                    )  # fmt: skip
            tx.append_audit(events)
        if self.metrics is not None:
            obj = group[0].object
            ok = sum(1 for r in results if r.ok)
            self.metrics.records_written.labels(system, obj, "ok").inc(ok)
            self.metrics.records_written.labels(system, obj, "failed").inc(len(results) - ok)
            self._count_settled(system, before, summary)

    def _count_settled(self, system: str, before: Counter[str], summary: DispatchSummary) -> None:
        if self.metrics is None:
            return
        retried = summary.counts["retried"] - before["retried"]
        dead = summary.counts["dead"] - before["dead"]
        if retried:
            self.metrics.retries.labels(system, "write").inc(retried)
        if dead:
            self.metrics.dead_letters.labels("outbox", system).inc(dead)

    def _retry_all(
        self, group: list[Any], error: str, summary: DispatchSummary, hint: float | None
    ) -> None:
        before = Counter(summary.counts)
        self._retry_all_settle(group, error, summary, hint)
        if group:
            self._count_settled(group[0].system, before, summary)

    def _retry_all_settle(
        self, group: list[Any], error: str, summary: DispatchSummary, hint: float | None
    ) -> None:
        with self.store.transaction() as tx:
            for item in group:
                if item.attempts + 1 >= self.max_attempts:
                    tx.settle_dead(item, f"gave up after {item.attempts + 1} attempts: {error}")
                    summary.counts["dead"] += 1
                else:
                    tx.settle_retry(item, error, self.backoff(item.attempts, hint))
                    summary.counts["retried"] += 1
