"""The inbox port: what the webhook receiver and the inbox worker need from durable storage.

Guarantees every implementation gives (``tests/state/test_inbox.py`` checks them on SQLite and
PostgreSQL):

* ``add_many`` stores its deliveries in one transaction, committed before it returns; a delivery
  whose ``(system, key)`` is already stored is not stored again, also when several processes add the
  same key at the same moment (a unique constraint, not a read-then-write).
* ``claim`` hands each claimable item to one caller only: items claimed by another caller whose lease
  has not run out are never returned (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, an immediate write
  transaction on SQLite). An item whose lease ran out (its worker died) is claimable again, with
  ``attempts`` counting every claim.
* ``failed`` puts an item back for a later attempt at ``retry_at``; ``dead`` parks it for a person
  (listed with ``items("dead")``, put back with ``requeue``); neither deletes anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

InboxStatus = Literal["pending", "processing", "done", "dead"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified change notice, as it will be stored.

    ``key`` identifies the event across redeliveries (see ``hub/webhooks/verify.py`` for each
    scheme's choice); ``payload`` is the body as received, or its decrypted content for the schemes
    that encrypt (DingTalk, WeCom, Feishu), so the worker needs no key to read it.
    """

    system: str
    scheme: str
    key: str
    payload: bytes
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    system: str
    scheme: str
    key: str
    payload: bytes
    content_type: str
    headers: dict[str, str]
    received_at: datetime
    status: InboxStatus
    attempts: int
    claimed_by: str | None
    lease_until: datetime | None
    last_error: str | None


class InboxPort(Protocol):
    def add(self, delivery: Delivery) -> bool:
        """Store one delivery; True when it was new."""
        ...

    def add_many(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Store deliveries in one transaction; for each, True when it was new."""
        ...

    def claim(self, limit: int, worker_id: str, lease_seconds: float = 60.0) -> list[InboxItem]:
        """Up to ``limit`` claimable items, oldest first, leased to ``worker_id``."""
        ...

    def renew(self, ids: Iterable[int], worker_id: str, lease_seconds: float = 60.0) -> int:
        """Extend the lease of items this worker still holds; returns how many it still holds."""
        ...

    def done(self, ids: Iterable[int]) -> int: ...

    def failed(self, item_id: int, error: str, retry_at: datetime) -> bool: ...

    def dead(self, item_id: int, error: str) -> bool: ...

    def depth(self, system: str | None = None) -> int:
        """Items not finished yet (pending or processing)."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """Items per (system, status) for pending, processing and dead (the queue-depth metric)."""
        ...

    def ready(self) -> tuple[bool, str]:
        """Whether the database answers and its schema is at the newest revision, and why not."""
        ...


def hashed_key(prefix: str, parts: Iterable[str | bytes]) -> str:
    """A bounded, stable delivery key: ``prefix:`` + SHA-256 over the parts (order-sensitive)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))  # length-prefixed: ("ab","c") != ("a","bc")
        digest.update(data)
    return f"{prefix}:{digest.hexdigest()}"
