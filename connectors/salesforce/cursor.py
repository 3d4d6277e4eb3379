"""The read cursor: a SystemModstamp, plus what was already delivered inside the overlap window.

A Salesforce transaction stamps ``SystemModstamp`` when it writes, but its rows become visible
when it commits, so a long transaction's rows can appear after later rows were read. Each read
therefore starts ``overlap`` before the cursor (inclusive), and skips the (Id, SystemModstamp)
pairs the cursor says were delivered: a row changed again has a new stamp and comes through; a
row that committed late was never delivered and comes through; nothing is delivered twice.

Text form: ``2024-05-01T10:00:00.123Z`` alone (also what a person may write to re-read from a
moment), or followed by ``~`` and the delivered pairs as 8-byte BLAKE2b digests in base64url.
The pairs kept are capped (``dedup_memory``); a pair dropped from the cap can only cause a
harmless duplicate, never a loss.
"""

from __future__ import annotations

import base64
import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DIGEST_SIZE = 8


def parse_timestamp(text: str) -> datetime:
    """Salesforce's ``2013-05-20T20:49:32.000+0000`` or any ISO 8601 form; naive means UTC."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = f"{value[:-2]}:{value[-2:]}"  # +0000 -> +00:00
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal, floored to the second (filters compare at second precision)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pair_digest(record_id: str, modstamp: datetime) -> bytes:
    key = f"{record_id}|{format_timestamp(modstamp)}".encode()
    return hashlib.blake2b(key, digest_size=DIGEST_SIZE).digest()


@dataclass(frozen=True)
class ReadCursor:
    modstamp: datetime
    delivered: frozenset[bytes] = frozenset()

    def encode(self) -> str:
        text = format_timestamp(self.modstamp)
        if not self.delivered:
            return text
        packed = base64.urlsafe_b64encode(b"".join(sorted(self.delivered))).decode()
        return f"{text}~{packed.rstrip('=')}"

    @classmethod
    def decode(cls, text: str) -> ReadCursor:
        stamp, _, packed = text.partition("~")
        try:
            modstamp = parse_timestamp(stamp)
            raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)) if packed else b""
        except ValueError:
            raise ValueError(f"not a Salesforce cursor: {text[:60]!r}") from None
        if len(raw) % DIGEST_SIZE:
            raise ValueError(f"not a Salesforce cursor: {text[:60]!r}")
        digests = frozenset(raw[i : i + DIGEST_SIZE] for i in range(0, len(raw), DIGEST_SIZE))
        return cls(modstamp, digests)


class DeliveredWindow:
    """The pairs delivered (or skipped as already delivered) within ``overlap`` of the newest one."""

    def __init__(self, overlap: timedelta, memory: int) -> None:
        self.overlap = overlap
        self.memory = memory
        self._pairs: deque[tuple[datetime, bytes]] = deque()

    def add(self, modstamp: datetime, digest: bytes) -> None:
        self._pairs.append((modstamp, digest))

    def cursor_at(self, modstamp: datetime) -> ReadCursor:
        horizon = modstamp - self.overlap
        while self._pairs and self._pairs[0][0] < horizon:
            self._pairs.popleft()
        while len(self._pairs) > self.memory:
            self._pairs.popleft()  # the oldest go first: at worst re-delivered, never lost
        return ReadCursor(modstamp, frozenset(digest for _, digest in self._pairs))
