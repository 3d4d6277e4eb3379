"""The nightly reconciliation repairs injected drift and reports it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from hub.bootstrap import open_hub
from hub.cli import EXIT_PARTIAL, app

from .test_two_way_csv import crm_rows, setup, sync_and_send


def write_crm(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    with (tmp_path / "crm" / "contacts.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_reconcile_repairs_injected_drift_and_reports_it(tmp_path: Path, db_url: str) -> None:
    config = setup(tmp_path, db_url)
    hub = open_hub(config)
    sync_and_send(hub)
    sync_and_send(hub)  # echoes absorbed: everything agrees now
    rows = crm_rows(tmp_path)
    by_id = {r["Contact ID"]: r for r in rows}
    # Drift 1: a record deleted in the CRM, and no notice reached the hub.
    deleted = next(r["Contact ID"] for r in rows if r["Contact ID"].startswith("per_"))
    # Drift 2: a value changed in the CRM behind the hub's back (the hub's cursor already past it).
    by_id["003A"]["Title"] = "Changed by hand"
    write_crm(tmp_path, [r for r in rows if r["Contact ID"] != deleted])
    connector = hub.connectors["crm"]
    with hub.store.transaction() as tx:
        tx.set_cursor("crm", "contacts", connector.current_cursor("contacts"), None)  # type: ignore[attr-defined]
    assert hub.engine().sync().counts.get("read", 0) == 0  # an incremental run sees nothing
    hub.close()

    result = CliRunner().invoke(app, ["reconcile", "-c", str(config), "--json"])
    assert result.exit_code == EXIT_PARTIAL, (
        result.stdout + result.stderr
    )  # the ERP's bad row again
    data = json.loads(result.stdout)
    crm = data["report"]["systems"]["crm"].get("contacts", data["report"]["systems"]["crm"])
    assert crm.get("deleted_in_system") == 1, crm
    assert crm["deleted_examples"] == [deleted]
    assert data["report"]["writes"]["crm/contacts"]["writes_queued"] == 2
    assert data["writes"]["written"] == 2

    repaired = {r["Contact ID"]: r for r in crm_rows(tmp_path)}
    assert repaired["003A"]["Title"] == "采购经理"  # the ERP's value, by priority, restored
    assert deleted in repaired  # the ERP still holds this customer: recreated in the CRM
    assert len(repaired) == 5

    hub = open_hub(config)
    counts, sent = sync_and_send(hub)
    assert sent == {}  # the repairs read back as echoes: quiet again
    assert counts.get("writes_queued", 0) == 0
    run = hub.store.run(data["run_id"])
    assert run is not None
    assert run.kind == "reconcile"
    assert run.report is not None
    hub.close()


def test_reconcile_reports_duplicates_inside_a_system_for_a_person(
    tmp_path: Path, db_url: str
) -> None:
    from .test_two_way_csv import CRM_CLEAN

    twice = CRM_CLEAN + "003Q,W.,Zhang,zhang.wei@huawei.com,,Buyer,2026-01-03 08:00:00\n"
    config = setup(tmp_path, db_url, twice)
    result = CliRunner().invoke(app, ["reconcile", "-c", str(config), "--json", "--no-dispatch"])
    assert result.exit_code == EXIT_PARTIAL, result.stdout
    person = json.loads(result.stdout)["report"]["needs_a_person"]
    assert [p["records"] for p in person] == [["003A", "003Q"]]
