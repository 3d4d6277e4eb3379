"""Consecutive batches of a file import share one transaction (``hub.transaction_records``).

Fewer commits write far less on a large import; what must hold either way: a group commits whole or
not at all, nothing of a rolled-back group is counted or reported, a re-run converges, and a
connector whose read is not self-contained keeps one transaction per batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.apply import Applier
from hub.bootstrap import Hub, open_hub
from hub.errors import ConfigError
from state.tables import golden_records, source_records

CONFIG = """hub:
  database_url: {db}
  default_region: CN
  batch_size: 2
  transaction_records: {group}
systems:
  export:
    kind: csv
    options:
      directory: data
      objects:
        contacts: {{file: contacts.csv, id_column: id, modified_column: updated}}
    objects:
      contacts: {{mapping: mapping.yaml}}
"""

MAPPING = """entity: Person
modified_at: updated
fields:
  full_name: name
  email: email
"""

ROWS = 9


def _world(tmp_path: Path, db_url: str, group: int) -> Path:
    (tmp_path / "data").mkdir()
    lines = ["id,name,email,updated"]
    lines += [f"P{i},张{i},p{i}@x.cn,2026-01-0{1 + i % 9} 08:00:00" for i in range(ROWS)]
    (tmp_path / "data" / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    config = tmp_path / "huitong.yaml"
    config.write_text(CONFIG.format(db=db_url, group=group), encoding="utf-8")
    return config


def _count_transactions(hub: Hub) -> list[int]:
    """Counts the store's transactions: [opened, committed]."""
    counts = [0, 0]
    original = hub.store.transaction

    @contextlib.contextmanager
    def counted() -> Iterator[Any]:
        counts[0] += 1
        with original() as tx:
            yield tx
        counts[1] += 1

    hub.store.transaction = counted  # type: ignore[method-assign]
    return counts


def _stored(hub: Hub) -> tuple[int, int]:
    with hub.store.engine.connect() as conn:
        sources = conn.execute(sa.select(sa.func.count()).select_from(source_records)).scalar()
        goldens = conn.execute(sa.select(sa.func.count()).select_from(golden_records)).scalar()
    return int(sources or 0), int(goldens or 0)


def test_batches_share_transactions_up_to_the_limit(tmp_path: Path) -> None:
    hub = open_hub(_world(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", group=4))
    try:
        counts = _count_transactions(hub)
        summary = hub.engine().sync()
        assert summary.status == "succeeded"
        assert summary.counts["read"] == ROWS
        # 9 rows in batches of 2 (5 batches), 4 records a transaction: 2 + 2 + 1 batches, after
        # the one that reads the cursor.
        assert counts == [1 + 3, 1 + 3]
        assert _stored(hub) == (ROWS, ROWS)
        assert hub.store.verify_audit().ok
    finally:
        hub.close()


def test_a_connector_that_does_not_read_on_its_own_commits_every_batch(tmp_path: Path) -> None:
    hub = open_hub(_world(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", group=1000))
    kind: Any = type(hub.connectors["export"])
    try:
        kind.reads_in_worker = False
        counts = _count_transactions(hub)
        hub.engine().sync()
        assert counts == [1 + 5, 1 + 5]
    finally:
        kind.reads_in_worker = True
        hub.close()


def test_a_failed_group_is_rolled_back_whole_and_a_rerun_converges(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = open_hub(_world(tmp_path, db_url, group=4))
    try:
        original = Applier.apply
        calls = {"n": 0}

        def failing_third(self: Applier, tx: Any, candidates: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 4:  # the second batch of the second group
                raise RuntimeError("disk on fire")
            return original(self, tx, candidates)

        monkeypatch.setattr(Applier, "apply", failing_third)
        summary = hub.engine().sync()
        assert summary.status == "failed"
        assert "disk on fire" in summary.failures["export"]
        # The first group (batches 1-2, four records) committed; the third batch, applied in the
        # open group, was rolled back with it and is neither stored nor counted.
        assert summary.counts["read"] == 4
        assert _stored(hub) == (4, 4)
        with hub.store.transaction() as tx:
            assert tx.cursor("export", "contacts") is None  # the file's cursor is on its last row
        assert hub.store.verify_audit().ok

        monkeypatch.setattr(Applier, "apply", original)
        again = hub.engine().sync()
        assert again.status == "succeeded"
        assert again.counts["read"] == ROWS
        assert again.counts["unchanged"] == 4
        assert again.counts["created"] == ROWS - 4
        assert _stored(hub) == (ROWS, ROWS)
        assert hub.store.verify_audit().ok
    finally:
        hub.close()


def test_the_limits_are_checked(tmp_path: Path) -> None:
    config = _world(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", group=0)
    with pytest.raises(ConfigError) as caught:
        open_hub(config)
    assert any("transaction_records" in p for p in caught.value.problems)
