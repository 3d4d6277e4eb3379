"""What a verifier sees and what it decides, shared by every signature scheme.

A verifier is pure: request in (body already read and bounded), verdict out. It never touches the
inbox, so the receiver alone decides when a delivery is durable and when the sender hears back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hub.webhooks.inbox import Delivery


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """One HTTP request as the sender made it.

    ``url`` is the URL the sender called (scheme, host, path as received, query), rebuilt from
    ``public_base_url`` behind a proxy; ``headers`` have lower-case names; ``now`` is epoch seconds.
    """

    system: str
    method: str
    url: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    client_host: str | None
    now: float


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: bytes = b'{"status":"ok"}'
    media_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Accepted:
    """Authentic: store ``deliveries`` (all in one transaction), then answer ``reply``."""

    deliveries: list[Delivery]
    reply: Reply = field(default_factory=Reply)


@dataclass(frozen=True, slots=True)
class Handshake:
    """Authentic, but a set-up exchange (URL verification): answer ``reply``, store nothing."""

    reply: Reply
    what: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """Not accepted; ``error`` is short and safe to show the sender (no secret, no body)."""

    status: int
    error: str


Verdict = Accepted | Handshake | Rejected


class Verifier(Protocol):
    scheme: str
    methods: tuple[str, ...]

    def verify(self, request: IncomingRequest) -> Verdict: ...


# --- helpers every scheme uses ----------------------------------------------------------------------

# Headers worth keeping with a delivery: what the worker may need to read the body. Anything that
# could authenticate (signatures, tokens, cookies) stays out of the database.
_KEPT_HEADERS = {"content-type", "user-agent", "soapaction"}
_SECRET_HEADER = re.compile(r"signature|token|auth|secret|cookie|key|session", re.IGNORECASE)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value[:500]
        for name, value in headers.items()
        if (name in _KEPT_HEADERS or name.startswith("x-")) and not _SECRET_HEADER.search(name)
    }


def is_fresh(sent_at_seconds: float, now: float, tolerance_seconds: float) -> bool:
    """Within the window either way: a timestamp from the future is as suspect as an old one."""
    return abs(now - sent_at_seconds) <= tolerance_seconds


def json_reply(payload: Mapping[str, object], status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode(), "application/json")


def parse_epoch(value: str | None) -> float | None:
    """Epoch seconds from a timestamp in seconds or milliseconds (13 digits); None when not one."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 16:
        return None
    number = int(value.strip())
    return number / 1000.0 if number > 100_000_000_000 else float(number)
