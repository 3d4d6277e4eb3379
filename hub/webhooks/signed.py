"""Schemes that sign the body with a shared secret: HubSpot v3 and the hub's generic HMAC-SHA256.

HubSpot v3 (apis.md §2.9; https://developers.hubspot.com/docs/api/webhooks/validating-requests):
``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))`` with
``X-HubSpot-Request-Timestamp`` in milliseconds, refused when older than 5 minutes. The uri is the
full URL HubSpot called, which a receiver behind a proxy must rebuild (``public_base_url``).

Generic (the hub's own, for ERP/OA systems and relays that can sign a request):
``X-Huitong-Timestamp: <epoch seconds>`` and
``X-Huitong-Signature: sha256=<hex(HMAC-SHA256(secret, timestamp + "." + body))>``; an optional
``X-Huitong-Delivery: <id>`` names the event so a redelivery is recognised. The timestamp is signed
with the body, so a captured request cannot be replayed outside the tolerance window.

Delivery keys (what makes a redelivery the same event):
* HubSpot: ``eventId`` alone "is not guaranteed to be unique" (HubSpot webhook payload reference), and
  a retried batch differs only in ``attemptNumber``. Each event is stored on its own (body ``[event]``,
  the shape of any HubSpot delivery) under a hash of every field but ``attemptNumber``.
* Salesforce CDC through a relay: one row per change event, keyed by the ``ChangeEventHeader``'s
  ``transactionKey`` and ``sequenceNumber`` (unique per event within a transaction, apis.md §1.9).
* Generic: ``X-Huitong-Delivery`` when sent, else a hash of the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from hub.webhooks.hubspot_signature import sign_v3
from hub.webhooks.inbox import Delivery, hashed_key
from hub.webhooks.request import (
    Accepted,
    IncomingRequest,
    Rejected,
    Verdict,
    is_fresh,
    kept_headers,
)

_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_HEX_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def _compact(value: Any, sort_keys: bool = False) -> bytes:
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys
    ).encode()


class HubSpotV3:
    scheme = "hubspot_v3"
    methods: tuple[str, ...] = ("POST",)

    def __init__(self, system: str, client_secret: str, tolerance_seconds: float) -> None:
        self._system = system
        self._secret = client_secret
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:
        return f"HubSpotV3({self._system})"

    def verify(self, request: IncomingRequest) -> Verdict:
        signature = request.headers.get("x-hubspot-signature-v3")
        stamp = request.headers.get("x-hubspot-request-timestamp", "")
        if not signature or not stamp:
            return Rejected(401, "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
        if not stamp.isdigit() or len(stamp) > 16:
            return Rejected(401, "X-HubSpot-Request-Timestamp is not epoch milliseconds")
        if not is_fresh(int(stamp) / 1000.0, request.now, self._tolerance):
            return Rejected(401, "stale timestamp")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected(400, "body is not UTF-8")
        expected = sign_v3(self._secret, request.method, request.url, text, int(stamp))
        if not hmac.compare_digest(expected.encode(), signature.encode("ascii", "replace")):
            return Rejected(401, "invalid signature")
        return Accepted(self._deliveries(request, text))

    def _deliveries(self, request: IncomingRequest, text: str) -> list[Delivery]:
        headers = kept_headers(request.headers)
        try:
            events = json.loads(text)
        except ValueError:
            events = None
        if (
            not isinstance(events, list)
            or not events
            or not all(isinstance(e, dict) for e in events)
        ):
            # Authentic but not a batch of events: kept whole, for the worker to dead-letter and a
            # person to read (nothing a sender signed is dropped).
            key = hashed_key("hubspot-body", [request.body])
            return [
                Delivery(self._system, self.scheme, key, request.body, "application/json", headers)
            ]
        deliveries = []
        for event in events:
            identity = {k: v for k, v in event.items() if k != "attemptNumber"}
            deliveries.append(
                Delivery(
                    self._system,
                    self.scheme,
                    hashed_key("hubspot", [_compact(identity, sort_keys=True)]),
                    _compact([event]),
                    "application/json",
                    headers,
                )
            )
        return deliveries


def hmac_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The generic scheme's header value: ``sha256=`` + hex HMAC over ``timestamp + "." + body``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class HmacSha256:
    scheme = "hmac_sha256"
    methods: tuple[str, ...] = ("POST",)

    def __init__(self, system: str, secret: str, tolerance_seconds: float) -> None:
        self._system = system
        self._secret = secret.encode("utf-8")
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._system})"

    def verify(self, request: IncomingRequest) -> Verdict:
        stamp = request.headers.get("x-huitong-timestamp", "")
        match = _HEX_SIGNATURE.fullmatch(request.headers.get("x-huitong-signature", "").strip())
        if not stamp or not match:
            return Rejected(
                401, "missing X-Huitong-Timestamp or X-Huitong-Signature (sha256=<hex>)"
            )
        if not stamp.isdigit() or len(stamp) > 12:
            return Rejected(401, "X-Huitong-Timestamp is not epoch seconds")
        if not is_fresh(float(stamp), request.now, self._tolerance):
            return Rejected(401, "stale timestamp")
        expected = hmac_signature(self._secret, stamp, request.body)[len("sha256=") :]
        if not hmac.compare_digest(expected, match.group(1).lower()):
            return Rejected(401, "invalid signature")
        delivery_id = request.headers.get("x-huitong-delivery")
        if delivery_id is not None and not _DELIVERY_ID.fullmatch(delivery_id):
            return Rejected(400, "X-Huitong-Delivery: 1-128 letters, digits or ._:@/+=-")
        return Accepted(self._deliveries(request, delivery_id))

    def _deliveries(self, request: IncomingRequest, delivery_id: str | None) -> list[Delivery]:
        key = f"delivery:{delivery_id}" if delivery_id else hashed_key("body", [request.body])
        content_type = request.headers.get("content-type", "")
        headers = kept_headers(request.headers)
        return [Delivery(self._system, self.scheme, key, request.body, content_type, headers)]


class SalesforceCdcHmac(HmacSha256):
    """Change Data Capture events forwarded by a relay (CDC itself streams over CometD or gRPC, not
    HTTP, apis.md §1.9), signed with the generic scheme. The body is one event or a JSON array."""

    scheme = "salesforce_cdc_hmac"

    def _deliveries(self, request: IncomingRequest, delivery_id: str | None) -> list[Delivery]:
        try:
            parsed = json.loads(request.body)
        except ValueError:
            parsed = None
        events = parsed if isinstance(parsed, list) else [parsed]
        keys = [_cdc_key(event) for event in events]
        if not events or any(key is None for key in keys):
            return super()._deliveries(request, delivery_id)
        headers = kept_headers(request.headers)
        return [
            Delivery(
                self._system, self.scheme, str(key), _compact(event), "application/json", headers
            )
            for key, event in zip(keys, events, strict=True)
        ]


def _cdc_key(event: Any) -> str | None:
    header = event.get("ChangeEventHeader") if isinstance(event, dict) else None
    if not isinstance(header, dict):
        return None
    transaction, sequence = header.get("transactionKey"), header.get("sequenceNumber")
    if not isinstance(transaction, str) or not transaction or not isinstance(sequence, int):
        return None
    return f"cdc:{transaction[:150]}:{sequence}"
