"""A webhook delivery → the inbox (before the reply) → the worker reads the system → golden records.

A redelivered event is applied once; a delivery whose processing fails is retried, then a dead letter.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from hub.bootstrap import database_url, open_hub
from hub.inbox_worker import InboxWorker
from hub.webhooks.receiver import create_app
from hub.webhooks.signed import hmac_signature
from state.inbox import SqlInbox
from state.tables_inbox import webhook_inbox

from .test_reconcile import write_crm
from .test_two_way_csv import CRM_CLEAN, crm_rows, setup

WEBHOOK = """    webhook:
      scheme: hmac_sha256
      secret: "${HT_HOOK_SECRET}"
"""


def _post(client: TestClient, body: bytes, delivery: str, secret: str = "hook-secret") -> int:
    stamp = str(int(time.time()))
    response = client.post(
        "/webhooks/crm",
        content=body,
        headers={
            "content-type": "application/json",
            "X-Huitong-Timestamp": stamp,
            "X-Huitong-Signature": hmac_signature(secret.encode(), stamp, body),
            "X-Huitong-Delivery": delivery,
        },
    )
    return response.status_code


@pytest.fixture
def world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HT_HOOK_SECRET", "hook-secret")
    config = setup(tmp_path, db_url, CRM_CLEAN)
    text = config.read_text(encoding="utf-8").replace(
        "  crm:\n    kind: csv\n", "  crm:\n    kind: csv\n" + WEBHOOK
    )
    config.write_text(text, encoding="utf-8")
    hub = open_hub(config)
    hub.engine().sync()
    inbox = SqlInbox.open(database_url(hub.settings, tmp_path))
    client = TestClient(create_app(hub.settings, inbox))
    worker = InboxWorker(
        inbox,
        lambda systems, trigger: hub.engine().sync(systems, trigger=trigger),
        hub.dispatcher(),
    )
    yield hub, inbox, client, worker, tmp_path
    hub.close()


def test_delivery_is_stored_then_applied_once(world) -> None:
    hub, inbox, client, worker, tmp_path = world
    rows = crm_rows(tmp_path)
    for row in rows:
        if row["Contact ID"] == "003C":
            row["Title"] = "Head Buyer"
            row["Last Modified"] = "2026-03-01 08:00:00"
    write_crm(tmp_path, rows)
    body = b'{"object":"contacts","id":"003C","change":"updated"}'
    assert _post(client, body, "evt-1") == 200
    assert _post(client, body, "evt-1") == 200  # the sender retried: same event
    assert inbox.depth() == 1
    assert worker.run_once() == 1
    assert inbox.depth() == 0
    with hub.store.transaction() as tx:
        cid = tx.xref_lookup([__import__("hub.ports").ports.RecordRef("crm", "contacts", "003C")])
        golden = tx.goldens(cid.values())
    assert next(iter(golden.values())).fields["title"].value == "Head Buyer"
    runs = [r for r in hub.store.runs(10) if r.trigger == "webhook"]
    assert len(runs) == 1


def test_bad_signature_is_refused_and_stored_nowhere(world) -> None:
    _hub, inbox, client, worker, _tmp_path = world
    assert _post(client, b"{}", "evt-2", secret="wrong") == 401
    assert inbox.depth() == 0
    assert worker.run_once() == 0


def test_failing_processing_is_retried_then_a_dead_letter(world) -> None:
    _hub, inbox, client, worker, tmp_path = world
    (tmp_path / "crm" / "contacts.csv").unlink()  # the system cannot be read
    assert _post(client, b"{}", "evt-3") == 200
    worker.max_attempts = 2
    assert worker.run_once() == 0
    item = inbox.items("pending", 10)[0]  # back in the queue, due later, with the reason
    assert "contacts.csv" in (item.last_error or "")
    with inbox.engine.begin() as conn:  # time passes: the retry is due
        conn.execute(sa.update(webhook_inbox).values(available_at=datetime.now(UTC)))
    assert worker.run_once() == 0
    dead = inbox.items("dead", 10)
    assert len(dead) == 1
    assert dead[0].attempts == 2


def test_dead_deliveries_are_listed_replayed_and_discarded_by_the_cli(world) -> None:
    import json

    from typer.testing import CliRunner

    from hub.cli import EXIT_OK, app

    _hub, inbox, client, worker, tmp_path = world
    (tmp_path / "crm" / "contacts.csv").unlink()
    assert _post(client, b"{}", "evt-9") == 200
    assert _post(client, b"{}", "evt-10") == 200
    worker.max_attempts = 1
    assert worker.run_once() == 0
    config = str(tmp_path / "huitong.yaml")
    runner = CliRunner()
    listed = json.loads(
        runner.invoke(app, ["dlq", "list", "--queue", "inbox", "-c", config, "--json"]).stdout
    )
    assert len(listed) == 2
    assert all("contacts.csv" in d["last_error"] for d in listed)
    first, second = (str(d["id"]) for d in listed)
    assert (
        runner.invoke(app, ["dlq", "replay", first, "--queue", "inbox", "-c", config]).exit_code
        == EXIT_OK
    )
    assert (
        runner.invoke(app, ["dlq", "discard", second, "--queue", "inbox", "-c", config]).exit_code
        == EXIT_OK
    )
    assert (
        inbox.depth() == 1
    )  # the replayed one waits for the worker; the discarded one is finished
    assert inbox.items("dead") == []
