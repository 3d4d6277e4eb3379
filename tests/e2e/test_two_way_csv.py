"""Two-way sync through the outbox: ERP (read) → hub → CRM export file (read and write).

The hub writes golden values into the CRM file; reading that file back recognises its own writes as
echoes and writes nothing more (no loop). A write the target refuses becomes a dead letter that a
person can replay once the cause is fixed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hub.bootstrap import Hub, open_hub
from hub.cli import EXIT_OK, app
from state.tables import outbox

from .test_csv_sync import CONTACTS_GBK, CRM_CONTACTS, CUSTOMERS_GBK, ERP_CONTACTS, ERP_CUSTOMERS

CONFIG = """
hub:
  database_url: {db}
  default_region: CN
custom_fields:
  Company: {{credit_limit: decimal}}
systems:
  erp:
    kind: csv
    options:
      directory: erp
      objects:
        customers: {{file: 客户.csv, id_column: 客户编码}}
        contacts: {{file: 联系人.csv, id_column: 编码}}
    objects:
      customers: {{mapping: m/erp_customers.yaml}}
      contacts: {{mapping: m/erp_contacts.yaml}}
  crm:
    kind: csv
    options:
      directory: crm
      objects:
        contacts: {{file: contacts.csv, id_column: Contact ID, modified_column: Last Modified}}
    objects:
      contacts: {{mapping: m/crm_contacts.yaml, direction: both}}
survivorship:
  default: {{rule: priority, systems: [erp, crm]}}
"""

CRM_CLEAN = (
    "Contact ID,First Name,Last Name,Email,Mobile,Title,Last Modified\n"
    "003A,Wei,Zhang, Zhang.Wei@Huawei.com ,+86 138 0013 8000,Purchasing Manager,2026-01-03 08:00:00\n"
    "003C,Emma,Smith,emma@acme.com,,Buyer,2026-01-03 08:00:00\n"
)


def setup(tmp_path: Path, db_url: str, crm: str = CRM_CLEAN) -> Path:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "erp_customers.yaml").write_text(ERP_CUSTOMERS, encoding="utf-8")
    (tmp_path / "m" / "erp_contacts.yaml").write_text(ERP_CONTACTS, encoding="utf-8")
    (tmp_path / "m" / "crm_contacts.yaml").write_text(CRM_CONTACTS, encoding="utf-8")
    (tmp_path / "erp").mkdir()
    (tmp_path / "erp" / "客户.csv").write_bytes(CUSTOMERS_GBK.encode("gbk"))
    (tmp_path / "erp" / "联系人.csv").write_bytes(CONTACTS_GBK.encode("gbk"))
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "contacts.csv").write_bytes(crm.encode("utf-8-sig"))
    config = tmp_path / "huitong.yaml"
    config.write_text(CONFIG.format(db=db_url), encoding="utf-8")
    return config


def crm_rows(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "crm" / "contacts.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def sync_and_send(hub: Hub) -> tuple[dict[str, int], dict[str, int]]:
    summary = hub.engine().sync()
    sent = hub.dispatcher().dispatch()
    return dict(summary.counts), dict(sent.counts)


def test_golden_values_reach_the_crm_and_their_echo_stops_the_loop(
    tmp_path: Path, db_url: str
) -> None:
    hub = open_hub(setup(tmp_path, db_url))
    counts, sent = sync_and_send(hub)
    # ERP persons L1 (linked to 003A), L2, L3, L5 need writing; 003C alone holds its values already.
    # (L1's write was planned twice, when the ERP and then the CRM record arrived: one outbox row.)
    with hub.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 4
    assert sent == {"written": 4, "created": 3, "updated": 1}
    rows = {r["Contact ID"]: r for r in crm_rows(tmp_path)}
    assert rows["003A"]["Last Name"] == "张"  # the ERP wins by priority, and the CRM now says so
    assert rows["003A"]["Title"] == "采购经理"
    assert rows["003C"]["First Name"] == "Emma"  # untouched
    assert len(rows) == 5

    counts, sent = sync_and_send(hub)  # the CRM file changed: the hub reads its own writes back
    assert counts["echoes"] == 4
    assert counts.get("updated", 0) == 0
    assert counts.get("writes_queued", 0) == 0
    assert sent == {}
    with hub.store.transaction() as tx:
        assert tx.count_goldens() == {"Company": 2, "Person": 5}  # the created rows linked, not new

    counts, sent = sync_and_send(hub)
    assert counts.get("read", 0) == 0
    assert sent == {}
    hub.close()


def test_a_change_in_the_crm_flows_back_once(tmp_path: Path, db_url: str) -> None:
    hub = open_hub(setup(tmp_path, db_url))
    sync_and_send(hub)
    sync_and_send(hub)
    rows = crm_rows(tmp_path)
    for row in rows:
        if row["Contact ID"] == "003C":
            row["Title"] = "Head Buyer"
            row["Last Modified"] = "2026-02-01 08:00:00"
    with (tmp_path / "crm" / "contacts.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    counts, sent = sync_and_send(hub)
    assert counts["updated"] == 1
    assert counts.get("writes_queued", 0) == 0  # the CRM is the only holder: nothing to tell anyone
    assert sent == {}
    hub.close()


def test_a_refused_write_is_a_dead_letter_that_can_be_replayed(tmp_path: Path, db_url: str) -> None:
    broken = CRM_CLEAN + '003Z,"unclosed,quote\n'
    config = setup(tmp_path, db_url, broken)
    hub = open_hub(config)
    _counts, sent = sync_and_send(hub)
    assert sent["dead"] == 4  # the CSV connector refuses to rewrite a file it cannot read whole
    hub.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["dlq", "list", "-c", str(config), "--json"])
    assert listed.exit_code == EXIT_OK
    dead = json.loads(listed.stdout)
    assert len(dead) == 4
    assert all("contacts.csv" in d["last_error"] for d in dead)

    (tmp_path / "crm" / "contacts.csv").write_bytes(
        CRM_CLEAN.encode("utf-8-sig")
    )  # a person fixes it
    replay = runner.invoke(app, ["dlq", "replay", *[str(d["id"]) for d in dead], "-c", str(config)])
    assert replay.exit_code == EXIT_OK, replay.stdout + replay.stderr
    assert "written 4" in replay.stdout
    hub = open_hub(config)
    run = hub.store.runs(1)[0]
    assert run.kind == "replay"
    assert run.counts["written"] == 4
    with hub.store.engine.connect() as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
            ).all()
        )
    assert statuses == {"done": 4}
    with hub.store.transaction() as tx:
        events = [
            e["event"] for cid in [d["canonical_id"] for d in dead] for e in tx.audit_for(cid)
        ]
    assert "dlq.replay" in events
    assert "write.dead" in events
    assert "system.written" in events
    hub.close()


def test_dispatcher_killed_before_settling_resends_without_duplicates(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from hub.dispatcher import Dispatcher

    hub = open_hub(setup(tmp_path, db_url))
    hub.engine().sync()
    calls = {"n": 0}
    original = Dispatcher._settle

    def die(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt("killed after the write, before the settle")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Dispatcher, "_settle", die)
    with pytest.raises(KeyboardInterrupt):
        hub.dispatcher(lease=timedelta(seconds=0)).dispatch()
    monkeypatch.setattr(Dispatcher, "_settle", original)
    hub.dispatcher(lease=timedelta(seconds=0)).dispatch()  # the lease has run out: sent again
    rows = crm_rows(tmp_path)
    assert len(rows) == 5  # no duplicate row although the batch was written twice
    assert len({r["Contact ID"] for r in rows}) == 5
    counts, sent = sync_and_send(hub)
    assert counts["echoes"] == 4
    assert sent == {}
    hub.close()
