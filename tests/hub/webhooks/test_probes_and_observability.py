"""/healthz, /readyz, /metrics, and JSON logs that carry ids but never a secret or a body."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.emulation import LoopbackServer, free_port
from hub.observability import Metrics, bound_ids, configure_logging, get_logger, reset_logging
from hub.webhooks.receiver import create_app
from state import db
from state.inbox import SqlInbox

SECRET = "erp-secret-value-never-logged"
BODY_MARKER = "BODY-MARKER-汇通-8e1f"


def _post(
    client: httpx.Client, body: bytes, ts: float, secret: str = SECRET, delivery: str = ""
) -> Any:
    stamp = str(int(ts))
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Huitong-Timestamp": stamp, "X-Huitong-Signature": f"sha256={digest}"}
    if delivery:
        headers["X-Huitong-Delivery"] = delivery
    return client.post("/webhooks/erp", content=body, headers=headers)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging("INFO", stream=buffer)
    try:
        yield buffer
    finally:
        reset_logging()


def _records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_healthz_and_readyz(make_client: Any) -> None:
    client = make_client("erp", scheme="hmac_sha256", secret=SECRET)
    assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
        200,
        {"status": "ok"},
    )
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "detail": "ok"})


def test_readyz_is_503_when_the_database_is_not_migrated_or_not_there(
    tmp_path: Path, settings_for: Any
) -> None:
    settings = settings_for("erp", scheme="hmac_sha256", secret=SECRET)
    unmigrated = SqlInbox(db.make_engine(f"sqlite:///{tmp_path / 'new.db'}"))
    gone = SqlInbox(
        db.make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    )
    for inbox in (unmigrated, gone):
        with LoopbackServer(create_app(settings, inbox)) as server:
            response = httpx.get(f"{server.url}/readyz", timeout=10)
            health = httpx.get(f"{server.url}/healthz", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "not ready"
        assert "not migrated" in response.json()["detail"]
        assert health.status_code == 200  # alive, just not ready


def test_metrics_count_outcomes_latency_and_queue_depth(make_client: Any, clock: Any) -> None:
    metrics = Metrics()
    client = make_client("erp", metrics=metrics, scheme="hmac_sha256", secret=SECRET)
    assert _post(client, b'{"id":1}', clock.now, delivery="d1").status_code == 200
    assert _post(client, b'{"id":1}', clock.now, delivery="d1").status_code == 200
    assert _post(client, b'{"id":2}', clock.now, secret="forged").status_code == 401
    metrics.records_read.labels("erp", "customer").inc(7)
    metrics.sync_lag.labels("erp").set(12.5)
    metrics.records_written.labels("erp", "customer", "ok").inc(5)
    metrics.retries.labels("erp", "write").inc()
    metrics.dead_letters.labels("outbox", "erp").inc()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'huitong_webhook_requests_total{outcome="stored",system="erp"} 1.0',
        'huitong_webhook_requests_total{outcome="duplicate",system="erp"} 1.0',
        'huitong_webhook_requests_total{outcome="rejected",system="erp"} 1.0',
        'huitong_webhook_latency_seconds_count{system="erp"} 2.0',
        'huitong_queue_depth{queue="inbox",status="pending",system="erp"} 1.0',
        'huitong_records_read_total{object="customer",system="erp"} 7.0',
        'huitong_sync_lag_seconds{system="erp"} 12.5',
        'huitong_records_written_total{object="customer",result="ok",system="erp"} 5.0',
        'huitong_retries_total{operation="write",system="erp"} 1.0',
        'huitong_dead_letters_total{queue="outbox",system="erp"} 1.0',
    ):
        assert line in text, line


def test_logs_are_json_with_ids_and_sizes_never_bodies_or_secrets(
    make_client: Any, clock: Any, log_lines: io.StringIO
) -> None:
    client = make_client("erp", scheme="hmac_sha256", secret=SECRET)
    body = json.dumps({"name": BODY_MARKER}).encode()
    assert _post(client, body, clock.now, delivery="evt-7").status_code == 200
    assert _post(client, body, clock.now, secret="forged").status_code == 401
    assert _post(client, body, clock.now - 3600).status_code == 401
    text = log_lines.getvalue()
    assert BODY_MARKER not in text
    assert SECRET not in text
    records = _records(log_lines)
    [stored] = [r for r in records if r["event"] == "webhook.stored"]
    assert stored["system"] == "erp"
    assert stored["request_id"]
    assert stored["bytes"] == len(body)
    assert stored["keys"] == ["delivery:evt-7"]
    assert stored["new"] == 1
    assert stored["level"] == "info"
    assert stored["timestamp"].endswith("Z")
    reasons = [r["reason"] for r in records if r["event"] == "webhook.rejected"]
    assert reasons == ["invalid signature", "stale timestamp"]


def test_bound_ids_reach_structlog_and_stdlib_lines_and_secrets_are_masked(
    log_lines: io.StringIO,
) -> None:
    log = get_logger("huitong.test")
    with bound_ids(run_id="run_01", record_id="crm/contacts/42"):
        log.info("record.applied", fields=3, client_secret="s3cr3t", token=SecretStr("t0k3n"))
        logging.getLogger("uvicorn.error").warning("from the standard library")
        log.info(
            "sent",
            body=b"\x00" * 2048,
            payload="p" * 10,
            url="https://u:pw@api.example.com/x?access_token=abc&q=1",
            note="n" * 5000,
        )
    log.info("after")
    text = log_lines.getvalue()
    assert "s3cr3t" not in text
    assert "t0k3n" not in text
    assert "pw@" not in text
    assert "abc" not in text
    applied, stdlib, sent, after = _records(log_lines)
    assert (applied["run_id"], applied["record_id"], applied["client_secret"]) == (
        "run_01",
        "crm/contacts/42",
        "[redacted]",
    )
    assert stdlib["run_id"] == "run_01"
    assert stdlib["logger"] == "uvicorn.error"
    assert sent["body"] == "<2048 bytes>"
    assert sent["payload"] == "<10 chars>"
    assert sent["url"] == "https://***@api.example.com/x?access_token=***&q=1"
    assert len(sent["note"]) < 1100
    assert "run_id" not in after
