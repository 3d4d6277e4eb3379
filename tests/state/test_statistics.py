"""Planner statistics after bulk changes: on PostgreSQL a large sync ends by analysing the tables it
grew (autovacuum may be off, or behind); a small one does not pay for it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hub import engine as engine_module
from hub.bootstrap import open_hub
from state.store import STATISTICS_TABLES, SqlStore

from ..e2e.test_two_way_csv import setup


def _analysed(store: SqlStore) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL"
            )
        )
        return {r[0] for r in rows}


@pytest.mark.postgres
def test_refresh_analyses_the_bulk_tables(pg_url: str) -> None:
    store = SqlStore(pg_url)
    try:
        store.refresh_statistics()
        assert set(STATISTICS_TABLES) <= _analysed(store)
    finally:
        store.close()


def test_refresh_is_harmless_on_sqlite(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        store.refresh_statistics()  # SQLite's planner needs none for the hub's look-ups
    finally:
        store.close()


@pytest.mark.parametrize(("threshold", "refreshed"), [(1, 1), (1_000_000, 0)])
def test_a_large_sync_refreshes_statistics_at_its_end(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, threshold: int, refreshed: int
) -> None:
    monkeypatch.setattr(engine_module, "STATISTICS_AFTER_ROWS", threshold)
    hub = open_hub(setup(tmp_path, db_url))
    calls: list[None] = []
    original = hub.store.refresh_statistics
    monkeypatch.setattr(hub.store, "refresh_statistics", lambda: calls.append(original()))
    try:
        summary = hub.engine().sync()
    finally:
        hub.close()
    assert summary.counts["created"] > 0
    assert len(calls) == refreshed
