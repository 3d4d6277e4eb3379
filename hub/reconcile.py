"""Reconciliation: the nightly job that compares every system with the golden records and the xref,
repairs what drifted, and writes a report of what it found, what it repaired and what needs a person.

1. Every readable object is read in full through the normal apply path: records the hub missed (a lost
   webhook, a cursor reset) arrive, changes made behind its back are applied.
2. Records the hub holds that the full read no longer returned were deleted in that system without a
   tombstone reaching the hub: they are applied as deletions (only after a read that completed).
3. Every live golden record is checked against each system it is written to, by that system's own
   records: missing there, or diverged from the golden values, and a write is queued.
4. Several records of one system linked to one golden record are duplicates inside that system:
   reported for a person, never merged in the system by the hub on its own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.apply import Applier
from hub.engine import EngineStore, RecordMapper, RunSummary, SyncEngine
from hub.golden import Survivorship
from hub.ids import new_run_id
from hub.model import Candidate, EntityType
from hub.outbox import WritePlanner
from hub.ports import Connector, RecordRef
from hub.settings import Settings

EXAMPLES = 10


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        store: EngineStore,
        connectors: Mapping[str, Connector],
        mappers: Mapping[tuple[str, str], Any],
        planner: WritePlanner,
    ) -> None:
        self.settings = settings
        self.store = store
        self.connectors = connectors
        self.mappers = mappers
        self.planner = planner
        self.engine = SyncEngine(settings, store, connectors, mappers, planner=planner)

    def run(self, systems: Sequence[str] | None = None, trigger: str = "cli") -> RunSummary:
        chosen = list(systems or self.settings.systems)
        run_id = new_run_id()
        started = time.monotonic()
        self.store.start_run(run_id, "reconcile", chosen, trigger)
        summary = RunSummary(run_id, "running")
        applier = Applier(
            Survivorship(self.settings.survivorship, self.settings.system_priority()),
            run_id,
            self.planner,
            self.settings.match.for_entity,
            self.settings.named_by_others(),
        )
        report: dict[str, Any] = {"systems": {}, "needs_a_person": []}
        for system in chosen:
            found: dict[str, Any] = {}
            report["systems"][system] = found
            try:
                for obj in self.engine.readable_objects(system):
                    found[obj] = self._reconcile_object(system, obj, applier, summary)
            except Exception as exc:  # one system's failure leaves the others reconciled
                summary.failures[system] = f"{type(exc).__name__}: {exc}"
                found["failed"] = summary.failures[system]
        report["writes"] = self._verify_targets(chosen, run_id, summary)
        report["needs_a_person"] = self._duplicates_inside_systems(chosen)
        summary.seconds = time.monotonic() - started
        if summary.failures:
            summary.status = "failed" if len(summary.failures) == len(chosen) else "partial"
        else:
            summary.status = "partial" if summary.counts["rejected"] else "succeeded"
        error = "; ".join(f"{s}: {m}" for s, m in summary.failures.items()) or None
        self.store.finish_run(run_id, summary.status, error, report)
        return summary

    def _reconcile_object(
        self, system: str, obj: str, applier: Applier, summary: RunSummary
    ) -> dict[str, Any]:
        seen: set[str] = set()
        before = Counter(summary.counts)
        self.engine._sync_object(system, obj, True, applier, summary, seen)
        read_counts = summary.counts - before
        mapper: RecordMapper = self.mappers[(system, obj)]
        entity: EntityType = mapper.spec.entity  # type: ignore[attr-defined]
        with self.store.transaction() as tx:
            held = tx.live_external_ids(system, obj)  # type: ignore[attr-defined]
        gone = sorted(held - seen)
        now = datetime.now(UTC)
        for start in range(0, len(gone), 500):
            tombstones = [
                Candidate(
                    ref=RecordRef(system, obj, ext),
                    entity_type=entity,
                    values={},
                    field_times={},
                    modified_at=now,
                    deleted=True,
                    location="reconcile: no longer returned by a complete read",
                    fingerprint="gone-from-full-read",
                )
                for ext in gone[start : start + 500]
            ]
            with self.store.transaction() as tx:
                result = applier.apply(tx, tombstones)
                tx.bump_run(
                    applier.run_id or "", {"deleted_in_system": len(tombstones), **result.counts}
                )
        summary.counts["deleted_in_system"] += len(gone)
        return {
            "read": read_counts["read"],
            "new_or_changed_applied": read_counts["created"]
            + read_counts["linked"]
            + read_counts["updated"],
            "deleted_in_system": len(gone),
            "deleted_examples": gone[:EXAMPLES],
            "rejected": read_counts["rejected"],
        }

    def _verify_targets(
        self, systems: Sequence[str], run_id: str, summary: RunSummary
    ) -> dict[str, Any]:
        findings: dict[str, Any] = {}
        for target in self.planner.targets:
            if target.system not in systems:
                continue
            queued, examples = 0, list[str]()
            with self.store.transaction() as tx:
                page: list[Any] = []
                for golden in tx.iter_goldens(target.entity):  # type: ignore[attr-defined]
                    page.append(golden)
                    if len(page) == 500:
                        queued += self._plan_page(tx, target, page, run_id, examples)
                        page = []
                if page:
                    queued += self._plan_page(tx, target, page, run_id, examples)
            findings[f"{target.system}/{target.object}"] = {
                "writes_queued": queued,
                "examples": examples,
            }
            summary.counts["repair_writes_queued"] += queued
        return findings

    def _plan_page(
        self, tx: Any, target: Any, page: list[Any], run_id: str, examples: list[str]
    ) -> int:
        sources = tx.sources_of([g.canonical_id for g in page])
        single = WritePlanner([target])
        queued: int = single.plan(tx, page, sources, run_id, verify=True)
        if queued and len(examples) < EXAMPLES:
            examples.extend(g.canonical_id for g in page[: EXAMPLES - len(examples)])
        return queued

    def _duplicates_inside_systems(self, systems: Sequence[str]) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            rows = tx.duplicates_within_systems(systems, limit=50)  # type: ignore[attr-defined]
        return [
            {"canonical_id": cid, "system": system, "object": obj, "records": ids,
             "why": "several records of one system are the same customer; merge them there"}
            for cid, system, obj, ids in rows
        ]  # fmt: skip
