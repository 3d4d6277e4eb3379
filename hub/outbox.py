"""Planning writes: which systems must hear of a golden-record change, and with what.

Runs inside the apply transaction, so an outbox row exists exactly when its golden change does. A write
is skipped when the target already holds these values: the hub wrote them before (``system_writes``)
or the target's own record says so. The same fingerprint recognises an echo: a system reporting back
the values the hub wrote is not a new change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from hub.golden import GoldenRecord, StoredSource
from hub.model import EntityType
from hub.ports import RecordRef, WriteOp


class WriteMapper(Protocol):
    def to_system(
        self, values: Mapping[str, Any], resolve_ref: Callable[[str, str], str | None] | None = None
    ) -> dict[str, Any]: ...

    def written_fields(self) -> list[str]: ...


@dataclass(frozen=True)
class WriteTarget:
    system: str
    object: str
    entity: EntityType
    mapper: WriteMapper


@dataclass(slots=True)
class PlannedWrite:
    system: str
    object: str
    canonical_id: str
    op: WriteOp
    payload: dict[str, Any]
    fingerprint: str
    external_id: str | None
    values: dict[str, Any] = field(default_factory=dict)  # the golden values the write carries


class OutboxTransaction(Protocol):
    def system_writes(
        self, system: str, obj: str, canonical_ids: Iterable[str]
    ) -> dict[str, str]: ...

    def external_ids_of(
        self, system: str, canonical_ids: Iterable[str]
    ) -> dict[tuple[str, str], RecordRef]: ...

    def enqueue_writes(self, writes: Sequence[PlannedWrite], run_id: str | None) -> None: ...

    def written_values(
        self, system: str, obj: str, canonical_ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]: ...


def fingerprint(values: Mapping[str, Any], fields: Sequence[str]) -> str:
    chosen = {name: values.get(name) for name in fields if values.get(name) not in (None, "")}
    return hashlib.blake2b(
        orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS, default=str), digest_size=16
    ).hexdigest()


class WritePlanner:
    def __init__(self, targets: Sequence[WriteTarget]) -> None:
        self.targets = list(targets)
        self._by_key = {(t.system, t.object): t for t in targets}
        self._fields = {(t.system, t.object): t.mapper.written_fields() for t in targets}

    def __bool__(self) -> bool:
        return bool(self.targets)

    def written_fields(self, system: str, obj: str) -> list[str] | None:
        return self._fields.get((system, obj))

    @staticmethod
    def is_echo(values: Mapping[str, Any], written: Mapping[str, Any] | None) -> bool:
        """The record reports what the hub last wrote to it.

        Every value the hub wrote is there unchanged, or absent: a system may not keep a field (a
        property it has no place for) and may add its own (an owner it assigns); neither changes
        what the hub wrote. A value written over by a person is not an echo."""
        if not written:
            return False
        return all(values.get(name) in (value, None) for name, value in written.items())

    def plan(
        self,
        tx: OutboxTransaction,
        changed: Sequence[GoldenRecord],
        sources: Mapping[str, Sequence[StoredSource]],
        run_id: str | None,
        verify: bool = False,
    ) -> int:
        """Queue the writes ``changed`` golden records need; returns how many were queued.

        ``verify`` (reconciliation) trusts only what the target's own records say, not what the hub
        remembers writing: a value changed there behind the hub's back is written again."""
        planned: list[PlannedWrite] = []
        for target in self.targets:
            relevant = [g for g in changed if g.entity_type is target.entity]
            if not relevant:
                continue
            fields = self._fields[(target.system, target.object)]
            ids = [g.canonical_id for g in relevant]
            already = tx.system_writes(target.system, target.object, ids)
            refs = {
                gv.value
                for g in relevant
                for name, gv in g.fields.items()
                if name.endswith("_id") and gv.value
            }
            known = tx.external_ids_of(target.system, [*ids, *refs])

            def resolve(obj: str, canonical_id: str, _known: Any = known) -> str | None:
                ref = _known.get((obj, canonical_id))
                return ref.external_id if ref else None

            for golden in relevant:
                mine = known.get((target.object, golden.canonical_id))
                if golden.deleted:
                    if mine is not None:
                        planned.append(
                            PlannedWrite(target.system, target.object, golden.canonical_id, WriteOp.DELETE,
                                         {}, "deleted", mine.external_id)
                        )  # fmt: skip
                    continue
                values = golden.values()
                print_ = fingerprint(values, fields)
                if not verify and already.get(golden.canonical_id) == print_:
                    continue  # the hub wrote exactly this before
                own = [
                    s
                    for s in sources.get(golden.canonical_id, [])
                    if s.ref.system == target.system
                    and s.ref.object == target.object
                    and not s.deleted
                ]
                if own and all(fingerprint(s.values, fields) == print_ for s in own):
                    continue  # the target already holds these values: nothing to tell it
                payload = target.mapper.to_system(values, resolve)
                carried = {
                    name: values[name] for name in fields if values.get(name) not in (None, "")
                }
                planned.append(
                    PlannedWrite(
                        target.system, target.object, golden.canonical_id, WriteOp.UPSERT, payload, print_,
                        mine.external_id if mine else (own[0].ref.external_id if own else None),
                        carried,
                    )
                )  # fmt: skip
        tx.enqueue_writes(planned, run_id)
        return len(planned)
