"""The HubSpot read cursor: a position in (last-modified millisecond, record id) order.

``"1700000000000"`` resumes at that millisecond (inclusive); ``"1700000000000:4711"`` resumes inside
that millisecond at record id 4711 (inclusive), used when more records share one instant than a
search can page through. Inclusive boundaries re-read at most the records of one instant, which the
hub's idempotent apply absorbs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.errors import FatalError

_CURSOR = re.compile(r"^(\d{1,16})(?::(\d{1,20}))?$")


@dataclass(frozen=True, order=True)
class Position:
    ms: int
    object_id: int = 0  # 0: from the start of the instant

    def encode(self) -> str:
        return f"{self.ms}:{self.object_id}" if self.object_id else str(self.ms)

    @classmethod
    def decode(cls, text: str) -> Position:
        match = _CURSOR.match(text.strip())
        if match is None:
            raise FatalError(
                f"unreadable HubSpot cursor {text[:40]!r}: expected '<epoch ms>' or "
                "'<epoch ms>:<record id>' (reset the cursor or run a full sync)"
            )
        return cls(int(match.group(1)), int(match.group(2) or 0))


def ms_of(value: object) -> int | None:
    """Epoch milliseconds of an ISO-8601 string, an epoch-ms string or a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ms_of(moment)


def datetime_of(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
