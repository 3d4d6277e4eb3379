"""The read cursor: a SystemModstamp, when it was read, and what was delivered near it.

A Salesforce transaction stamps ``SystemModstamp`` when it writes, but its rows become visible
when it commits, so a long transaction's rows can appear after later rows were read. A row missed
that way was invisible when the previous read ran (at ``read_at``, the server's clock from the
query's ``Date`` header), so it was stamped after ``read_at - overlap`` (transactions are assumed to
run shorter than the overlap). The next read therefore starts at
``min(modstamp, read_at - overlap)`` (inclusive), and skips the (Id, SystemModstamp) pairs the
cursor says were delivered: a row changed again has a new stamp and comes through; a row that
committed late was never delivered and comes through; nothing is delivered twice. When the last
record is older than ``read_at - overlap`` (a quiet org) the re-read costs nothing.

Text form: ``2024-05-01T10:00:00.123Z`` alone (also what a person may write to re-read from a
moment; without a read time the read starts a whole overlap earlier), then optionally ``;`` and the
read time, then optionally ``~`` and the delivered pairs as 8-byte BLAKE2b digests in base64url.
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
    read_at: datetime | None = None
    delivered: frozenset[bytes] = frozenset()

    def lower_bound(self, overlap: timedelta) -> datetime:
        """Where the next read starts (inclusive)."""
        if self.read_at is None:
            return self.modstamp - overlap
        return min(self.modstamp, self.read_at - overlap)

    def encode(self) -> str:
        text = format_timestamp(self.modstamp)
        if self.read_at is not None:
            text += ";" + format_timestamp(self.read_at)
        if not self.delivered:
            return text
        packed = base64.urlsafe_b64encode(b"".join(sorted(self.delivered))).decode()
        return f"{text}~{packed.rstrip('=')}"

    @classmethod
    def decode(cls, text: str) -> ReadCursor:
        stamps, _, packed = text.partition("~")
        stamp, _, read_text = stamps.partition(";")
        try:
            modstamp = parse_timestamp(stamp)
            read_at = parse_timestamp(read_text) if read_text else None
            raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)) if packed else b""
        except ValueError:
            raise ValueError(f"not a Salesforce cursor: {text[:60]!r}") from None
        if len(raw) % DIGEST_SIZE:
            raise ValueError(f"not a Salesforce cursor: {text[:60]!r}")
        digests = frozenset(raw[i : i + DIGEST_SIZE] for i in range(0, len(raw), DIGEST_SIZE))
        return cls(modstamp, read_at, digests)


class DeliveredWindow:
    """The pairs delivered (or skipped as already delivered) that a read from the cursor would see
    again: those stamped at or after the next read's start, to the second."""

    def __init__(self, overlap: timedelta, memory: int) -> None:
        self.overlap = overlap
        self.memory = memory
        self._pairs: deque[tuple[datetime, bytes]] = deque()

    def add(self, modstamp: datetime, digest: bytes) -> None:
        self._pairs.append((modstamp, digest))

    def cursor_at(self, modstamp: datetime, read_at: datetime | None) -> ReadCursor:
        probe = ReadCursor(modstamp, read_at)
        # SOQL filters compare to the second: the next read sees the whole starting second.
        horizon = probe.lower_bound(self.overlap).replace(microsecond=0)
        while self._pairs and self._pairs[0][0] < horizon:
            self._pairs.popleft()
        while len(self._pairs) > self.memory:
            self._pairs.popleft()  # the oldest go first: at worst re-delivered, never lost
        return ReadCursor(modstamp, read_at, frozenset(digest for _, digest in self._pairs))
