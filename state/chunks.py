"""Bounded ``IN (...)`` lists: every store module reads and deletes by id in chunks of this size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

# SQLite's variable limit and PostgreSQL's planner both like lists of this length.
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
