"""Apply a batch of candidates from one system × object: xref, then match, then merge, then persist.

Everything for the batch goes through one store transaction, so source records, xref, golden records,
match keys and audit events are durable together or not at all. Applying the same candidate twice
changes nothing (its fingerprint is already stored); an older version than the one held is ignored.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.audit import AuditEvent
from hub.golden import GoldenRecord, StoredSource, Survivorship, diff
from hub.identity.keys import STRONG, MatchKey, keys_for
from hub.identity.linker import LinkDecision, decide
from hub.identity.probabilistic import BatchMatching, load_matcher
from hub.ids import new_canonical_id
from hub.model import ENTITY_MODELS, Candidate, EntityType
from hub.outbox import WritePlanner
from hub.ports import RecordRef, Rejection, StoreTransaction

if TYPE_CHECKING:
    from hub.identity.scorer import EntityMatchConfig, Matcher

# A worker applies batches for hours: it looks again for a newly trained model this often.
_MODEL_RECHECK_SECONDS = 60.0


@dataclass(slots=True)
class ApplyResult:
    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[Rejection] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


def _latest_per_ref(candidates: Sequence[Candidate]) -> list[Candidate]:
    """One candidate per record: a page overlap or a redelivery may carry the same record twice."""
    latest: dict[str, Candidate] = {}
    for c in candidates:
        held = latest.get(c.ref.external_id)
        if held is None or c.modified_at >= held.modified_at:
            latest[c.ref.external_id] = c
    return list(latest.values())


class Applier:
    def __init__(
        self,
        survivorship: Survivorship,
        run_id: str | None,
        planner: WritePlanner | None = None,
        match_config: Callable[[EntityType], EntityMatchConfig] | None = None,
        named_by_others: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.survivorship = survivorship
        self.run_id = run_id
        self.planner = planner
        # Probabilistic matching, once ``huitong dedupe`` has trained a model for the configuration.
        self.match_config = match_config
        self._matchers: dict[EntityType, tuple[float, Matcher | None]] = {}
        # (system, object) pairs whose ids other objects carry (``same_as`` in the configuration).
        self.named_by_others = named_by_others

    def _matching(self, tx: StoreTransaction, entity: EntityType) -> BatchMatching | None:
        if self.match_config is None:
            return None
        held = self._matchers.get(entity)
        if held is None or time.monotonic() - held[0] > _MODEL_RECHECK_SECONDS:
            held = (time.monotonic(), load_matcher(tx, self.match_config, entity))
            self._matchers[entity] = held
        return BatchMatching(tx, entity, held[1]) if held[1] is not None else None

    def apply(self, tx: StoreTransaction, candidates: Sequence[Candidate]) -> ApplyResult:
        result = ApplyResult()
        if not candidates:
            return result
        first = candidates[0].ref
        system, obj, entity = first.system, first.object, candidates[0].entity_type
        batch = _latest_per_ref(candidates)
        result.counts["duplicates_in_batch"] += len(candidates) - len(batch)
        existing = tx.sources_by_ref(system, obj, [c.ref.external_id for c in batch])

        todo: list[Candidate] = []
        for c in batch:
            held = existing.get(c.ref.external_id)
            if held is not None and held.fingerprint == c.fingerprint:
                result.counts["unchanged"] += 1
            elif held is not None and c.modified_at < held.modified_at:
                result.counts["stale"] += (
                    1  # an older version arriving late never overwrites a newer one
                )
            elif held is None and c.deleted:
                result.counts["deleted_unknown"] += 1
            else:
                todo.append(c)
        if not todo:
            return result

        ref_targets = tx.xref_lookup(ref for c in todo for ref in (*c.refs.values(), *c.same_as))
        keys_of: dict[str, list[MatchKey]] = {
            c.ref.external_id: keys_for(entity, c.values)
            + [MatchKey("xid", str(other), STRONG) for other in c.same_as]
            for c in todo
            if not c.deleted
        }
        # A record that others name by id (``same_as``) looks for them: they may have come first.
        named = (system, obj) in self.named_by_others
        wanted = {k.key for ext, keys in keys_of.items() if ext not in existing for k in keys}
        if named:
            wanted.update(f"xid:{c.ref}" for c in todo if c.ref.external_id not in existing)
        db_clusters = tx.clusters_for_keys(entity, wanted) if wanted else {}
        # Records the hub itself created in this system are in the xref before their first read.
        unseen = [c.ref.external_id for c in todo if c.ref.external_id not in existing]
        written_here = tx.xref_refs(system, obj, unseen) if unseen and self.planner else {}
        cluster_ids = {s.canonical_id for s in existing.values()} | set(written_here.values())
        cluster_ids.update(cid for cids in db_clusters.values() for cid in cids)
        cluster_ids.update(ref_targets[o] for c in todo for o in c.same_as if o in ref_targets)
        matching = self._matching(tx, entity)
        kept_apart: dict[str, set[str]] = {}
        if matching is not None:
            to_match = {
                str(c.ref): c.values
                for c in todo
                if not c.deleted
                and c.ref.external_id not in existing
                and c.ref.external_id not in written_here
            }
            cluster_ids.update(matching.prefetch(to_match))
            for kind, a, b in tx.constraints(to_match):
                if kind == "cannot_link":
                    kept_apart.setdefault(a, set()).add(b)
                    kept_apart.setdefault(b, set()).add(a)
        # Pairs for a person: (canonical ids, their source records, probability, weight, detail).
        reviews: list[tuple[tuple[str, str], tuple[str, str], float, float, dict[str, Any]]] = []
        sources = tx.sources_of(cluster_ids)
        goldens = tx.goldens(cluster_ids)
        overlay: dict[str, set[str]] = {}
        echo_fields = self.planner.written_fields(system, obj) if self.planner else None
        last_written = (
            tx.written_values(system, obj, cluster_ids) if echo_fields is not None else {}
        )

        collected = _Collected(sources, goldens)
        new_sources, changed_sources = collected.new_sources, collected.changed_sources
        new_goldens, changed_goldens = collected.new_goldens, collected.changed_goldens
        links, key_entries, events = collected.links, collected.key_entries, collected.events
        index_entries: list[tuple[StoredSource, Sequence[str]]] = []

        def cluster_values(cid: str) -> dict[str, Any]:
            golden = goldens.get(cid)
            return golden.values() if golden else {}

        # One time for the batch's audit events: they are recorded in one transaction.
        now = datetime.now(UTC)
        for c in todo:
            held = existing.get(c.ref.external_id)
            values = dict(c.values) if c.refs else c.values
            refs = {}
            for target, ref in c.refs.items():
                refs[target] = str(ref)
                found = ref_targets.get(ref)
                if found:
                    values[target] = found
                else:
                    result.warnings.append(
                        Rejection(
                            c.ref.system,
                            c.ref.object,
                            c.location,
                            f"{target}: no {ref.object} record {ref.external_id!r} in {ref.system} "
                            "is known yet; the link is kept and resolved when it arrives",
                            c.ref.external_id,
                        )
                    )
            link_reason: dict[str, Any] | None = None
            if held is not None:
                cid = held.canonical_id
            elif c.ref.external_id in written_here:
                cid = written_here[c.ref.external_id]
                link_reason = {"rule": "written", "detail": "created in this system by the hub"}
            else:
                keys = keys_of.get(c.ref.external_id, [])
                hint = next((o for o in c.same_as if o in ref_targets), None)
                lookup = [*keys, MatchKey("xid", str(c.ref), STRONG)] if named else keys
                merged = {}
                for k in lookup:
                    name = k.key
                    found_db, found_here = db_clusters.get(name), overlay.get(name)
                    if found_db and found_here:
                        merged[name] = found_db | found_here
                    else:
                        merged[name] = set(found_db or found_here or ())
                if hint is not None:  # another system's id says which customer: no keys needed
                    decision = LinkDecision(
                        ref_targets[hint], {"rule": "id_hint", "hint": str(hint)}
                    )
                else:
                    decision = decide(entity, values, lookup, merged, cluster_values)
                queued = None
                if decision.canonical_id is None and not c.deleted and matching is not None:
                    apart = kept_apart.get(str(c.ref), set())
                    scored = matching.decide(str(c.ref), values, cluster_values, apart.__contains__)
                    if scored.decision == "link":
                        decision = LinkDecision(scored.canonical_id, scored.reason)
                    elif scored.decision == "review" and scored.match is not None:
                        queued = (scored.canonical_id or "", scored.match, scored.reason)
                        decision.reason["review"] = {
                            "candidate": scored.canonical_id,
                            "probability": round(scored.match.probability, 6),
                        }
                if (
                    decision.canonical_id is None
                    and not c.deleted
                    and decision.reason.get("rule") == "new"
                ):
                    # A new golden record of this one source: most records of a first import. The
                    # general path below would reach the same result through its comparisons.
                    created = self._create(
                        c, values, refs, keys, decision.reason, now, result, collected, overlay
                    )
                    if matching is not None:
                        index_entries.append(
                            (created, matching.add_record(str(c.ref), created.canonical_id, values))
                        )
                    if queued is not None:
                        candidate, match, reason = queued
                        pair_detail = {
                            "levels": reason["levels"],
                            "contributions": reason["contributions"],
                        }
                        if "conflict" in reason:
                            pair_detail["conflict"] = reason["conflict"]
                        reviews.append(((created.canonical_id, candidate), (str(c.ref), match.record_id),
                                        match.probability, match.weight, pair_detail))  # fmt: skip
                    continue
                if decision.canonical_id is None:
                    cid = new_canonical_id(ENTITY_MODELS[entity].id_prefix)
                    golden = GoldenRecord(cid, entity)
                    goldens[cid] = golden
                    new_goldens[cid] = golden
                else:
                    cid = decision.canonical_id
                    result.counts["linked"] += 1
                    for other in decision.reason.get("also_matched", ()):
                        # The record's keys point at two golden records: the linker chose one, a
                        # person decides whether the other is the same customer.
                        theirs = sources.get(other)
                        if theirs:
                            shared = sorted(k for k, cids in merged.items() if other in cids)
                            reviews.append(((cid, other), (str(c.ref), str(theirs[0].ref)), 1.0,
                                            0.0, {"rule": "deterministic", "keys": shared}))  # fmt: skip
                link_reason = decision.reason
                links.append((c.ref, cid, decision.reason))
            times = _field_times(c, values, held)
            echo = not c.deleted and WritePlanner.is_echo(values, last_written.get(cid))
            if echo:
                # The hub's own write reported back: its values keep the time of the change that
                # caused the write, so an echo never counts as a newer change anywhere.
                for name, value in values.items():
                    gv = goldens[cid].fields.get(name)
                    if gv is not None and gv.value == value and gv.changed_at is not None:
                        times[name] = gv.changed_at
            source = StoredSource(
                ref=c.ref,
                entity_type=entity,
                canonical_id=cid,
                values=values,
                field_times=times,
                modified_at=c.modified_at,
                fingerprint=c.fingerprint,
                deleted=c.deleted,
                id=held.id if held else None,
                refs=refs,
                raw=c.raw,
                location=c.location,
            )
            held_sources = sources.get(cid)
            cluster = [s for s in held_sources if s.ref != c.ref] if held_sources else []
            cluster.append(source)
            sources[cid] = cluster
            golden = goldens[cid]
            before = dict(golden.fields) if golden.fields else {}
            golden.fields = self.survivorship.decide(entity, cluster, golden.pinned)
            golden.deleted = all(s.deleted for s in cluster)
            changes = diff(before, golden.fields)
            conflicts = (
                []
                if echo
                else self.survivorship.conflicts(entity, source, held, cluster, golden.fields)
            )
            if changes or cid in new_goldens:
                golden.version += 1
                if cid not in new_goldens:
                    changed_goldens[cid] = golden
            (changed_sources if held else new_sources).append(source)
            if matching is not None:
                if c.deleted:
                    index_entries.append((source, []))
                elif held is None:
                    index_entries.append((source, matching.add_record(str(c.ref), cid, values)))
                else:
                    index_entries.append((source, matching.keys(str(c.ref), values)))
            if not c.deleted:
                mine = keys_of.get(c.ref.external_id, [])
                key_entries.append((source, mine))
                for k in mine:
                    overlay.setdefault(k.key, set()).add(cid)
            elif held is not None:
                key_entries.append((source, []))
            for issue in c.issues:
                result.warnings.append(
                    Rejection(c.ref.system, c.ref.object, c.location, issue, c.ref.external_id)
                )
            result.touched.add(cid)
            result.counts["conflicts"] += len(conflicts)
            if c.deleted:
                result.counts["deleted"] += 1
                kind = "source.deleted"
            elif (
                cid in new_goldens
                and held is None
                and link_reason is not None
                and link_reason["rule"] == "new"
            ):
                result.counts["created"] += 1
                kind = "golden.created"
            elif echo and not changes:
                result.counts["echoes"] += 1
                kind = "source.echo"
            else:
                result.counts["updated" if changes else "absorbed"] += 1
                kind = "golden.updated" if changes else "source.updated"
            detail: dict[str, Any] = {"changes": changes, "location": c.location}
            if (
                kind != "golden.created"
            ):  # a new golden record's changes are its one source's values
                detail["source"] = _source_delta(held, source)
            if link_reason is not None:
                detail["link"] = link_reason
            if conflicts:
                detail["conflicts"] = [
                    {
                        "field": cf.field,
                        "values": [list(v) for v in cf.values],
                        "rule": cf.rule,
                        "winner": cf.winner,
                    }
                    for cf in conflicts
                ]
            events.append(
                AuditEvent(
                    kind,
                    detail,
                    cid,
                    c.ref.system,
                    c.ref.object,
                    c.ref.external_id,
                    self.run_id,
                    now,
                )
            )

        tx.insert_sources(new_sources)
        tx.update_sources(changed_sources)
        tx.replace_keys(key_entries)
        if matching is not None:
            tx.replace_blocking_keys(index_entries)
        for pair, pair_sources, probability, weight, detail in reviews:
            if tx.add_review(entity, pair, pair_sources, probability, weight, detail, "incremental",
                             self.run_id):  # fmt: skip
                result.counts["review_queued"] += 1
        tx.add_xrefs(links, self.run_id)
        tx.save_goldens(list(new_goldens.values()), list(changed_goldens.values()))
        tx.append_audit(events)
        if self.planner:
            # Every touched golden record, changed or not: a newly linked source may hold values
            # that differ from the golden ones, and its system must then be told.
            touched = [goldens[cid] for cid in result.touched]
            result.counts["writes_queued"] += self.planner.plan(tx, touched, sources, self.run_id)
        result.counts["applied"] += len(todo)
        return result

    def _create(
        self,
        c: Candidate,
        values: dict[str, Any],
        refs: dict[str, str],
        keys: list[MatchKey],
        reason: dict[str, Any],
        now: datetime,
        result: ApplyResult,
        collected: _Collected,
        overlay: dict[str, set[str]],
    ) -> StoredSource:
        """A golden record made of ``c`` alone: its values, each from ``c``, and one event."""
        entity = c.entity_type
        cid = new_canonical_id(ENTITY_MODELS[entity].id_prefix)
        # Without per-field times every value changed when the record did: held as the store reads
        # it back, with no times (``StoredSource.changed_at`` falls back to ``modified_at``).
        times = _field_times(c, values, None) if c.field_times else {}
        source = StoredSource(
            c.ref,
            entity,
            cid,
            values,
            times,
            c.modified_at,
            c.fingerprint,
            False,
            None,
            refs,
            c.raw,
            c.location,
        )
        golden = GoldenRecord(cid, entity, self.survivorship.decide(entity, (source,), {}), {}, 1)
        collected.goldens[cid] = collected.new_goldens[cid] = golden
        collected.sources[cid] = [source]
        collected.new_sources.append(source)
        collected.links.append((c.ref, cid, reason))
        collected.key_entries.append((source, keys))
        for k in keys:
            overlay.setdefault(k.key, set()).add(cid)
        for issue in c.issues:
            result.warnings.append(
                Rejection(c.ref.system, c.ref.object, c.location, issue, c.ref.external_id)
            )
        result.touched.add(cid)
        result.counts["created"] += 1
        detail = {"changes": diff({}, golden.fields), "location": c.location, "link": reason}
        collected.events.append(
            AuditEvent(
                "golden.created",
                detail,
                cid,
                c.ref.system,
                c.ref.object,
                c.ref.external_id,
                self.run_id,
                now,
            )
        )
        return source


@dataclass(slots=True)
class _Collected:
    """What one batch writes, gathered as its candidates are applied."""

    sources: dict[str, list[StoredSource]]  # canonical id → its sources, as they now stand
    goldens: dict[str, GoldenRecord]
    new_sources: list[StoredSource] = field(default_factory=list)
    changed_sources: list[StoredSource] = field(default_factory=list)
    new_goldens: dict[str, GoldenRecord] = field(default_factory=dict)
    changed_goldens: dict[str, GoldenRecord] = field(default_factory=dict)
    links: list[tuple[RecordRef, str, dict[str, Any]]] = field(default_factory=list)
    key_entries: list[tuple[StoredSource, list[MatchKey]]] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)


def _field_times(
    c: Candidate, values: dict[str, Any], held: StoredSource | None
) -> dict[str, datetime]:
    """When each value last changed at its source: kept from the held version when the value is the same."""
    if held is None and not c.field_times:
        return dict.fromkeys(values, c.modified_at)
    times: dict[str, datetime] = {}
    for name, value in values.items():
        if held is not None and held.values.get(name) == value:
            times[name] = held.changed_at(name)
        else:
            times[name] = c.field_times.get(name, c.modified_at)
    return times


def _source_delta(held: StoredSource | None, source: StoredSource) -> dict[str, Any]:
    if held is None:
        return {"new": source.values}
    changed = {
        name: [held.values.get(name), source.values.get(name)]
        for name in sorted(set(held.values) | set(source.values))
        if held.values.get(name) != source.values.get(name)
    }
    out: dict[str, Any] = {"changed": changed}
    if held.deleted != source.deleted:
        out["deleted"] = source.deleted
    return out
