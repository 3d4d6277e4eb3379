"""``huitong dedupe``: the batch pass over every stored record of one entity type.

It trains the scorer on the records themselves (``clustering.dedupe``: m by EM over blocked pairs, u from
random pairs, term frequencies), clusters, and reports which golden records the clusters say are one
customer. The records' current golden records are must-link (they are one already) and every
cannot-link decision a person made is honoured. Then:

* the trained model is stored and the blocking index rebuilt for the configuration, so from now on an
  incoming record no key links is scored against the stored ones (``hub.identity.probabilistic``);
* with ``apply``, each cluster's golden records are merged (audited and undoable like any merge; the
  golden record with most sources survives) and the pairs between the thresholds that ended apart are
  queued for review.

The incremental matcher and this pass use the same comparisons, blocking rules and model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.identity.decisions import latest_decisions
from hub.identity.merging import Identity, IdentityError
from hub.identity.probabilistic import config_fingerprint, match_reason
from hub.identity.scorer import EntityMatchConfig, Match, Matcher, weight_of
from hub.model import EntityType
from hub.ports import Reporter

_MERGES_PER_TRANSACTION = 200
_INDEX_ROWS_PER_STATEMENT = 20_000  # rows per statement


@dataclass
class DedupeReport:
    entity: EntityType
    records: int
    golden_before: int
    groups: list[list[str]] = field(default_factory=list)  # golden records the clusters join
    merged: int = 0
    refused: list[str] = field(default_factory=list)
    reviews_queued: int = 0
    review_pairs: int = 0
    index_keys: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity.value,
            "records": self.records,
            "golden_records_before": self.golden_before,
            "groups": len(self.groups),
            "golden_records_joined": sum(len(g) for g in self.groups),
            "largest_group": max((len(g) for g in self.groups), default=0),
            "sample_groups": self.groups[:10],
            "applied": self.applied,
            "merged": self.merged,
            "refused": self.refused,
            "review_pairs": self.review_pairs,
            "reviews_queued": self.reviews_queued,
            "index_keys": self.index_keys,
            "clustering": self.summary,
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_dedupe(
    store: Any,
    entity: EntityType,
    config: EntityMatchConfig,
    identity: Identity,
    apply: bool,
    by: str,
    workers: int = 1,
    run_id: str | None = None,
    reporter: Reporter | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> DedupeReport:
    from hub.identity.clustering import Constraints, dedupe

    phase = on_phase or (lambda _name: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    phase("reading records")
    ids: list[str] = []
    clusters: list[str] = []
    records: list[dict[str, Any]] = []
    with store.transaction() as tx:
        for source_key, cid, values in tx.iter_live_sources(entity):
            ids.append(source_key)
            clusters.append(cid)
            records.append(values)
        constraints = tx.all_constraints()
        survivors = tx.merge_survivors()
    golden_before = len(set(clusters))
    report = DedupeReport(entity, len(records), golden_before)
    timings["read"] = time.perf_counter() - started
    if len(records) < 2:
        report.timings = timings
        return report

    # The records' golden records are one customer each already: chained as must-link. A person's
    # cannot-link between two golden records holds between any record of one and any of the other,
    # so one record of each carries it (clustering keeps whole clusters apart).
    first_of: dict[str, str] = {}
    must: list[tuple[str, str]] = []
    for source_key, cid in zip(ids, clusters, strict=True):
        held = first_of.setdefault(cid, source_key)
        if held != source_key:
            must.append((held, source_key))
    # The newest decision counts, about the golden records that hold the decided ones now.
    latest = latest_decisions(constraints, survivors)
    cannot = [
        (first_of[a], first_of[b])
        for pair, kind in latest.items()
        if kind == "cannot_link" and len(pair) == 2
        for a, b in [sorted(pair)]
        if a in first_of and b in first_of
    ]
    phase("training and clustering")
    started = time.perf_counter()
    result = dedupe(records, config, ids, Constraints(must, cannot), workers=workers)
    timings.update({f"dedupe_{k}": v for k, v in result.timings.items()})
    report.summary = result.summary()

    cluster_of = dict(zip(ids, clusters, strict=True))
    for members in result.clusters(min_size=2):
        joined = sorted({cluster_of[m] for m in members})
        if len(joined) > 1:
            report.groups.append(joined)
    report.groups.sort(key=lambda g: (-len(g), g[0]))
    timings["cluster"] = time.perf_counter() - started

    phase("storing the model and the blocking index")
    started = time.perf_counter()
    matcher = Matcher(config, result.model)
    rows: list[tuple[str, str, str]] = []
    for source_key, cid, values in zip(ids, clusters, records, strict=True):
        rows.extend((key, cid, source_key) for key in matcher.blocking_keys(values))
    report.index_keys = len(rows)
    # One transaction: an apply running meanwhile sees the old model and index or the new ones.
    with store.transaction() as tx:
        tx.save_match_model(
            entity, config_fingerprint(config), result.model.to_json(), len(records), run_id
        )
        tx.clear_blocking_keys(entity)
        for part in _chunks(rows, _INDEX_ROWS_PER_STATEMENT):
            tx.add_blocking_keys(entity, part)
    store.refresh_statistics()  # the index was rebuilt whole: the planner must not see it empty
    timings["index"] = time.perf_counter() - started

    # A pair a person already ruled on is not asked again.
    review_pairs = [
        (a, b, p)
        for a, b, p in result.review
        if cluster_of[a] != cluster_of[b]
        and frozenset((cluster_of[a], cluster_of[b])) not in latest
    ]
    report.review_pairs = len(review_pairs)
    if apply:
        phase("merging")
        started = time.perf_counter()
        _merge_groups(store, identity, report, by, reporter)
        timings["merge"] = time.perf_counter() - started
        started = time.perf_counter()
        position = {source_key: i for i, source_key in enumerate(ids)}
        with store.transaction() as tx:
            for a, b, p in review_pairs:
                cid_a, cid_b = tx.resolve(cluster_of[a]), tx.resolve(cluster_of[b])
                if cid_a == cid_b:
                    continue
                scored = matcher.scorer.score(
                    matcher.scorer.prepare(records[position[a]]),
                    matcher.scorer.prepare(records[position[b]]),
                )
                reason = match_reason(
                    Match(
                        b, scored.weight, scored.probability, scored.levels, scored.contributions
                    ),
                    "review",
                )
                # The batch's probability decided; the levels and weights are the pair scored on
                # its own (term frequencies as the stored model counts them), for a person to read.
                detail = {"levels": reason["levels"], "contributions": reason["contributions"],
                          "scored_alone": round(scored.probability, 6)}  # fmt: skip
                if tx.add_review(entity, (cid_a, cid_b), (a, b), p, weight_of(p), detail,
                                 "dedupe", run_id):  # fmt: skip
                    report.reviews_queued += 1
        timings["review"] = time.perf_counter() - started
        report.applied = True
    report.timings = timings
    return report


def _merge_groups(
    store: Any, identity: Identity, report: DedupeReport, by: str, reporter: Reporter | None
) -> None:
    """Each group into its golden record with most sources, a few hundred merges a transaction."""
    task = f"merge {report.entity.value}"
    if reporter:
        reporter.started(task, len(report.groups))
    for part in _chunks(report.groups, _MERGES_PER_TRANSACTION):
        with store.transaction() as tx:
            sources = tx.sources_of([cid for group in part for cid in group])
            for group in part:
                ranked = sorted(group, key=lambda cid: (-len(sources.get(cid, [])), cid))
                survivor = ranked[0]
                for other in ranked[1:]:
                    try:
                        survivor = identity.merge(tx, survivor, other, by, "dedupe")
                        report.merged += 1
                    except IdentityError as exc:
                        report.refused.append(f"{other} into {survivor}: {exc}")
                if reporter:
                    reporter.advanced(task)
    if reporter:
        reporter.finished(task)
