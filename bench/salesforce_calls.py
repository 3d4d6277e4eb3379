"""Benchmark: Salesforce API calls per 1,000 records, through the connector and the real client.

    .venv/bin/python bench/salesforce_calls.py                # 10,000 records
    .venv/bin/python bench/salesforce_calls.py --records 2000

Against the emulator (real simple-salesforce over TLS on loopback) it runs a full read, 10% changed
and re-read incrementally, upserts of every record (new, then the same batch again), and deletes of
10%, then prints for each the REST calls used, the theoretical minimum for the API's batch limits
(2,000 rows per query page, 200 records per sObject Collections call) and records per second. Logins
do not count against the daily allowance and are not counted.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from connectors.salesforce.emulator import SalesforceEmulator
from connectors.salesforce.org import Org
from connectors.salesforce.testing import connector_for
from hub.ports import SourceRecord, Write, WriteOp

T = TypeVar("T")
QUERY_PAGE = 2000
COLLECTION = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    n = args.records
    org = Org(api_limit=10_000_000)
    emulator = SalesforceEmulator(org)
    rows: list[tuple[str, int, int, int, float]] = []
    with emulator.serve() as running:
        connector = connector_for(running, system="bench")
        start = org.now() - timedelta(hours=2)
        ids = [
            org.seed("Contact", {"LastName": f"Person {i}"}, at=start + timedelta(milliseconds=i))
            for i in range(n)
        ]

        def measure(name: str, records: int, minimum: int, run: Callable[[], T]) -> T:
            before = org.api_calls
            began = time.perf_counter()
            result = run()
            seconds = time.perf_counter() - began
            rows.append((name, records, org.api_calls - before, minimum, seconds))
            return result

        full = measure(
            "full read",
            n,
            math.ceil(n / QUERY_PAGE),
            lambda: [r for r in connector.read("Contact", None) if isinstance(r, SourceRecord)],
        )
        assert len(full) == n
        cursor = full[-1].cursor
        changed = ids[::10]
        for record_id in changed:
            org.touch(record_id)
        measure(
            "incremental read (10% changed)",
            len(changed),
            math.ceil(len(changed) / QUERY_PAGE),
            lambda: list(connector.read("Contact", cursor)),
        )
        writes = [
            Write(WriteOp.UPSERT, "Contact", f"per_{i:026d}", {"LastName": f"Hub {i}"})
            for i in range(n)
        ]
        minimum = math.ceil(n / COLLECTION)
        measure("upsert (new)", n, minimum, lambda: connector.write("Contact", writes))
        measure("upsert (same batch again)", n, minimum, lambda: connector.write("Contact", writes))
        deletes = [
            Write(WriteOp.DELETE, "Contact", w.canonical_id, {}) for w in writes[::10]
        ]  # ids unknown to the hub: looked up by the external id first
        measure(
            "delete by canonical id (10%)",
            len(deletes),
            2 * math.ceil(len(deletes) / COLLECTION),
            lambda: connector.write("Contact", deletes),
        )
    print(f"{'operation':34} {'records':>8} {'calls':>6} {'minimum':>8} {'ratio':>6} "
          f"{'calls/1k':>9} {'rec/s':>9}")  # fmt: skip
    for name, records, calls, minimum, seconds in rows:
        print(
            f"{name:34} {records:>8,} {calls:>6} {minimum:>8} {calls / max(minimum, 1):>6.2f} "
            f"{calls * 1000 / max(records, 1):>9.2f} {records / seconds:>9,.0f}"
        )


if __name__ == "__main__":
    main()
