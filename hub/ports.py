"""The hub's ports: the contracts every adapter (connector, store, reporter) fulfils.

A connector knows its API and nothing of matching or merging; the hub knows the canonical model and
nothing of any API. These types are the only vocabulary the two sides share.

Connector guarantees (tested for every implementation in ``tests/contract/``):

* ``read(obj, since)`` streams; memory does not grow with the size of the source. Records come in
  non-decreasing ``modified_at`` order where the system can sort, and the cursor carried by the last
  record of a page may be persisted once that page is durable. Re-reading from an older cursor is
  always safe (the hub's idempotent apply absorbs duplicates), so boundaries are inclusive.
* A record the connector cannot even parse is yielded as a ``Rejection`` naming where it was (file and
  line, or system and id); the stream goes on.
* ``write(obj, writes)`` makes as few calls as the API allows and returns one ``WriteResult`` per write,
  in order. A retried batch creates no duplicate (external-id upserts where the API has them).
* Secrets are never part of a message, an exception or a repr.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hub.audit import AuditEvent
    from hub.golden import GoldenRecord, StoredSource
    from hub.identity.keys import MatchKey
    from hub.model import EntityType
    from hub.outbox import PlannedWrite


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where a record lives: one system, one object, one external id."""

    system: str
    object: str
    external_id: str

    def __str__(self) -> str:
        return f"{self.system}/{self.object}/{self.external_id}"

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        """The inverse of ``str``: ``system/object/external-id`` (the id may hold slashes)."""
        parts = text.split("/", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{text!r} is not system/object/external-id")
        return cls(*parts)


@dataclass(slots=True)
class SourceRecord:
    """One record as read from a system, before any mapping.

    ``location`` says where it was read (``contacts.csv:17``, an API URL) so an error can name it.
    ``field_times`` holds per-field change times when the system knows them (HubSpot property history,
    CDC change headers); otherwise every field is taken as changed at ``modified_at``.
    """

    system: str
    object: str
    external_id: str
    fields: dict[str, Any]
    modified_at: datetime | None = None
    deleted: bool = False
    location: str = ""
    field_times: dict[str, datetime] = field(default_factory=dict)
    cursor: str | None = None

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.system, self.object, self.external_id)

    @property
    def where(self) -> str:
        return self.location or str(self.ref)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record (or a row) that cannot be used, with where it was and why."""

    system: str
    object: str
    location: str
    reason: str
    external_id: str | None = None
    raw: Mapping[str, Any] | Sequence[str] | None = None

    def __str__(self) -> str:
        who = f" (id {self.external_id})" if self.external_id else ""
        return f"{self.system}/{self.object} {self.location}{who}: {self.reason}"


class WriteOp(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"
    # Two records of one system turned out to be one customer: ``external_id`` (the merged-away
    # record) goes into ``fields["merged_into"]`` (the survivor). A connector with a ``merge``
    # method uses the API's merge; others receive it as a delete carrying ``merged_into``.
    MERGE = "merge"


@dataclass(slots=True)
class Write:
    """One upsert or delete for one system, keyed by the canonical id it carries."""

    op: WriteOp
    object: str
    canonical_id: str
    fields: dict[str, Any]
    external_id: str | None = None


@dataclass(slots=True)
class WriteResult:
    ok: bool
    external_id: str | None = None
    created: bool = False
    error: str | None = None
    retriable: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """What an API allows: batch size and pacing. ``None`` means unlimited."""

    batch_size: int = 1000
    requests_per_window: int | None = None
    window_seconds: float = 1.0
    daily_quota: int | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str
    checks: tuple[tuple[str, bool, str], ...] = ()


@runtime_checkable
class Connector(Protocol):
    kind: ClassVar[str]
    limits: Limits

    def check(self) -> CheckResult:
        """Credentials, reachability and permissions, without changing anything."""
        ...

    def objects(self) -> Sequence[str]:
        """The objects this configured system exposes to the hub."""
        ...

    def read(self, obj: str, since: str | None) -> Iterator[SourceRecord | Rejection]:
        """Stream records changed at or after ``since`` (all when ``None``)."""
        ...

    def write(self, obj: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply one batch; one result per write, in order."""
        ...

    def report_rejections(self, obj: str, rejections: Sequence[Rejection]) -> None:
        """Hand rejected records back where the system keeps them (a reject file, nothing, ...)."""
        ...


class ReadsInWorker(Protocol):
    """A connector whose ``read`` may run in another process on a pickled copy of it (it reads
    local files and holds nothing but its settings: no live client, lock or shared pacing). The
    engine then reads and maps there while this process matches and writes. Optional: a
    connector without the attribute reads in the hub's own process."""

    reads_in_worker: ClassVar[bool]


@runtime_checkable
class Merging(Protocol):
    """A connector whose API merges two records (HubSpot's merge endpoint)."""

    def merge(self, obj: str, primary_id: str, merged_id: str) -> WriteResult: ...


class Reporter(Protocol):
    """Receives the core's progress events; the CLI decides how to show them. The core never prints."""

    def started(self, task: str, total: int | None = None) -> None: ...

    def advanced(self, task: str, by: int = 1) -> None: ...

    def finished(self, task: str) -> None: ...

    def message(self, text: str) -> None: ...


class NullReporter:
    def started(self, task: str, total: int | None = None) -> None:
        return None

    def advanced(self, task: str, by: int = 1) -> None:
        return None

    def finished(self, task: str) -> None:
        return None

    def message(self, text: str) -> None:
        return None


@dataclass(slots=True)
class ReviewRow:
    """A pair of golden records the matcher could not decide on: a person links or rejects it."""

    id: int
    entity_type: EntityType
    a: str
    b: str
    a_source: str  # the source record of ``a`` the score is about (system/object/id)
    b_source: str
    probability: float
    weight: float
    detail: dict[str, Any]  # levels and contributions per compared field
    origin: str  # incremental | dedupe
    status: str  # open | linked | rejected | stale
    created_at: datetime
    run_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class StoreTransaction(Protocol):
    """One unit of work on the hub's state; everything done through it commits together.

    Batch methods take and return many records at once: a caller never loops one query per record.
    """

    def sources_by_ref(
        self, system: str, obj: str, external_ids: Sequence[str]
    ) -> dict[str, StoredSource]: ...

    def sources_of(self, canonical_ids: Iterable[str]) -> dict[str, list[StoredSource]]: ...

    def insert_sources(self, sources: Sequence[StoredSource]) -> None: ...

    def update_sources(self, sources: Sequence[StoredSource]) -> None: ...

    def xref_lookup(self, refs: Iterable[RecordRef]) -> dict[RecordRef, str]: ...

    def add_xrefs(
        self, links: Sequence[tuple[RecordRef, str, dict[str, Any]]], run_id: str | None
    ) -> None: ...

    def xref_refs(self, system: str, obj: str, external_ids: Iterable[str]) -> dict[str, str]: ...

    def external_ids_of(
        self, system: str, canonical_ids: Iterable[str]
    ) -> dict[tuple[str, str], RecordRef]: ...

    def system_writes(
        self, system: str, obj: str, canonical_ids: Iterable[str]
    ) -> dict[str, str]: ...

    def enqueue_writes(self, writes: Sequence[PlannedWrite], run_id: str | None) -> None: ...

    def written_values(
        self, system: str, obj: str, canonical_ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]: ...

    def clusters_for_keys(self, entity: EntityType, keys: Iterable[str]) -> dict[str, set[str]]: ...

    def replace_keys(self, entries: Sequence[tuple[StoredSource, list[MatchKey]]]) -> None: ...

    def goldens(self, canonical_ids: Iterable[str]) -> dict[str, GoldenRecord]: ...

    def save_goldens(
        self, new: Sequence[GoldenRecord], changed: Sequence[GoldenRecord]
    ) -> None: ...

    def append_audit(self, events: Sequence[AuditEvent]) -> None: ...

    def cursor(self, system: str, obj: str) -> str | None: ...

    def set_cursor(self, system: str, obj: str, value: str, run_id: str | None) -> None: ...

    def add_errors(self, run_id: str, severity: str, rejections: Sequence[Rejection]) -> None: ...

    def bump_run(self, run_id: str, counts: dict[str, int]) -> None: ...

    # --- probabilistic matching (state/matching_store.py) ---

    def blocking_members(
        self, entity: EntityType, keys: Iterable[str], max_block: int
    ) -> dict[str, list[tuple[str, str]]]: ...

    def replace_blocking_keys(
        self, entries: Sequence[tuple[StoredSource, Sequence[str]]]
    ) -> None: ...

    def source_values(
        self, source_keys: Iterable[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]: ...

    def match_model(self, entity: EntityType) -> tuple[str, str] | None: ...

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
    ) -> bool: ...

    def constraints(self, ids: Iterable[str]) -> list[tuple[str, str, str]]: ...
