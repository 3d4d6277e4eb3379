"""Rate budgets shared by every worker: a rolling window in the database holds for all of them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_ratelimit import RateLimitConfig
from connectors.hubspot.testing import connector_for
from hub.ports import Write, WriteOp
from state.db import make_engine
from state.rate_windows import SqlRateWindow, window_factory
from state.store import SqlStore


def _take(url: str, stamps: list[float], n: int) -> None:
    engine = make_engine(url)  # a connection pool of its own, as another worker process has
    last = [0.0]

    def clock() -> float:  # the window's own reading of the time, taken under its lock
        last[0] = time.time()
        return last[0]

    window = SqlRateWindow(engine, "test:burst", 5, 0.5, clock=clock)
    for _ in range(n):
        while (wait := window.acquire()) > 0:
            time.sleep(wait)
        stamps.append(last[0])
    engine.dispose()


def test_four_workers_never_exceed_the_shared_window(store: SqlStore, db_url: str) -> None:
    stamps: list[float] = []
    threads = [threading.Thread(target=_take, args=(db_url, stamps, 6)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 24
    for i, first in enumerate(stamps):
        in_window = [
            s for s in stamps[i:] if s - first < 0.5 - 0.02
        ]  # 20 ms for clock and commit order
        assert len(in_window) <= 5, (i, in_window)
    assert stamps[-1] - stamps[0] >= 4 * 0.5  # 24 calls at 5 per 0.5 s take 2 s at least


def test_connectors_sharing_the_budget_never_see_a_429(store: SqlStore, tmp_path: Path) -> None:
    emulator = HubSpotEmulator(rate_limits=RateLimitConfig(burst_max=20, interval_ms=1000))
    with emulator.serve():
        connectors = [connector_for(emulator, f"hs{i}") for i in range(4)]
        for c in connectors:
            c.share_budget(window_factory(store.engine))  # what the hub does in every worker
        done: list[int] = []

        def work(index: int) -> None:
            c = connectors[index]
            for batch in range(12):
                writes = [
                    Write(
                        WriteOp.UPSERT,
                        "contacts",
                        f"per_{index}{batch}{i:023d}",
                        {"email": f"u{index}.{batch}.{i}@x.cn"},
                    )
                    for i in range(25)
                ]
                done.extend(1 for r in c.write("contacts", writes) if r.ok)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(done) == 4 * 12 * 25
        assert emulator.portal.call_count(status=429) == 0
