"""The sync engine: read each system's objects, map, apply in batches, checkpoint, report.

Write, then checkpoint: a batch's changes, its record errors, the run's counters and the cursor of its
last record commit in one transaction; a crash re-reads at most one batch, which the idempotent apply
absorbs. A connector that fails stops only its own system's part of the run.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import pickle
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any, Protocol

import orjson

from hub.apply import Applier
from hub.errors import HuitongError
from hub.golden import Survivorship
from hub.ids import new_run_id
from hub.model import Candidate, EntityType
from hub.observability import Metrics, bound_ids, get_logger
from hub.outbox import WritePlanner
from hub.ports import (
    Connector,
    NullReporter,
    RecordRef,
    Rejection,
    Reporter,
    SourceRecord,
    StoreTransaction,
)
from hub.settings import Settings

log = get_logger(__name__)


class RecordMapper(Protocol):
    def to_candidate(self, record: SourceRecord) -> Candidate | Rejection: ...


# Records a run changes before the database's statistics are refreshed at its end.
STATISTICS_AFTER_ROWS = 10_000


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

    def refresh_statistics(self) -> None:
        """After a bulk change: the database's query planner re-reads the tables' sizes."""
        ...


@dataclass(slots=True)
class RunSummary:
    run_id: str
    status: str
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    rejection_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(slots=True)
class MappedChunk:
    """One batch as read and mapped: what the apply transaction and the run's counters need."""

    read: int  # items the connector yielded: records and its own rejections (progress)
    records: int
    cursor: str | None  # of the last record that carried one
    newest: datetime | None  # the newest modified_at, for the sync-lag metric
    candidates: list[Candidate]
    rejections: list[Rejection]  # the connector's, then the mapping's
    external_ids: list[str] = field(default_factory=list)  # every id read, when asked for


@dataclass(slots=True)
class _Applied:
    """What a batch applied in a transaction still open tells the outside once it commits."""

    read: int
    records: int
    newest: datetime | None
    rejections: list[Rejection]
    counts: Counter[str]


def batched(
    items: Iterable[SourceRecord | Rejection], size: int
) -> Iterator[list[SourceRecord | Rejection]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


_gc_lock = threading.Lock()
_gc_users = 0
_gc_threshold: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def bulk_gc(threshold: int = 50_000) -> Iterator[None]:
    """Fewer, smaller passes of the cyclic garbage collector while a sync runs.

    A sync allocates millions of short-lived objects that reference counting frees (values, rows,
    audit events); with the default threshold (700 allocations) the collector's passes, and the full
    ones over everything alive, took about a third of an import's CPU time. Objects that existed before
    the sync are left out of its passes (``gc.freeze``) and a pass comes every ``threshold``
    allocations. The settings are process-wide: the first of overlapping syncs (scheduler threads)
    changes them, the last one restores them."""
    global _gc_users, _gc_threshold
    with _gc_lock:
        if _gc_users == 0:
            _gc_threshold = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_gc_threshold[0], threshold), *_gc_threshold[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_threshold)
                gc.unfreeze()


def summarise(
    chunk: Sequence[SourceRecord | Rejection],
    mapped: Sequence[Candidate | Rejection],
    want_ids: bool,
) -> MappedChunk:
    """``mapped`` holds one result per record of ``chunk``, in order."""
    records = [item for item in chunk if isinstance(item, SourceRecord)]
    rejections = [item for item in chunk if isinstance(item, Rejection)]
    candidates: list[Candidate] = []
    for item in mapped:
        if isinstance(item, Rejection):
            rejections.append(item)
        else:
            candidates.append(item)
    ids: list[str] = []
    if want_ids:
        ids = [r.external_id for r in records]
        ids += [r.external_id for r in chunk if isinstance(r, Rejection) and r.external_id]
    return MappedChunk(
        read=len(chunk),
        records=len(records),
        cursor=next((r.cursor for r in reversed(records) if r.cursor is not None), None),
        newest=max((r.modified_at for r in records if r.modified_at), default=None),
        candidates=candidates,
        rejections=rejections,
        external_ids=ids,
    )


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
        with bulk_gc():
            return self._sync(systems, full, trigger)

    def _sync(self, systems: Sequence[str] | None, full: bool, trigger: str) -> RunSummary:
        chosen = list(systems or self.settings.systems)
        run_id = new_run_id()
        started = time.monotonic()
        kind = "full" if full else "incremental"
        self.store.start_run(run_id, kind, chosen, trigger)
        with bound_ids(run_id=run_id):
            log.info("run started", kind=kind, systems=chosen, trigger=trigger)
        summary = RunSummary(run_id, "running")
        applier = Applier(
            self.survivorship,
            run_id,
            self.planner,
            self.settings.match.for_entity,
            self.settings.named_by_others(),
        )
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
        written = sum(summary.counts[k] for k in ("created", "linked", "updated", "deleted"))
        if written >= STATISTICS_AFTER_ROWS:  # a first import: the planner still sees empty tables
            self.store.refresh_statistics()
        with bound_ids(run_id=run_id):
            log.info("run finished", status=summary.status, seconds=round(summary.seconds, 3),
                     counts=dict(summary.counts), failures=summary.failures)  # fmt: skip
            for sample in summary.rejection_samples[:20]:
                # INFO: bad input is expected, and recorded in the run (`huitong runs show`);
                # `sync` and `demo` print the same rejections in their summary.
                log.info("record rejected", detail=sample)
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
        # Consecutive batches share one transaction up to ``transaction_records`` records or
        # ``transaction_seconds``: each commit writes every index page its batches touched, and the
        # match-key index is touched all over, so on a large import fewer commits write several
        # times less. Only for a connector whose read is self-contained (``reads_in_worker``: local
        # files, nothing shared): an API connector's read may itself write to the database (shared
        # rate budgets), which an open SQLite write transaction would block. What a batch tells
        # the outside (counts, metrics, reject files, progress) waits for its commit.
        limits = self.settings.hub
        grouped = reads_in_worker(connector)
        stack: contextlib.ExitStack | None = None
        open_tx: StoreTransaction | None = None
        opened, held = 0.0, 0
        applied: list[_Applied] = []
        try:
            for mapped in self._mapped(connector, key, since, seen is not None):
                if seen is not None:
                    seen.update(mapped.external_ids)
                if open_tx is None:
                    stack = contextlib.ExitStack()
                    open_tx = stack.enter_context(self.store.transaction())
                    opened, held = time.monotonic(), 0
                applied.append(self._apply_batch(open_tx, applier, system, obj, mapped))
                held += mapped.read
                if (
                    not grouped
                    or held >= limits.transaction_records
                    or time.monotonic() - opened >= limits.transaction_seconds
                ):
                    open_tx = None
                    assert stack is not None
                    stack.close()  # commits
                    self._settle(connector, system, obj, task, applied, summary)
                    applied = []
            if open_tx is not None:
                open_tx = None
                assert stack is not None
                stack.close()
                self._settle(connector, system, obj, task, applied, summary)
        except BaseException:
            if open_tx is not None and stack is not None:
                stack.__exit__(*sys.exc_info())  # rolls the open transaction back
            raise
        self.reporter.finished(task)

    def _apply_batch(
        self,
        tx: StoreTransaction,
        applier: Applier,
        system: str,
        obj: str,
        mapped: MappedChunk,
    ) -> _Applied:
        """Apply one batch in ``tx``: its changes, record errors, the run's counters and cursor."""
        rejections = mapped.rejections
        result = applier.apply(tx, mapped.candidates)
        tx.add_errors(applier.run_id or "", "rejected", rejections)
        tx.add_errors(applier.run_id or "", "warning", result.warnings)
        counts = Counter(result.counts)
        counts["read"] += mapped.records
        counts["rejected"] += len(rejections)
        counts["warnings"] += len(result.warnings)
        tx.bump_run(applier.run_id or "", dict(counts))
        if mapped.cursor is not None:
            tx.set_cursor(system, obj, mapped.cursor, applier.run_id)
        return _Applied(mapped.read, mapped.records, mapped.newest, rejections, counts)

    def _settle(
        self,
        connector: Connector,
        system: str,
        obj: str,
        task: str,
        applied: Sequence[_Applied],
        summary: RunSummary,
    ) -> None:
        """Batches whose transaction committed: count them, report them, file their rejections."""
        for batch in applied:
            summary.counts.update(batch.counts)
            if self.metrics is not None and batch.records:
                self.metrics.records_read.labels(system, obj).inc(batch.records)
                if batch.newest is not None:
                    self.metrics.sync_lag.labels(system).set(
                        max(0.0, time.time() - batch.newest.timestamp())
                    )
            if batch.rejections:
                connector.report_rejections(obj, batch.rejections)
                summary.rejection_samples.extend(
                    str(r) for r in batch.rejections[: 20 - len(summary.rejection_samples)]
                )
            self.reporter.advanced(task, batch.read)

    def _mapped(
        self, connector: Connector, key: tuple[str, str], since: str | None, want_ids: bool
    ) -> Iterator[MappedChunk]:
        """Read and map in batches.

        Without a pool, here. With one, a connector that can read anywhere (``reads_in_worker``)
        reads and maps in a worker process, so only mapped candidates cross to this process, which
        matches and writes meanwhile; any other connector reads here while the pool maps the
        chunks before, two ahead."""
        size = self.settings.hub.batch_size
        if self.map_pool is not None and reads_in_worker(connector):
            yield from _read_in_worker(self.map_pool, connector, key, since, size, want_ids)
            return
        chunks = batched(connector.read(key[1], since), size)
        if self.map_pool is None:
            mapper = self.mappers[key]
            for chunk in chunks:
                records = [item for item in chunk if isinstance(item, SourceRecord)]
                yield summarise(chunk, [mapper.to_candidate(r) for r in records], want_ids)
            return
        pending: deque[tuple[list[SourceRecord | Rejection], Future[Any]]] = deque()
        for chunk in chunks:
            records = [item for item in chunk if isinstance(item, SourceRecord)]
            pending.append((chunk, self.map_pool.submit(map_records, key, records)))
            if len(pending) > 2:
                done_chunk, future = pending.popleft()
                yield summarise(done_chunk, future.result(), want_ids)
        while pending:
            done_chunk, future = pending.popleft()
            yield summarise(done_chunk, future.result(), want_ids)


# --- mapping in worker processes --------------------------------------------------------------

_worker_mappers: dict[tuple[str, str], RecordMapper] = {}


def reads_in_worker(connector: Connector) -> bool:
    """Whether ``connector``'s read may run in a worker process, on a pickled copy: it holds no
    live client, lock or pacing state that must stay shared with this process. A connector says
    so itself (``reads_in_worker = True``, see ``hub.ports.ReadsInWorker``); one that does not
    reads here."""
    return bool(getattr(connector, "reads_in_worker", False))


def init_map_worker(mappers: Mapping[tuple[str, str], RecordMapper]) -> None:
    _worker_mappers.update(mappers)


def map_records(key: tuple[str, str], records: list[SourceRecord]) -> list[Candidate | Rejection]:
    mapper = _worker_mappers[key]
    return [mapper.to_candidate(r) for r in records]


# Chunks cross the process boundary as bytes: the candidates as JSON arrays (orjson, times as
# ISO 8601), which this process turns back into objects faster than it unpickles dataclasses (the
# receiving side is the one that also matches and writes); the rest of the chunk is pickled.
_STARTED = b"started"
_END = b"end"
_ERROR = b"err"


def read_and_map(
    conn: Connection,
    connector: Connector,
    key: tuple[str, str],
    since: str | None,
    size: int,
    want_ids: bool,
) -> None:
    """Runs in a pool worker: read ``key``'s object, map each batch and send it down ``conn``.

    The pipe holds about one batch: the worker maps the next batch while this one is applied, and
    waits when it is ahead, so memory stays bounded whatever the size of the source."""
    try:
        conn.send_bytes(_STARTED)
        mapper = _worker_mappers[key]
        with bulk_gc():
            for chunk in batched(connector.read(key[1], since), size):
                records = [item for item in chunk if isinstance(item, SourceRecord)]
                mapped = summarise(chunk, [mapper.to_candidate(r) for r in records], want_ids)
                conn.send_bytes(pack(mapped))
        conn.send_bytes(_END)
    except BaseException as exc:  # re-raised in the reading process
        try:
            conn.send_bytes(_ERROR + pickle.dumps(exc))
        except Exception:  # an exception that does not pickle
            conn.send_bytes(_ERROR + pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _read_in_worker(
    pool: Executor,
    connector: Connector,
    key: tuple[str, str],
    since: str | None,
    size: int,
    want_ids: bool,
) -> Iterator[MappedChunk]:
    receiver, sender = Pipe(duplex=False)
    # The pool pickles the sending end with multiprocessing's reducers when it hands the task over,
    # which may be after ``submit`` returns: this copy stays open until the worker has spoken.
    future = pool.submit(read_and_map, sender, connector, key, since, size, want_ids)
    try:
        while True:
            while not receiver.poll(0.2):
                if future.done() and not receiver.poll(0):
                    future.result()  # the worker died: its error, or BrokenProcessPool
                    raise RuntimeError("the reading worker stopped without finishing its read")
            data = receiver.recv_bytes()
            if data == _STARTED:
                sender.close()
                continue
            if data == _END:
                break
            if data.startswith(_ERROR):
                raise pickle.loads(data[len(_ERROR) :])  # noqa: S301 - our worker's bytes
            yield unpack(data)
        future.result()
    finally:
        sender.close()
        receiver.close()
        future.cancel()


_ENTITIES = {e.value: e for e in EntityType}


def pack(chunk: MappedChunk) -> bytes:
    head = (
        chunk.read,
        chunk.records,
        chunk.cursor,
        chunk.newest,
        chunk.rejections,
        chunk.external_ids,
    )
    candidates = chunk.candidates
    body: bytes | list[Candidate] = candidates
    if all(_plain(c.values) and _plain(c.raw) for c in candidates):
        try:
            body = orjson.dumps(
                [_wire(c) for c in candidates], option=orjson.OPT_PASSTHROUGH_SUBCLASS
            )
        except orjson.JSONEncodeError:  # an integer beyond 64 bits
            body = candidates
    # else a value JSON would not bring back as it was: the candidates go pickled
    return pickle.dumps((head, body), protocol=pickle.HIGHEST_PROTOCOL)


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(values: Mapping[str, Any]) -> bool:
    """Every value comes back from JSON as it went in: strings, integers, booleans, None, and
    finite floats (orjson writes the shortest repr, which reads back exactly)."""
    for value in values.values():
        kind = type(value)
        if kind not in _SCALARS and not (kind is float and math.isfinite(value)):
            return False
    return True


def _wire(c: Candidate) -> tuple[Any, ...]:
    rare = None
    if c.field_times or c.refs or c.issues:  # per-field times, links to other records, issues
        rare = (
            {name: moment.isoformat() for name, moment in c.field_times.items()},
            {name: (r.system, r.object, r.external_id) for name, r in c.refs.items()},
            c.issues,
        )
    return (
        c.ref.system,
        c.ref.object,
        c.ref.external_id,
        c.entity_type.value,
        c.values,
        c.modified_at.isoformat(),
        c.deleted,
        c.location,
        c.raw,
        c.fingerprint,
        rare,
    )


def unpack(data: bytes) -> MappedChunk:
    # Bytes from our own worker over a private pipe.
    head, body = pickle.loads(data)  # noqa: S301
    read, records, cursor, newest, rejections, ids = head
    if isinstance(body, list):
        return MappedChunk(read, records, cursor, newest, body, rejections, ids)
    entities = _ENTITIES
    parse_time = datetime.fromisoformat
    candidates = []
    for (
        system,
        obj,
        ext,
        entity,
        values,
        modified,
        deleted,
        where,
        raw,
        print_,
        rare,
    ) in orjson.loads(body):
        times: dict[str, datetime] = {}
        refs: dict[str, RecordRef] = {}
        issues: list[str] = []
        if rare is not None:
            times = {name: parse_time(moment) for name, moment in rare[0].items()}
            refs = {name: RecordRef(*ref) for name, ref in rare[1].items()}
            issues = rare[2]
        candidates.append(
            Candidate(
                RecordRef(system, obj, ext),
                entities[entity],
                values,
                times,
                parse_time(modified),
                deleted,
                where,
                refs,
                issues,
                raw,
                print_,
            )
        )
    return MappedChunk(read, records, cursor, newest, candidates, rejections, ids)
