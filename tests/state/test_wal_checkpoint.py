"""SQLite's write-ahead log is checkpointed by a background thread, not by the committing writer."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from state.db import FOREGROUND_CHECKPOINT_PAGES
from state.store import SqlStore
from state.tables import record_errors


def _write(store: SqlStore, rows: int) -> None:
    with store.transaction() as tx:
        tx.conn.execute(
            sa.insert(record_errors),
            [
                {
                    "run_id": "run_x",
                    "severity": "warning",
                    "system": "erp",
                    "object": "contacts",
                    "location": f"c.csv:{i}",
                    "external_id": f"L{i}",
                    "reason": "x" * 500,
                    "at": datetime.now(UTC),
                }
                for i in range(rows)
            ],
        )


def test_commits_leave_the_checkpoint_to_the_background_thread(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert pages == FOREGROUND_CHECKPOINT_PAGES  # the writer's own: a backstop only
        start = os.path.getsize(path)
        _write(store, 4000)  # ~2.5 MB: far below the writers' backstop, so only the thread copies
        deadline = time.monotonic() + 10
        while os.path.getsize(path) < start + 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.path.getsize(path) >= start + 1_000_000, "the WAL was not checkpointed"
        with store.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(record_errors)).scalar()
        assert count == 4000
    finally:
        store.close()
    assert store._checkpointer is None


def test_closing_the_store_stops_the_thread(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'hub.db'}")
    checkpointer = store._checkpointer
    assert checkpointer is not None
    store.close()
    assert not checkpointer._thread.is_alive()


def test_no_checkpointer_without_a_database_file(pg_url: str) -> None:
    store = SqlStore(pg_url)
    try:
        assert store._checkpointer is None
    finally:
        store.close()
