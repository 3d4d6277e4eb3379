"""Reading and mapping in a worker process (``hub.map_workers``) stores exactly what reading here does.

With a map pool, a connector that may read anywhere (the CSV connector) reads and maps in a pool
worker and only mapped candidates cross to the process that matches and writes. The whole database
after a sync must be the same either way, up to the random canonical and run ids: source records,
golden records, xref, match keys, record errors and audit events.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from hub.bootstrap import open_hub
from state.tables import (
    audit_events,
    golden_records,
    match_keys,
    record_errors,
    source_records,
    xref,
)
from tests.e2e.test_csv_sync import make_config

_ID = re.compile(r"\b(?:per|cmp|emp|run)_[0-9a-z]{26}\b")


def _snapshot(config: Path) -> dict[str, list[tuple[object, ...]]]:
    hub = open_hub(config)
    with hub.store.engine.connect() as conn:
        names: dict[
            str, list[str]
        ] = {}  # canonical id → the sorted source records linked to it: stable across runs
        for ext_system, ext_object, ext_id, cid in conn.execute(
            sa.select(xref.c.system, xref.c.object, xref.c.external_id, xref.c.canonical_id)
        ):
            names.setdefault(cid, []).append(f"{ext_system}/{ext_object}/{ext_id}")
        label = {cid: "+".join(sorted(refs)) for cid, refs in names.items()}

        def stable(value: object) -> object:
            if isinstance(value, str):
                return _ID.sub(lambda m: label.get(m.group(0), "<run>"), value)
            return value

        tables = {
            "sources": (source_records, ["id", "first_seen_at", "updated_at"]),
            "goldens": (golden_records, ["created_at", "updated_at"]),
            "xref": (xref, ["id", "linked_at", "run_id"]),
            "keys": (match_keys, ["id"]),
            "errors": (record_errors, ["id", "at", "run_id"]),
            "audit": (audit_events, ["at", "prev_hash", "hash", "run_id"]),
        }
        out = {}
        for name, (table, skipped) in tables.items():
            columns = [c for c in table.c if c.name not in skipped]
            rows = conn.execute(sa.select(*columns)).all()
            out[name] = sorted(
                (tuple(stable(v) for v in row) for row in rows), key=lambda r: repr(r)
            )
    report = hub.store.verify_audit()
    hub.close()
    assert report.ok, report.problems
    return out


def _sync(config: Path, workers: int) -> dict[str, int]:
    text = config.read_text(encoding="utf-8")
    config.write_text(
        re.sub(r"  map_workers: \d+\n", "", text).replace(
            "  batch_size: 3\n", f"  batch_size: 3\n  map_workers: {workers}\n"
        ),
        encoding="utf-8",
    )
    hub = open_hub(config)
    try:
        summary = hub.engine().sync()
        assert not summary.failures, summary.failures
        return dict(summary.counts)
    finally:
        hub.close()


def test_reading_in_a_worker_stores_the_same_as_reading_here(tmp_path: Path) -> None:
    # The worker only reads and maps; the database is written here either way (SQLite suffices).
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    config_here = make_config(here, f"sqlite:///{here / 'hub.db'}")
    config_there = make_config(there, f"sqlite:///{there / 'hub.db'}")
    counts_here = _sync(config_here, 0)
    counts_there = _sync(config_there, 1)
    assert counts_here == counts_there
    assert counts_there["read"] == 9
    assert counts_there["rejected"] == 2
    snap_here = _snapshot(config_here)
    snap_there = _snapshot(config_there)
    for name in snap_here:
        assert snap_there[name] == snap_here[name], name
    # The reject files are written by the reading process in both cases.
    rejects_here = sorted(p.name for p in here.rglob("*.rejects.csv"))
    assert rejects_here == sorted(p.name for p in there.rglob("*.rejects.csv"))


def test_a_read_that_fails_in_the_worker_fails_its_system_only(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    (tmp_path / "crm" / "contacts.csv").unlink()
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("  batch_size: 3\n", "  batch_size: 3\n  map_workers: 1\n"))
    hub = open_hub(config)
    try:
        summary = hub.engine().sync()
    finally:
        hub.close()
    assert set(summary.failures) == {"crm"}
    assert "FileNotFoundError" in summary.failures["crm"]
    assert "contacts.csv" in summary.failures["crm"]
    assert summary.counts["read"] == 2 + 4  # the ERP system went on
