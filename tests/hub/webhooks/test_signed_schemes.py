"""HubSpot v3 and the generic HMAC-SHA256 scheme through the receiver: accepted, de-duplicated, or
rejected with nothing stored."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from connectors.hubspot.signature import sign_v3
from state.inbox import SqlInbox

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
ERP_SECRET = "erp-secret"


def _hubspot(client: httpx.Client, url: str, body: bytes, ts_ms: int, secret: str = SECRET) -> Any:
    signature = sign_v3(secret, "POST", url, body, ts_ms)
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": str(ts_ms),
    }
    return client.post(url, content=body, headers=headers)


def _event(event_id: int, object_id: int, attempt: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 12345,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1_699_999_990_000,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": attempt,
        "objectId": object_id,
        "propertyName": "email",
        "propertyValue": f"{object_id}@example.com",
        "changeSource": "CRM",
        **extra,
    }


def _batch(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events), separators=(",", ":")).encode()


# --- HubSpot v3 -------------------------------------------------------------------------------------


def test_hubspot_vector_verifies_against_the_public_url(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    # apis.md §2.9 vector (recomputed with hubspot-api-client): secret "secret", POST
    # https://example.com/webhook, body {"a":1}, ts 1700000000000.
    clock.now = 1_700_000_000.0 + 30
    client = make_client(
        "hubspot", scheme="hubspot_v3", secret="secret", path="/webhook",
        public_base_url="https://example.com",
    )  # fmt: skip
    headers = {
        "X-HubSpot-Signature-v3": "qXdL4DMjbTChjEauec7sQP4IcfqN2HQ2RluYdqUfT6k=",
        "X-HubSpot-Request-Timestamp": "1700000000000",
    }
    response = client.post("/webhook", content=b'{"a":1}', headers=headers)
    assert response.status_code == 200, response.text
    [item] = sqlite_inbox.items()
    assert item.payload == b'{"a":1}'  # authentic but not an event batch: kept whole
    assert "x-hubspot-signature-v3" not in item.headers  # no credential is stored


def test_hubspot_signature_over_another_url_is_rejected(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    """Without ``public_base_url`` the hub checks the URL it sees (http://127.0.0.1:<port>/...),
    which is not what the sender signed behind a proxy: rejected, nothing stored."""
    clock.now = 1_700_000_000.0
    client = make_client("hubspot", scheme="hubspot_v3", secret="secret", path="/webhook")
    headers = {
        "X-HubSpot-Signature-v3": "qXdL4DMjbTChjEauec7sQP4IcfqN2HQ2RluYdqUfT6k=",
        "X-HubSpot-Request-Timestamp": "1700000000000",
    }
    response = client.post("/webhook", content=b'{"a":1}', headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "invalid signature"})
    assert sqlite_inbox.items() == []


def test_hubspot_batch_is_stored_per_event_and_a_retry_adds_nothing(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("hubspot", scheme="hubspot_v3", secret=SECRET)
    url = f"{client.base_url}/webhooks/hubspot"
    now_ms = int(clock.now * 1000)
    body = _batch(_event(1, 101), _event(2, 102), _event(3, 103))
    assert _hubspot(client, url, body, now_ms).status_code == 200
    assert [json.loads(i.payload)[0]["objectId"] for i in sqlite_inbox.items()] == [101, 102, 103]
    # HubSpot's retry: same events, attemptNumber + 1, a new timestamp and signature.
    retry = _batch(_event(1, 101, 1), _event(2, 102, 1), _event(3, 103, 1))
    assert _hubspot(client, url, retry, now_ms + 60_000).status_code == 200
    assert len(sqlite_inbox.items()) == 3
    # eventId alone is "not guaranteed to be unique": same id, other object, is another event.
    assert _hubspot(client, url, _batch(_event(1, 999)), now_ms).status_code == 200
    assert len(sqlite_inbox.items()) == 4


@pytest.mark.parametrize(
    ("offset_ms", "signature_secret", "expected"),
    [
        (-301_000, SECRET, "stale timestamp"),  # older than the 5-minute window
        (+301_000, SECRET, "stale timestamp"),  # from the future
        (0, "another-secret", "invalid signature"),
    ],
)
def test_hubspot_stale_or_forged_requests_store_nothing(
    make_client: Any,
    sqlite_inbox: SqlInbox,
    clock: Any,
    offset_ms: int,
    signature_secret: str,
    expected: str,
) -> None:
    client = make_client("hubspot", scheme="hubspot_v3", secret=SECRET)
    url = f"{client.base_url}/webhooks/hubspot"
    ts = int(clock.now * 1000) + offset_ms
    response = _hubspot(client, url, _batch(_event(1, 101)), ts, signature_secret)
    assert (response.status_code, response.json()) == (401, {"error": expected})
    assert sqlite_inbox.items() == []


def test_hubspot_without_signature_headers_is_rejected(
    make_client: Any, sqlite_inbox: SqlInbox
) -> None:
    client = make_client("hubspot", scheme="hubspot_v3", secret=SECRET)
    response = client.post("/webhooks/hubspot", content=_batch(_event(1, 1)))
    assert response.status_code == 401
    assert "X-HubSpot-Signature-v3" in response.json()["error"]
    assert sqlite_inbox.items() == []


# --- the generic scheme -----------------------------------------------------------------------------


def _generic_headers(body: bytes, ts: int, secret: str = ERP_SECRET, **more: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Huitong-Timestamp": str(ts), "X-Huitong-Signature": f"sha256={digest}", **more}


def test_generic_hmac_accepts_and_deduplicates_by_delivery_id(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("erp", scheme="hmac_sha256", secret="erp-secret")
    ts = int(clock.now)
    body = '{"table":"customer","id":"C001","名称":"汇通"}'.encode()
    headers = _generic_headers(
        body, ts, **{"X-Huitong-Delivery": "evt-1", "Content-Type": "application/json"}
    )
    first = client.post("/webhooks/erp", content=body, headers=headers)
    assert (first.status_code, first.json()) == (200, {"status": "ok"})
    # The sender retries later with the same id (a new timestamp, so a new signature).
    again = _generic_headers(body, ts + 20, **{"X-Huitong-Delivery": "evt-1"})
    assert client.post("/webhooks/erp", content=body, headers=again).status_code == 200
    [item] = sqlite_inbox.items()
    assert (item.key, item.payload, item.content_type) == (
        "delivery:evt-1",
        body,
        "application/json",
    )
    assert item.headers.get("x-huitong-delivery") == "evt-1"
    assert not any("signature" in name for name in item.headers)


def test_generic_hmac_without_delivery_id_deduplicates_by_body(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("erp", scheme="hmac_sha256", secret="erp-secret")
    body = b'{"id":1}'
    for offset in (0, 5):
        headers = _generic_headers(body, int(clock.now) + offset)
        assert client.post("/webhooks/erp", content=body, headers=headers).status_code == 200
    assert len(sqlite_inbox.items()) == 1


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("stale", "stale timestamp"),
        ("future", "stale timestamp"),
        ("secret", "invalid signature"),
        (
            "timestamp",
            "invalid signature",
        ),  # the timestamp is signed: changing it breaks the signature
        ("body", "invalid signature"),
        ("missing", "missing X-Huitong-Timestamp or X-Huitong-Signature (sha256=<hex>)"),
    ],
)
def test_generic_hmac_rejections_store_nothing(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any, tamper: str, expected: str
) -> None:
    client = make_client(
        "erp", scheme="hmac_sha256", secret="erp-secret", timestamp_tolerance_seconds=60
    )
    ts, body = int(clock.now), b'{"id":1}'
    headers = _generic_headers(body, ts)
    if tamper == "stale":
        headers = _generic_headers(body, ts - 61)
    elif tamper == "future":
        headers = _generic_headers(body, ts + 61)
    elif tamper == "secret":
        headers = _generic_headers(body, ts, secret="guess")
    elif tamper == "timestamp":
        headers["X-Huitong-Timestamp"] = str(ts - 1)
    elif tamper == "body":
        body = b'{"id":2}'
    elif tamper == "missing":
        headers.pop("X-Huitong-Signature")
    response = client.post("/webhooks/erp", content=body, headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": expected})
    assert sqlite_inbox.items() == []


def test_generic_hmac_refuses_a_malformed_delivery_id(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("erp", scheme="hmac_sha256", secret="erp-secret")
    body = b"{}"
    headers = _generic_headers(body, int(clock.now), **{"X-Huitong-Delivery": "a b"})
    assert client.post("/webhooks/erp", content=body, headers=headers).status_code == 400
    assert sqlite_inbox.items() == []


def test_cdc_relay_events_are_stored_per_change_event(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("sf", scheme="salesforce_cdc_hmac", secret="relay-secret")

    def change(sequence: int, name: str) -> dict[str, Any]:
        return {
            "ChangeEventHeader": {
                "entityName": "Account",
                "recordIds": ["001000000000001AAA"],
                "changeType": "UPDATE",
                "changeOrigin": "com/salesforce/api/rest/59.0",
                "transactionKey": "0002343d-9d90-e395-ed20-cf416ba652ad",
                "sequenceNumber": sequence,
                "commitTimestamp": 1569443783000,
                "commitNumber": 10650212326,
                "commitUser": "005000000000001AAA",
                "changedFields": ["Name"],
            },
            "Name": name,
        }

    body = json.dumps([change(1, "Acme"), change(2, "Acme Ltd")]).encode()
    headers = _generic_headers(body, int(clock.now), secret="relay-secret")
    assert client.post("/webhooks/sf", content=body, headers=headers).status_code == 200
    one = json.dumps(change(2, "Acme Ltd")).encode()  # the relay re-sends the second event alone
    headers = _generic_headers(one, int(clock.now), secret="relay-secret")
    assert client.post("/webhooks/sf", content=one, headers=headers).status_code == 200
    items = sqlite_inbox.items()
    assert [i.key for i in items] == [
        "cdc:0002343d-9d90-e395-ed20-cf416ba652ad:1",
        "cdc:0002343d-9d90-e395-ed20-cf416ba652ad:2",
    ]
    assert json.loads(items[1].payload)["Name"] == "Acme Ltd"
