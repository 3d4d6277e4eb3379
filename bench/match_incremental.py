"""Benchmark: one incoming record matched against a million stored golden records, through the hub's
persistent blocking index in the database (no scan, nothing held in memory between records).

    .venv/bin/python bench/synth_crm.py --records 1.1M --seed 2 --out /tmp/crm_1m1.jsonl
    .venv/bin/python bench/match_incremental.py --data /tmp/crm_1m1.jsonl --golden 1000000

What it does:

1. Loads the first ``--golden`` person records of the file into a fresh hub database, each as a golden
   record of its own, through the store's own bulk methods: source record, golden record (decided by
   survivorship), xref, and its blocking keys in the index table (``blocking_keys``). Every record a
   golden record of its own is the hard case: duplicates are not merged, so blocks are as large as
   they get.
2. Trains the scorer on a sample of them (``--train`` records; ``clustering.dedupe``, no labels) and
   stores the model as ``huitong dedupe`` does.
3. Takes ``--samples`` further person records of the same file (their duplicates are among the stored
   ones about as often as in a real import) and, for each, measures
   * ``match``: blocking keys, the index and candidate look-ups in the database, scoring, decision,
     in a transaction of its own;
   * ``apply``: the whole incremental apply of that one record (xref, deterministic keys, match,
     survivorship, writes, audit event), committed — what a webhook notice costs the hub.
   and prints p50/p95/p99 of each, the decisions, and how many linked records went to their true person.

``--database-url`` runs it on PostgreSQL instead of the default SQLite file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.apply import Applier  # noqa: E402
from hub.golden import GoldenRecord, StoredSource, Survivorship  # noqa: E402
from hub.identity.clustering import dedupe  # noqa: E402
from hub.identity.probabilistic import BatchMatching, config_fingerprint  # noqa: E402
from hub.identity.scorer import Matcher, ScorerModel, default_person_config  # noqa: E402
from hub.ids import new_canonical_id  # noqa: E402
from hub.model import Candidate, EntityType  # noqa: E402
from hub.ports import RecordRef  # noqa: E402
from hub.settings import SurvivorshipSettings  # noqa: E402
from state.store import SqlStore  # noqa: E402

META = ("entity", "system", "external_id", "true_id")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def people(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["entity"] == "Person":
                yield row


def values_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in META}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="JSONL from bench/synth_crm.py")
    parser.add_argument("--golden", type=int, default=1_000_000)
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--reuse", type=Path, help="an SQLite file a previous run loaded (its path is printed)"
    )
    parser.add_argument(
        "--skip", type=int, default=0, help="records to pass over before the samples (a rerun)"
    )
    parser.add_argument(
        "--cold", action="store_true", help="do not read the SQLite file into the page cache first"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="huitong-match-"))
    path = args.reuse or work / "hub.db"
    url = args.database_url or f"sqlite:///{path}"
    store = SqlStore(url)
    config = default_person_config()
    survivorship = Survivorship(SurvivorshipSettings(), [])
    print(f"database: {store.describe()}   load average {os.getloadavg()[0]:.1f}")

    rows = people(args.data)
    started = time.perf_counter()
    train: list[dict[str, Any]] = []
    truth: dict[str, str] = {}  # source record → true person
    blocker = Matcher.__new__(Matcher)  # keys only, before a model exists
    from hub.identity.blocking import Blocker

    blocker.blocker = Blocker(config.blocking)
    loaded = 0
    if args.reuse:
        for row in islice(rows, args.golden):
            truth[f"{row['system']}/contacts/{row['external_id']}"] = row["true_id"]
        loaded = len(truth)
    while loaded < args.golden and not args.reuse:
        chunk = list(islice(rows, min(args.batch, args.golden - loaded)))
        if not chunk:
            break
        sources: list[StoredSource] = []
        goldens: list[GoldenRecord] = []
        links: list[tuple[RecordRef, str, dict[str, Any]]] = []
        index: list[tuple[str, str, str]] = []
        for row in chunk:
            values = values_of(row)
            cid = new_canonical_id("per")
            ref = RecordRef(row["system"], "contacts", row["external_id"])
            print_ = hashlib.blake2b(json.dumps(values, sort_keys=True).encode(), digest_size=16)
            source = StoredSource(ref, EntityType.PERSON, cid, values, {}, T0, print_.hexdigest())
            sources.append(source)
            goldens.append(
                GoldenRecord(
                    cid,
                    EntityType.PERSON,
                    survivorship.decide(EntityType.PERSON, [source], {}),
                    {},
                    1,
                )
            )
            links.append((ref, cid, {"rule": "new"}))
            index.extend((key, cid, str(ref)) for key in blocker.blocker.keys(values))
            truth[str(ref)] = row["true_id"]
            if len(train) < args.train:
                train.append(values)
        with store.transaction() as tx:
            tx.insert_sources(sources)
            tx.save_goldens(goldens, [])
            tx.add_xrefs(links, None)
            tx.add_blocking_keys(EntityType.PERSON, index)
        loaded += len(chunk)
        print(f"\r  loaded {loaded:,} golden records", end="", flush=True)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    store.refresh_statistics()  # as a sync or `huitong dedupe` does after a bulk change
    print(f"\nstatistics refreshed in {time.perf_counter() - started:.1f} s", end="")
    with store.transaction() as tx:
        index_rows = tx.count_blocking_keys(EntityType.PERSON)
    print(f"\nloaded {loaded:,} golden records, {index_rows:,} index keys in {load_seconds:.0f} s")

    if not args.database_url:
        print(f"database file: {path} (--reuse it to measure again)")

    started = time.perf_counter()
    if args.reuse:
        with store.transaction() as tx:
            stored = tx.match_model(EntityType.PERSON)
        assert stored is not None, "the reused database holds no trained model"
        model = ScorerModel.from_json(stored[1])
    else:
        model = dedupe(train, config, workers=2).model
        with store.transaction() as tx:
            tx.save_match_model(EntityType.PERSON, config_fingerprint(config), model.to_json(),
                                len(train), None)  # fmt: skip
        print(f"trained on {len(train):,} records in {time.perf_counter() - started:.0f} s")
    del train
    if not args.database_url and not args.cold:
        # A running hub's database holds its working set in memory (a database server's buffers,
        # the OS page cache): read the file once, as the first hours of matching would.
        with path.open("rb") as handle:
            while handle.read(16 << 20):
                pass
        print("database file read into the page cache (--cold skips this)")

    matcher = Matcher(config, model)
    for row in islice(rows, args.skip):  # applied by an earlier run: their truth still counts
        truth[f"{row['system']}/contacts/{row['external_id']}"] = row["true_id"]
    queries = list(islice(rows, args.samples))
    match_ms: list[float] = []
    apply_ms: list[float] = []
    decisions: Counter[str] = Counter()
    true_links = 0
    by_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # rule → [wrong, right]
    applier = Applier(survivorship, "bench", None, lambda _entity: config)
    for n, row in enumerate(queries):
        values = values_of(row)
        record_id = f"{row['system']}/contacts/{row['external_id']}"
        started = time.perf_counter()
        with store.transaction() as tx:
            batch = BatchMatching(tx, EntityType.PERSON, matcher)
            batch.prefetch({record_id: values})

            def golden_values(cid: str, tx: Any = tx) -> dict[str, Any]:
                return tx.goldens([cid])[cid].values()  # the strong-key guard, as apply has it

            batch.decide(record_id, values, golden_values, lambda _cid: False)
            tx.conn.rollback()
        match_ms.append((time.perf_counter() - started) * 1000)
        ref = RecordRef(row["system"], "contacts", row["external_id"])
        candidate = Candidate(ref, EntityType.PERSON, values, {}, T0, fingerprint=f"q{n}")
        started = time.perf_counter()
        with store.transaction() as tx:
            counts = applier.apply(tx, [candidate]).counts
        apply_ms.append((time.perf_counter() - started) * 1000)
        truth[str(ref)] = row["true_id"]
        if counts["linked"]:
            decisions["link"] += 1
            with store.transaction() as tx:
                cid = tx.xref_lookup([ref])[ref]
                linked_to = [str(s.ref) for s in tx.sources_of([cid])[cid] if s.ref != ref]
                reason = next(json.loads(r) for xr, r, _at in tx.xref_of(cid) if xr == ref)
            right = any(truth.get(other) == row["true_id"] for other in linked_to)
            true_links += right
            by_rule[reason.get("rule", "?")][right] += 1
        else:
            decisions["review" if counts["review_queued"] else "new"] += 1

    def line(name: str, samples: list[float]) -> str:
        return (
            f"{name:>6}: p50 {percentile(samples, 0.5):6.2f} ms   p95 {percentile(samples, 0.95):6.2f} ms"
            f"   p99 {percentile(samples, 0.99):6.2f} ms   mean {statistics.mean(samples):6.2f} ms"
        )

    print(
        f"\none record against {loaded:,} golden records ({len(queries):,} records, one at a time):"
    )
    print(line("match", match_ms))
    print(line("apply", apply_ms))
    linked = decisions["link"]
    print(
        "decisions: " + ", ".join(f"{k} {v:,}" for k, v in sorted(decisions.items()))
        + (f"; links to the true person: {true_links:,}/{linked:,}" if linked else "")
    )  # fmt: skip
    if by_rule:
        print("links by rule (right/all): " + ", ".join(
            f"{rule} {right:,}/{wrong + right:,}" for rule, (wrong, right) in sorted(by_rule.items())
        ))  # fmt: skip
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
          f"   load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    store.close()


if __name__ == "__main__":
    main()
