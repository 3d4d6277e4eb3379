"""The audit log: append-only events, hash-chained so an edited or deleted event is detected.

Each event's hash covers its sequence number, time, kind, subject and detail, and the hash of the event
before it; the chain's head (last sequence and hash) is kept beside it and moved in the same
transaction, so removing the newest events is detected too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64


@dataclass(slots=True)
class AuditEvent:
    event: str
    detail: dict[str, Any]
    canonical_id: str | None = None
    system: str | None = None
    object: str | None = None
    external_id: str | None = None
    run_id: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def dumps(detail: Any) -> str:
    """The one serialisation of a detail: the same text is stored and hashed."""
    return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS, default=str).decode()


def moment(at: datetime) -> str:
    """Times as hashed: UTC, microseconds, whatever the database gives back (SQLite drops the zone)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    event: str,
    canonical_id: str | None,
    system: str | None,
    object_: str | None,
    external_id: str | None,
    run_id: str | None,
    detail_text: str,
) -> str:
    return chain_digest(
        prev_hash,
        seq,
        moment(at),
        event,
        canonical_id,
        system,
        object_,
        external_id,
        run_id,
        detail_text,
    )


def chain_digest(
    prev_hash: str,
    seq: int,
    moment_text: str,
    event: str,
    canonical_id: str | None,
    system: str | None,
    object_: str | None,
    external_id: str | None,
    run_id: str | None,
    detail_text: str,
) -> str:
    """``chain_hash`` with the time already rendered by ``moment``: the events of one batch share it."""
    text = "\x1f".join(
        (
            prev_hash,
            str(seq),
            moment_text,
            event,
            canonical_id or "",
            system or "",
            object_ or "",
            external_id or "",
            run_id or "",
            detail_text,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class ChainReport:
    ok: bool
    checked: int
    problems: list[str]
