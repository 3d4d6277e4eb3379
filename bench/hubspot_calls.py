"""Benchmark: HubSpot API calls per 1,000 records, through the connector and the real client.

    .venv/bin/python bench/hubspot_calls.py                 # 10,000 contacts
    .venv/bin/python bench/hubspot_calls.py --records 2000

Against the emulator (real hubspot-api-client on loopback, rate limits off so only calls are
measured) it upserts every contact with its company association (new, then the same batch again),
reads everything (full list), changes 10% and reads them incrementally (search walk), then deletes
10%. For each it prints the calls used, the theoretical minimum for the API's limits (100 inputs per
batch write, 100 per list page, 200 per search page, 1,000 ids per association read) and records per
second, plus calls per 1,000 records.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import TypeVar

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_ratelimit import RateLimitConfig
from connectors.hubspot.testing import connector_for
from hub.ports import SourceRecord, Write, WriteOp

T = TypeVar("T")
BATCH = 100
LIST_PAGE = 100
SEARCH_PAGE = 200
ASSOCIATION_READ = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    n = args.records
    emulator = HubSpotEmulator(rate_limits=RateLimitConfig(enabled=False))
    rows: list[tuple[str, int, int, int, float]] = []
    with emulator.serve():
        connector = connector_for(
            emulator, "bench", rate={"burst_max": 10**6, "search_per_second": 10**6}
        )

        def measure(name: str, records: int, minimum: int, run: Callable[[], T]) -> T:
            before = emulator.portal.call_count()
            began = time.perf_counter()
            result = run()
            seconds = time.perf_counter() - began
            rows.append((name, records, emulator.portal.call_count() - before, minimum, seconds))
            return result

        companies = connector.write(
            "companies",
            [
                Write(WriteOp.UPSERT, "companies", f"cmp_{i:026d}", {"name": f"Company {i}"})
                for i in range(BATCH)
            ],
        )
        writes = [
            Write(
                WriteOp.UPSERT,
                "contacts",
                f"per_{i:026d}",
                {
                    "email": f"person{i}@example.com",
                    "firstname": "Wei",
                    "lastname": f"Li {i}",
                    "associatedcompanyid": companies[i % BATCH].external_id,
                },
            )
            for i in range(n)
        ]
        batches = math.ceil(n / BATCH)

        def write_all() -> list[str]:
            ids: list[str] = []
            for start in range(0, n, BATCH):
                ids += [
                    r.external_id or ""
                    for r in connector.write("contacts", writes[start : start + BATCH])
                ]
            return ids

        ids = measure("upsert new + associate", n, 2 * batches, write_all)
        # The same records and companies again: the associations are known to be there already.
        measure("upsert again (updates)", n, batches, write_all)
        full = measure(
            "full read (list)",
            n,
            math.ceil(n / LIST_PAGE) + 1,
            lambda: [r for r in connector.read("contacts", None) if isinstance(r, SourceRecord)],
        )
        cursor = full[-1].cursor
        changed = ids[::10]
        time.sleep(0.002)
        emulator.portal.clock()  # changes land after the cursor's millisecond
        for object_id in changed:
            emulator.portal.update("contacts", object_id, {"jobtitle": "Engineer"})
        incremental = measure(
            "incremental read (search)",
            len(changed),
            math.ceil(len(changed) / SEARCH_PAGE) + math.ceil(len(changed) / ASSOCIATION_READ) + 1,
            lambda: [r for r in connector.read("contacts", cursor) if isinstance(r, SourceRecord)],
        )
        assert {r.external_id for r in incremental} >= set(changed)
        deletes = [
            Write(WriteOp.DELETE, "contacts", w.canonical_id, {}, external_id=object_id)
            for w, object_id in zip(writes[::10], changed, strict=True)
        ]
        measure(
            "delete (archive)",
            len(deletes),
            math.ceil(len(deletes) / BATCH),
            lambda: [
                connector.write("contacts", deletes[s : s + BATCH])
                for s in range(0, len(deletes), BATCH)
            ],
        )
    print(f"HubSpot connector, {n:,} contacts (emulator, real hubspot-api-client)")
    print(
        f"{'operation':28} {'records':>8} {'calls':>6} {'minimum':>8} {'ratio':>6} {'per 1k':>7} {'rec/s':>8}"
    )
    for name, records, calls, minimum, seconds in rows:
        print(
            f"{name:28} {records:8,} {calls:6} {minimum:8} {calls / minimum:6.2f} "
            f"{1000 * calls / records:7.1f} {records / seconds:8,.0f}"
        )
    print(
        "minimum: writes 100 inputs per batch call plus one v4 association call per batch when "
        "the associations change; "
        "list 100 per page (+1 archived-list call for tombstones); search 200 per page, "
        "1,000 ids per association read (+1 archived-list call)"
    )


if __name__ == "__main__":
    main()
