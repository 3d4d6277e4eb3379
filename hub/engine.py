"""The sync engine: read each system's objects, map, apply in batches, checkpoint, report.

Write, then checkpoint: a batch's changes, its record errors, the run's counters and the cursor of its
last record commit in one transaction; a crash re-reads at most one batch, which the idempotent apply
absorbs. A connector that fails stops only its own system's part of the run.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.apply import Applier
from hub.errors import HuitongError
from hub.golden import Survivorship
from hub.ids import new_run_id
from hub.model import Candidate
from hub.observability import Metrics
from hub.outbox import WritePlanner
from hub.ports import Connector, NullReporter, Rejection, Reporter, SourceRecord, StoreTransaction
from hub.settings import Settings


class RecordMapper(Protocol):
    def to_candidate(self, record: SourceRecord) -> Candidate | Rejection: ...


class EngineStore(Protocol):
    def transaction(self) -> AbstractContextManager[StoreTransaction]: ...

    def start_run(
        self, run_id: str, kind: str, systems: Sequence[str], trigger: str = "cli"
    ) -> None: ...

    def finish_run(
        self,
        run_id: str,
        status: str,
        error: str | None = None,
        report: dict[str, Any] | None = None,
    ) -> None: ...


@dataclass(slots=True)
class RunSummary:
    run_id: str
    status: str
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    rejection_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0


def batched(
    items: Iterable[SourceRecord | Rejection], size: int
) -> Iterator[list[SourceRecord | Rejection]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class SyncEngine:
    def __init__(
        self,
        settings: Settings,
        store: EngineStore,
        connectors: Mapping[str, Connector],
        mappers: Mapping[tuple[str, str], RecordMapper],
        reporter: Reporter | None = None,
        map_pool: Executor | None = None,
        planner: WritePlanner | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.connectors = connectors
        self.mappers = mappers
        self.reporter = reporter or NullReporter()
        self.survivorship = Survivorship(settings.survivorship, settings.system_priority())
        # Mapping (parsing and normalising every value) is pure CPU work: a process pool runs it on
        # another core while this process matches and writes the previous chunk.
        self.map_pool = map_pool
        self.planner = planner
        self.metrics = metrics

    def readable_objects(self, system: str) -> list[str]:
        objects = self.settings.systems[system].objects
        return [
            name for name, o in objects.items() if o.enabled and o.direction in ("read", "both")
        ]

    def sync(
        self, systems: Sequence[str] | None = None, full: bool = False, trigger: str = "cli"
    ) -> RunSummary:
        chosen = list(systems or self.settings.systems)
        run_id = new_run_id()
        started = time.monotonic()
        kind = "full" if full else "incremental"
        self.store.start_run(run_id, kind, chosen, trigger)
        summary = RunSummary(run_id, "running")
        applier = Applier(self.survivorship, run_id, self.planner)
        for system in chosen:
            try:
                for obj in self.readable_objects(system):
                    self._sync_object(system, obj, full, applier, summary)
            except HuitongError as exc:
                summary.failures[system] = str(exc)
            except Exception as exc:  # a connector's unexpected failure stops only its system
                summary.failures[system] = f"{type(exc).__name__}: {exc}"
        summary.seconds = time.monotonic() - started
        if summary.failures:
            summary.status = "failed" if len(summary.failures) == len(chosen) else "partial"
        elif summary.counts["rejected"]:
            summary.status = "partial"
        else:
            summary.status = "succeeded"
        error = "; ".join(f"{s}: {m}" for s, m in summary.failures.items()) or None
        self.store.finish_run(run_id, summary.status, error)
        return summary

    def _sync_object(
        self,
        system: str,
        obj: str,
        full: bool,
        applier: Applier,
        summary: RunSummary,
        seen: set[str] | None = None,
    ) -> None:
        """Read one object into the hub; ``seen`` collects every external id the read returned."""
        connector = self.connectors[system]
        key = (system, obj)
        with self.store.transaction() as tx:
            since = None if full else tx.cursor(system, obj)
        task = f"{system}/{obj}"
        self.reporter.started(task)
        chunks = batched(connector.read(obj, since), self.settings.hub.batch_size)
        for chunk, records, mapped in self._mapped(key, chunks):
            rejections = [item for item in chunk if isinstance(item, Rejection)]
            if seen is not None:
                seen.update(r.external_id for r in records)
                seen.update(r.external_id for r in rejections if r.external_id)
            candidates: list[Candidate] = []
            for item in mapped:
                if isinstance(item, Rejection):
                    rejections.append(item)
                else:
                    candidates.append(item)
            cursor = next((r.cursor for r in reversed(records) if r.cursor is not None), None)
            with self.store.transaction() as tx:
                result = applier.apply(tx, candidates)
                tx.add_errors(applier.run_id or "", "rejected", rejections)
                tx.add_errors(applier.run_id or "", "warning", result.warnings)
                counts = Counter(result.counts)
                counts["read"] += len(records)
                counts["rejected"] += len(rejections)
                counts["warnings"] += len(result.warnings)
                tx.bump_run(applier.run_id or "", dict(counts))
                if cursor is not None:
                    tx.set_cursor(system, obj, cursor, applier.run_id)
            summary.counts.update(counts)
            if self.metrics is not None and records:
                self.metrics.records_read.labels(system, obj).inc(len(records))
                newest = max((r.modified_at for r in records if r.modified_at), default=None)
                if newest is not None:
                    self.metrics.sync_lag.labels(system).set(
                        max(0.0, time.time() - newest.timestamp())
                    )
            if rejections:
                connector.report_rejections(obj, rejections)
                summary.rejection_samples.extend(
                    str(r) for r in rejections[: 20 - len(summary.rejection_samples)]
                )
            self.reporter.advanced(task, len(chunk))
        self.reporter.finished(task)

    def _mapped(
        self, key: tuple[str, str], chunks: Iterator[list[SourceRecord | Rejection]]
    ) -> Iterator[
        tuple[list[SourceRecord | Rejection], list[SourceRecord], list[Candidate | Rejection]]
    ]:
        """Map each chunk; with a map pool, the next chunk is mapped while this one is applied."""
        if self.map_pool is None:
            mapper = self.mappers[key]
            for chunk in chunks:
                records = [item for item in chunk if isinstance(item, SourceRecord)]
                yield chunk, records, [mapper.to_candidate(r) for r in records]
            return
        pending: deque[tuple[list[SourceRecord | Rejection], list[SourceRecord], Future[Any]]] = (
            deque()
        )
        for chunk in chunks:
            records = [item for item in chunk if isinstance(item, SourceRecord)]
            pending.append((chunk, records, self.map_pool.submit(map_records, key, records)))
            if len(pending) > 2:
                done_chunk, done_records, future = pending.popleft()
                yield done_chunk, done_records, future.result()
        while pending:
            done_chunk, done_records, future = pending.popleft()
            yield done_chunk, done_records, future.result()


# --- mapping in worker processes --------------------------------------------------------------

_worker_mappers: dict[tuple[str, str], RecordMapper] = {}


def init_map_worker(mappers: Mapping[tuple[str, str], RecordMapper]) -> None:
    _worker_mappers.update(mappers)


def map_records(key: tuple[str, str], records: list[SourceRecord]) -> list[Candidate | Rejection]:
    mapper = _worker_mappers[key]
    return [mapper.to_candidate(r) for r in records]
