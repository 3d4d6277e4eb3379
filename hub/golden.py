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
        """The stored form of ``fields``; sources and times repeat across fields, so each is
        rendered once."""
        refs: dict[RecordRef | None, str | None] = {None: None}
        times: dict[datetime | None, str | None] = {None: None}
        out: dict[str, list[Any]] = {}
        for name, gv in self.fields.items():
            src = refs.get(gv.source, "")
            if src == "":
                src = refs[gv.source] = str(gv.source)
            at = times.get(gv.changed_at, "")
            if at == "":
                at = times[gv.changed_at] = gv.changed_at.isoformat()  # type: ignore[union-attr]
            out[name] = [gv.value, src, at, gv.rule]
        return out


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
        self._rules: dict[tuple[EntityType, str], tuple[str, dict[str, int]]] = {}

    def _rule(self, entity: EntityType, name: str) -> tuple[str, dict[str, int]]:
        """The rule's name and its system ranks, computed once per entity × field."""
        found = self._rules.get((entity, name))
        if found is None:
            rule = self.settings.rule_for(entity, name)
            order = list(rule.systems) or self.system_order
            found = (rule.rule, {system: i for i, system in enumerate(order)})
            self._rules[(entity, name)] = found
        return found

    def decide(
        self, entity: EntityType, sources: Iterable[StoredSource], pinned: Mapping[str, Any]
    ) -> dict[str, GoldenValue]:
        live = [s for s in sources if not s.deleted]
        golden: dict[str, GoldenValue] = {}
        if len(live) == 1:  # one source: every rule picks its values (the common case on import)
            only = live[0]
            ref, times, default = only.ref, only.field_times, only.modified_at
            for name, value in only.values.items():
                if value is None or value == "" or name in pinned:
                    continue
                golden[name] = GoldenValue(
                    value, ref, times.get(name, default), self._rule(entity, name)[0]
                )
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
        peers = [s for s in others if not s.deleted and s.ref != incoming.ref]
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
    """Field-level changes: {field: {before, after, src, rule}} for the audit log."""
    changes: dict[str, dict[str, Any]] = {}
    names: Iterable[str] = sorted(after) if not before else sorted(set(before) | set(after))
    shown: dict[RecordRef, str] = {}
    times: dict[datetime, str] = {}
    for name in names:
        old, new = before.get(name), after.get(name)
        if (
            old is not None
            and new is not None
            and old.value == new.value
            and old.source == new.source
        ):
            continue
        src = None
        if new is not None and new.source is not None:
            src = shown.get(new.source)
            if src is None:
                src = shown[new.source] = str(new.source)
        changes[name] = {
            "before": old.value if old else None,
            "after": new.value if new else None,
            "src": src,
            "rule": new.rule if new else None,
        }
        if new is not None and new.changed_at is not None:
            at = times.get(new.changed_at)
            if at is None:
                at = times[new.changed_at] = new.changed_at.isoformat()
            changes[name]["at"] = at
    return changes
