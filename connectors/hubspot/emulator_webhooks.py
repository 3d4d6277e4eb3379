"""Webhook deliveries: portal changes turned into HubSpot event payloads, POSTed signed to a target
URL.

Sources (apis.md §2.9):
* the body is a JSON array of at most 100 events: ``eventId, subscriptionId, portalId, appId,
  occurredAt, subscriptionType, attemptNumber, objectId, changeSource, sourceId`` plus
  ``propertyName/propertyValue`` (propertyChange), ``changeFlag`` (creation/deletion; the official
  v1 vector body shows ``"changeFlag":"NEW"`` on a creation);
* merge events carry ``primaryObjectId, mergedObjectIds, newObjectId, numberOfPropertiesMoved``
  (changelog "New subscription types for Webhooks"); association events ``fromObjectId, toObjectId,
  associationType, associationRemoved, isPrimaryAssociation`` [K], one per side (changelog "Bugfix:
  Webhook AssociationChanges");
* headers ``X-HubSpot-Signature`` + ``X-HubSpot-Signature-Version`` (v1 here) and
  ``X-HubSpot-Signature-v3`` + ``X-HubSpot-Request-Timestamp`` (ms);
* non-2xx answers and timeouts are retried, up to 10 attempts, with ``attemptNumber`` counting up
  [K]; the request times out after 5 s [K].

Deliveries are explicit (``flush()``) so tests decide when HubSpot "sends"; nothing runs in the
background.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.hubspot.emulator_portal import ChangeEvent, Portal
from connectors.hubspot.signature import sign_v1, sign_v3

MAX_EVENTS_PER_REQUEST = 100
MAX_ATTEMPTS = 10
DELIVERY_TIMEOUT_SECONDS = 5.0
CHANGE_SOURCE = "INTEGRATION"  # writes through a private app's token [K]
ALL_PROPERTIES = "*"
EVENT_KINDS = ("creation", "deletion", "propertyChange", "merge", "associationChange")
# System properties that change on every write: subscribing to "*" leaves them out.
_NOISY_PROPERTIES = {"lastmodifieddate", "hs_lastmodifieddate", "hs_object_id"}


@dataclass(frozen=True)
class Subscription:
    subscription_id: int
    subscription_type: str  # "contact.propertyChange"
    property_name: str | None = None  # for propertyChange: one property, or "*" for all


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    events: list[dict[str, Any]]
    status: int | None  # None: the connection failed or timed out


@dataclass
class WebhookDispatcher:
    portal: Portal
    app_id: int = 54321
    client_secret: str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # noqa: S105 - emulator default
    target_url: str | None = None
    clock: Callable[[], int] | None = None
    transport: httpx.BaseTransport | None = None  # tests may route deliveries in-process
    subscriptions: list[Subscription] = field(default_factory=list)
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    deliveries: list[Delivery] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    _next_event_id: int = 1
    _next_subscription_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.portal.on_change(self._on_change)

    def subscribe(self, subscription_type: str, property_name: str | None = None) -> Subscription:
        """Subscribe to e.g. ``contact.creation`` or ``company.propertyChange``.

        A propertyChange subscription names one property, or "*" for every property."""
        kind = subscription_type.split(".", 1)[-1]
        if kind not in EVENT_KINDS:
            raise ValueError(f"unsupported subscription type {subscription_type}")
        if kind == "propertyChange" and not property_name:
            raise ValueError("propertyChange subscriptions name a property (or '*')")
        with self._lock:
            sub = Subscription(self._next_subscription_id, subscription_type, property_name)
            self._next_subscription_id += 1
            self.subscriptions.append(sub)
            return sub

    def subscribe_all(self) -> None:
        """Every supported event of contacts and companies, every property."""
        for singular in ("contact", "company"):
            for kind in EVENT_KINDS:
                prop = ALL_PROPERTIES if kind == "propertyChange" else None
                self.subscribe(f"{singular}.{kind}", prop)

    def _now(self) -> int:
        return self.clock() if self.clock is not None else self.portal.clock()

    def _on_change(self, change: ChangeEvent) -> None:
        singular = self.portal.object_type(change.object_type).singular
        subscription_type = f"{singular}.{change.kind}"
        for sub in self.subscriptions:
            if sub.subscription_type != subscription_type:
                continue
            if change.kind == "propertyChange" and not _property_matches(sub, change):
                continue
            with self._lock:
                event = self._payload(sub, change)
                self.pending.append(event)

    def _payload(self, sub: Subscription, change: ChangeEvent) -> dict[str, Any]:
        event: dict[str, Any] = {
            "eventId": self._next_event_id,
            "subscriptionId": sub.subscription_id,
            "portalId": self.portal.portal_id,
            "appId": self.app_id,
            "occurredAt": change.occurred_ms,
            "subscriptionType": sub.subscription_type,
            "attemptNumber": 0,
            "objectId": int(change.object_id),
            "changeSource": CHANGE_SOURCE,
            "sourceId": str(self.app_id),
        }
        self._next_event_id += 1
        if change.kind == "creation":
            event["changeFlag"] = "NEW"
        elif change.kind == "deletion":
            event["changeFlag"] = "DELETED"
        elif change.kind == "propertyChange":
            event["propertyName"] = change.property_name
            event["propertyValue"] = change.property_value
        elif change.kind == "merge":
            event["primaryObjectId"] = int(change.primary_id or change.object_id)
            event["mergedObjectIds"] = [int(i) for i in change.merged_ids]
            event["newObjectId"] = int(change.new_id or change.object_id)
            event["numberOfPropertiesMoved"] = change.moved_count
        elif change.kind == "associationChange":
            to_type = self.portal.object_type(change.to_object_type or "")
            from_type = self.portal.object_type(change.object_type)
            event["associationType"] = f"{from_type.upper}_TO_{to_type.upper}"
            event["fromObjectId"] = int(change.object_id)
            event["toObjectId"] = int(change.to_object_id or 0)
            event["associationRemoved"] = change.association_removed
            event["isPrimaryAssociation"] = change.is_primary
        return event

    def signed_request(
        self, url: str, events: list[dict[str, Any]]
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(events, separators=(",", ":")).encode("utf-8")
        timestamp = self._now()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
            "X-HubSpot-Signature": sign_v1(self.client_secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", url, body, timestamp),
            "X-HubSpot-Request-Timestamp": str(timestamp),
        }
        return body, headers

    def flush(self) -> list[Delivery]:
        """POST every pending event (100 per request); failed ones wait for the next flush."""
        if self.target_url is None:
            raise RuntimeError("no webhook target URL configured")
        with self._lock:
            batch = list(self.pending)
            self.pending.clear()
        done: list[Delivery] = []
        with httpx.Client(timeout=DELIVERY_TIMEOUT_SECONDS, transport=self.transport) as http:
            for start in range(0, len(batch), MAX_EVENTS_PER_REQUEST):
                events = batch[start : start + MAX_EVENTS_PER_REQUEST]
                done.append(self._deliver(http, self.target_url, events))
        self.deliveries.extend(done)
        return done

    def _deliver(self, http: httpx.Client, url: str, events: list[dict[str, Any]]) -> Delivery:
        body, headers = self.signed_request(url, events)
        status: int | None
        try:
            status = http.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = None
        if status is None or not 200 <= status < 300:
            self._retry_later(events)
        return Delivery(url, body, headers, events, status)

    def _retry_later(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            for event in events:
                again = {**event, "attemptNumber": event["attemptNumber"] + 1}
                if again["attemptNumber"] >= MAX_ATTEMPTS:
                    self.dropped.append(event)
                else:
                    self.pending.append(again)


def _property_matches(sub: Subscription, change: ChangeEvent) -> bool:
    if sub.property_name == ALL_PROPERTIES:
        return change.property_name not in _NOISY_PROPERTIES
    return sub.property_name == change.property_name
