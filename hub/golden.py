"""Golden records and survivorship: which value wins, from which source, by which rule.

Each golden value keeps its provenance (system, object, external id, the time it last changed at its
source, the rule that chose it), so ``explain`` can answer "why is this value here?" from the record
alone, and the audit log holds every before/after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from hub.model import EntityType
from hub.ports import RecordRef
from hub.settings import SurvivorshipSettings


@dataclass(slots=True)
class StoredSource:
    """The latest version of one source record the hub holds, with its normalised values."""

    ref: RecordRef
    entity_type: EntityType
    canonical_id: str
    values: dict[str, Any]
    field_times: dict[str, datetime]
    modified_at: datetime
    fingerprint: str = ""
    deleted: bool = False
    id: int | None = None
    refs: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    location: str = ""

    def changed_at(self, field_name: str) -> datetime:
        return self.field_times.get(field_name, self.modified_at)


class GoldenValue(NamedTuple):
    """One golden value with its provenance (a tuple: millions are made on a large import)."""

    value: Any
    source: RecordRef | None
    changed_at: datetime | None
    rule: str

    def to_json(self) -> list[Any]:
        """Stored as ``[value, "system/object/id", "changed-at ISO", rule]``: compact, as there is one
        per field of every golden record."""
        return [
            self.value,
            str(self.source) if self.source else None,
            self.changed_at.isoformat() if self.changed_at else None,
            self.rule,
        ]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> GoldenValue:
        value, src, at, rule = data
        source = RecordRef(*src.split("/", 2)) if src else None
        return cls(value, source, datetime.fromisoformat(at) if at else None, rule)

    @classmethod
    def many_from_json(cls, data: Mapping[str, Sequence[Any]]) -> dict[str, GoldenValue]:
        """``from_json`` of a golden record's stored fields; the fields of one source share their
        source and time, which are parsed once."""
        refs: dict[str, RecordRef] = {}
        times: dict[str, datetime] = {}
        out: dict[str, GoldenValue] = {}
        make = tuple.__new__
        for name, (value, src, at, rule) in data.items():
            source = None
            if src:
                source = refs.get(src)
                if source is None:
                    source = refs[src] = RecordRef(*src.split("/", 2))
            moment = None
            if at:
                moment = times.get(at)
                if moment is None:
                    moment = times[at] = datetime.fromisoformat(at)
            out[name] = make(cls, (value, source, moment, rule))
        return out


@dataclass(slots=True)
class GoldenRecord:
    canonical_id: str
    entity_type: EntityType
    fields: dict[str, GoldenValue] = field(default_factory=dict)
    pinned: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    redirect_to: str | None = None
    deleted: bool = False

    def values(self) -> dict[str, Any]:
        return {name: gv.value for name, gv in self.fields.items()}

    def fields_json(self) -> dict[str, list[Any]]:
        """The stored form of ``fields``: ``[value, "system/object/id", "changed-at ISO", rule]``.

        Sources and times repeat across fields, most often as the very same objects (one source's),
        so each is rendered once per run of equal ones; identities compare faster than a
        ``RecordRef`` hashes."""
        out: dict[str, list[Any]] = {}
        last_ref: object = _NONE
        last_at: object = _NONE
        src = at = None
        for name, (value, ref, moment, rule) in self.fields.items():
            if ref is not last_ref:
                last_ref, src = ref, None if ref is None else str(ref)
            if moment is not last_at:
                last_at, at = moment, None if moment is None else moment.isoformat()
            out[name] = [value, src, at, rule]
        return out


_NONE = object()  # "nothing rendered yet", distinct from a None source or time


@dataclass(frozen=True, slots=True)
class Conflict:
    field: str
    values: tuple[tuple[str, Any, str], ...]  # (source ref, value, changed at)
    rule: str
    winner: Any


class Survivorship:
    """Applies the configured rule per field over the live sources linked to one golden record."""

    def __init__(self, settings: SurvivorshipSettings, system_order: Sequence[str]) -> None:
        self.settings = settings
        self.system_order = list(system_order)
        # entity → field → (rule, system ranks); by entity first, as hashing an enum member is a
        # Python call and this runs for every field of every record.
        self._rules: dict[EntityType, dict[str, tuple[str, dict[str, int]]]] = {}

    def _rule_table(self, entity: EntityType) -> dict[str, tuple[str, dict[str, int]]]:
        table = self._rules.get(entity)
        if table is None:
            table = self._rules[entity] = {}
        return table

    def _rule(self, entity: EntityType, name: str) -> tuple[str, dict[str, int]]:
        """The rule's name and its system ranks, computed once per entity × field."""
        table = self._rule_table(entity)
        found = table.get(name)
        if found is None:
            rule = self.settings.rule_for(entity, name)
            order = list(rule.systems) or self.system_order
            found = table[name] = (rule.rule, {system: i for i, system in enumerate(order)})
        return found

    def decide(
        self, entity: EntityType, sources: Iterable[StoredSource], pinned: Mapping[str, Any]
    ) -> dict[str, GoldenValue]:
        live = [s for s in sources if not s.deleted]
        golden: dict[str, GoldenValue] = {}
        if len(live) == 1:  # one source: every rule picks its values (the common case on import)
            only = live[0]
            ref, times, default = only.ref, only.field_times, only.modified_at
            table = self._rule_table(entity)
            make = tuple.__new__  # GoldenValue's own __new__ is a Python function
            for name, value in only.values.items():
                if value is None or value == "" or (pinned and name in pinned):
                    continue
                rule = table.get(name) or self._rule(entity, name)
                golden[name] = make(GoldenValue, (value, ref, times.get(name, default), rule[0]))
        else:
            by_field: dict[str, list[StoredSource]] = {}
            for source in live:
                for name, value in source.values.items():
                    if value is not None and value != "" and name not in pinned:
                        by_field.setdefault(name, []).append(source)
            for name, holders in by_field.items():
                golden[name] = self._choose(entity, name, holders)
        for name, value in pinned.items():
            golden[name] = GoldenValue(value, None, None, "pinned")
        return golden

    def _choose(self, entity: EntityType, name: str, holders: list[StoredSource]) -> GoldenValue:
        rule, ranks = self._rule(entity, name)
        last = len(ranks)
        # Sort keys always end with the source ref so the choice never depends on read order.
        if len(holders) == 1:
            best = holders[0]
        elif rule == "priority":
            best = min(
                holders,
                key=lambda s: (
                    ranks.get(s.ref.system, last),
                    -s.changed_at(name).timestamp(),
                    str(s.ref),
                ),
            )
        elif rule == "latest":
            best = min(
                holders,
                key=lambda s: (
                    -s.changed_at(name).timestamp(),
                    ranks.get(s.ref.system, last),
                    str(s.ref),
                ),
            )
        elif rule == "most_complete":
            best = min(
                holders,
                key=lambda s: (
                    -len(str(s.values[name])),
                    ranks.get(s.ref.system, last),
                    str(s.ref),
                ),
            )
        else:  # most_frequent
            counts = Counter(_hashable(s.values[name]) for s in holders)
            best = min(
                holders,
                key=lambda s: (
                    -counts[_hashable(s.values[name])],
                    -s.changed_at(name).timestamp(),
                    str(s.ref),
                ),
            )
        return GoldenValue(best.values[name], best.ref, best.changed_at(name), rule)

    def conflicts(
        self,
        entity: EntityType,
        incoming: StoredSource,
        previous: StoredSource | None,
        others: Iterable[StoredSource],
        golden: Mapping[str, GoldenValue],
    ) -> list[Conflict]:
        """Fields the incoming source changed to a value another live source disagrees with."""
        found: list[Conflict] = []
        peers = [s for s in others if s is not incoming and not s.deleted and s.ref != incoming.ref]
        if not peers:
            return found
        for name, value in incoming.values.items():
            if previous is not None and previous.values.get(name) == value:
                continue
            differing = [p for p in peers if p.values.get(name) not in (None, "", value)]
            if not differing:
                continue
            seen = [(str(incoming.ref), value, incoming.changed_at(name).isoformat())]
            seen += [
                (str(p.ref), p.values[name], p.changed_at(name).isoformat()) for p in differing
            ]
            winner = golden.get(name)
            found.append(
                Conflict(
                    name,
                    tuple(seen),
                    winner.rule if winner else self.settings.rule_for(entity, name).rule,
                    winner.value if winner else None,
                )
            )
        return found


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def diff(
    before: Mapping[str, GoldenValue], after: Mapping[str, GoldenValue]
) -> dict[str, dict[str, Any]]:
    """Field-level changes: {field: {before, after, src, rule, at}} for the audit log."""
    if not before:
        return _created(after)
    changes: dict[str, dict[str, Any]] = {}
    names: Iterable[str] = sorted(set(before) | set(after))
    last_ref: object = _NONE
    last_at: object = _NONE
    src = at = None
    for name in names:
        old, new = before.get(name), after.get(name)
        if new is None:
            changes[name] = {
                "before": old.value if old else None,
                "after": None,
                "src": None,
                "rule": None,
            }
            continue
        value, ref, moment, rule = new
        if old is not None and old.value == value and old.source == ref:
            continue
        if ref is not last_ref:  # one source's fields share their ref and time objects
            last_ref, src = ref, None if ref is None else str(ref)
        change = {"before": old.value if old else None, "after": value, "src": src, "rule": rule}
        if moment is not None:
            if moment is not last_at:
                last_at, at = moment, moment.isoformat()
            change["at"] = at
        changes[name] = change
    return changes


def _created(after: Mapping[str, GoldenValue]) -> dict[str, dict[str, Any]]:
    """``diff({}, after)``: every value is new (a golden record's first version)."""
    changes: dict[str, dict[str, Any]] = {}
    last_ref: object = _NONE
    last_at: object = _NONE
    src = at = None
    for name in sorted(after):
        value, ref, moment, rule = after[name]
        if ref is not last_ref:  # one source's fields share their ref and time objects
            last_ref, src = ref, None if ref is None else str(ref)
        if moment is None:
            changes[name] = {"before": None, "after": value, "src": src, "rule": rule}
            continue
        if moment is not last_at:
            last_at, at = moment, moment.isoformat()
        changes[name] = {"before": None, "after": value, "src": src, "rule": rule, "at": at}
    return changes
