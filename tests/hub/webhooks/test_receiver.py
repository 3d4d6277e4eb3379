"""The receiver's promises beyond signatures: bounded bodies, stored before the reply, the reply never
waiting for processing, duplicates under concurrency, probes and metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from connectors.emulation import LoopbackServer
from connectors.hubspot.emulator_portal import Portal
from connectors.hubspot.emulator_webhooks import WebhookDispatcher
from hub.errors import ConfigError
from hub.observability import Metrics
from hub.settings import Settings
from hub.webhooks.receiver import create_app
from state import db
from state.inbox import SqlInbox
from state.store import SqlStore

SECRET = "erp-secret"


def _signed(body: bytes, ts: float, delivery: str | None = None) -> dict[str, str]:
    stamp = str(int(ts))
    digest = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Huitong-Timestamp": stamp, "X-Huitong-Signature": f"sha256={digest}"}
    return headers | ({"X-Huitong-Delivery": delivery} if delivery else {})


# --- body size --------------------------------------------------------------------------------------


def test_a_declared_oversize_body_gets_413_and_nothing_stored(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("erp", scheme="hmac_sha256", secret=SECRET, max_body_bytes=1024)
    body = b"x" * 1025
    response = client.post("/webhooks/erp", content=body, headers=_signed(body, clock.now))
    assert response.status_code == 413
    assert response.json() == {"error": "body larger than 1024 bytes"}
    at_limit = b"y" * 1024
    assert (
        client.post(
            "/webhooks/erp", content=at_limit, headers=_signed(at_limit, clock.now)
        ).status_code
        == 200
    )
    assert [len(i.payload) for i in sqlite_inbox.items()] == [1024]


def test_a_streamed_body_is_abandoned_as_soon_as_it_passes_the_limit(
    sqlite_inbox: SqlInbox, settings_for: Any
) -> None:
    """No Content-Length (chunked): the receiver stops pulling chunks right past the limit, so a
    body of any size is never held; the 413 goes out with only ~limit bytes read."""
    app = create_app(
        settings_for("erp", scheme="hmac_sha256", secret=SECRET, max_body_bytes=64 * 1024),
        sqlite_inbox,
    )
    pulled = 0
    chunk = b"z" * 8192

    async def receive() -> MutableMapping[str, Any]:
        nonlocal pulled
        pulled += 1
        return {
            "type": "http.request",
            "body": chunk,
            "more_body": pulled < 100_000,
        }  # ~800 MB offered

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/erp",
        "raw_path": b"/webhooks/erp",
        "query_string": b"",
        "headers": [(b"host", b"hub"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled * len(chunk) <= 64 * 1024 + len(chunk)
    assert sqlite_inbox.items() == []


# --- stored before the reply; the reply does not wait for processing -------------------------------


def test_the_delivery_is_committed_before_the_reply_and_left_for_a_worker(
    sqlite_inbox: SqlInbox, settings_for: Any
) -> None:
    seen_at_notice: list[int] = []

    def on_stored(system: str, new: int) -> None:
        # Called after the commit, before the reply is sent: another connection sees the row.
        seen_at_notice.append(sqlite_inbox.depth(system))

    app = create_app(
        settings_for("erp", scheme="hmac_sha256", secret=SECRET), sqlite_inbox, on_stored=on_stored
    )
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url) as client:
        body = b'{"id":"C001"}'
        assert (
            client.post(
                "/webhooks/erp", content=body, headers=_signed(body, time.time())
            ).status_code
            == 200
        )
    assert seen_at_notice == [1]
    [item] = sqlite_inbox.items()
    assert (item.status, item.attempts, item.claimed_by) == ("pending", 0, None)  # not processed


def test_replies_stay_fast_while_the_downstream_worker_is_stuck(
    sqlite_inbox: SqlInbox, settings_for: Any
) -> None:
    app = create_app(settings_for("erp", scheme="hmac_sha256", secret=SECRET), sqlite_inbox)
    release = threading.Event()

    def stuck_worker() -> None:  # claims what arrives, then hangs on its "downstream" call
        while not release.is_set():
            if sqlite_inbox.claim(10, "slow-worker", lease_seconds=300):
                release.wait(10)
            time.sleep(0.05)

    worker = threading.Thread(target=stuck_worker)
    worker.start()
    try:
        with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=5) as client:
            durations = []
            for i in range(20):
                body = f'{{"id":{i}}}'.encode()
                started = time.perf_counter()
                response = client.post(
                    "/webhooks/erp", content=body, headers=_signed(body, time.time())
                )
                durations.append(time.perf_counter() - started)
                assert response.status_code == 200
        assert max(durations) < 1.0  # HubSpot's timeout is 5 s, Feishu's 1 s for url checks
        assert sqlite_inbox.depth("erp") == 20
    finally:
        release.set()
        worker.join()


def test_an_unwritable_inbox_answers_503_so_the_sender_retries(
    tmp_path: Path, settings_for: Any
) -> None:
    broken = SqlInbox(db.make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}"))  # no table
    app = create_app(settings_for("erp", scheme="hmac_sha256", secret=SECRET), broken)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url) as client:
        body = b"{}"
        response = client.post("/webhooks/erp", content=body, headers=_signed(body, time.time()))
    assert (response.status_code, response.json()) == (
        503,
        {"error": "inbox unavailable, retry later"},
    )


# --- duplicates under concurrency, real PostgreSQL --------------------------------------------------


@pytest.fixture
def pg_inbox(pg_url: str) -> Iterator[SqlInbox]:
    store = SqlStore(pg_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE webhook_inbox"))
    try:
        yield SqlInbox(store.engine)
    finally:
        store.close()


def test_twenty_simultaneous_redeliveries_store_one_row(
    pg_inbox: SqlInbox, settings_for: Any
) -> None:
    app = create_app(settings_for("erp", scheme="hmac_sha256", secret=SECRET), pg_inbox)
    body = b'{"table":"customer","id":"C042"}'
    headers = _signed(body, time.time(), delivery="evt-42")
    barrier = threading.Barrier(20)
    with LoopbackServer(app) as server:

        def post(_: int) -> int:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                barrier.wait()
                return client.post("/webhooks/erp", content=body, headers=headers).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(post, range(20)))
    assert statuses == [200] * 20
    with pg_inbox.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT delivery_key FROM webhook_inbox")).scalars().all()
    assert rows == ["delivery:evt-42"]


# --- the HubSpot emulator's real deliveries ---------------------------------------------------------


def test_hubspot_emulator_deliveries_are_verified_and_stored(
    sqlite_inbox: SqlInbox, settings_for: Any
) -> None:
    secret = "hubspot-client-secret"
    app = create_app(settings_for("hubspot", scheme="hubspot_v3", secret=secret), sqlite_inbox)
    with LoopbackServer(app) as server:
        portal = Portal()
        dispatcher = WebhookDispatcher(
            portal, client_secret=secret, target_url=f"{server.url}/webhooks/hubspot"
        )
        dispatcher.subscribe("contact.creation")
        for i in range(3):
            portal.create("contacts", {"email": f"p{i}@example.com"})
        [delivery] = dispatcher.flush()
        assert delivery.status == 200
        assert len(sqlite_inbox.items()) == 3
        # The sender did not see the answer and resends the same events (attemptNumber 1).
        for event in delivery.events:
            dispatcher.pending.append({**event, "attemptNumber": 1})
        [again] = dispatcher.flush()
        assert again.status == 200
    assert len(sqlite_inbox.items()) == 3


# --- configuration ----------------------------------------------------------------------------------


def test_two_systems_on_one_path_is_a_configuration_error(sqlite_inbox: SqlInbox) -> None:
    hook = {"scheme": "hmac_sha256", "secret": "s", "path": "/hooks/shared"}
    settings = Settings.model_validate(
        {"systems": {"a": {"kind": "x", "webhook": hook}, "b": {"kind": "x", "webhook": hook}}}
    )
    with pytest.raises(ConfigError, match="share the webhook path /hooks/shared"):
        create_app(settings, sqlite_inbox)


def test_only_systems_with_a_webhook_get_a_route(sqlite_inbox: SqlInbox) -> None:
    settings = Settings.model_validate(
        {
            "systems": {
                "csv": {"kind": "csv"},
                "erp": {"kind": "x", "webhook": {"scheme": "hmac_sha256", "secret": "s"}},
            }
        }
    )
    app = create_app(settings, sqlite_inbox, metrics=Metrics())
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/webhooks/csv", content=b"{}").status_code == 404
        assert client.get("/webhooks/erp").status_code == 405
        assert client.post("/webhooks/erp", content=b"{}").status_code == 401
