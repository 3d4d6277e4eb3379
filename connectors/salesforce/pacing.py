"""Pacing one org's API use: the daily allowance (with a reserve) and a cap on concurrent requests.

Salesforce meters the REST API per org over a rolling 24 hours ("calls are blocked until usage for
the preceding 24 hours drops below the limit", Salesforce Help: System Overview, API Usage) and
reports the org's usage on every response as ``Sforce-Limit-Info: api-usage=N/M`` (apis.md §1.6),
which simple-salesforce parses into ``sf.api_usage``. It has no per-second limit, only a cap of 25
concurrent long-running (>= 20 s) requests per production org, 5 in Developer Edition (limits
cheat sheet, "Concurrent API Request Limits"), answered with 403 REQUEST_LIMIT_EXCEEDED.

``ApiBudget`` is the seam for a budget shared by every worker (a database row updated with
``FOR UPDATE`` once the engine issue lands); ``LocalBudget`` keeps it in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from hub.errors import FatalError


class BudgetExhausted(FatalError):
    """Spending another call would eat into the reserve kept for people and other integrations."""


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int


class ApiBudget(Protocol):
    """The org's daily allowance as every user of one system sees it."""

    def spend(self, calls: int = 1) -> None:
        """Count ``calls`` about to be made; raise ``BudgetExhausted`` if they would reach the
        reserve."""
        ...

    def observe(self, used: int, limit: int) -> None:
        """Record the org's own figures from ``Sforce-Limit-Info``."""
        ...

    def usage(self) -> Usage | None:
        """The latest known usage (org figures plus calls spent since), if any was observed."""
        ...


class LocalBudget:
    """An in-process ``ApiBudget``: org figures from the last response plus calls spent since."""

    def __init__(self, reserve: float = 0.1, limit: int | None = None) -> None:
        self.reserve = reserve
        self._lock = threading.Lock()
        self._used: int | None = None
        self._limit = limit
        self._since = 0  # calls spent after the last observation

    def spend(self, calls: int = 1) -> None:
        with self._lock:
            if self._limit is not None:
                used = (self._used or 0) + self._since
                ceiling = int(self._limit * (1 - self.reserve))
                if used + calls > ceiling:
                    raise BudgetExhausted(
                        f"daily API budget reached: {used:,} of {self._limit:,} calls used in the "
                        f"last 24 hours and {self._limit - ceiling:,} kept in reserve; Salesforce "
                        "counts a rolling 24 hours, so calls free up as the oldest ones age out"
                    )
            self._since += calls

    def observe(self, used: int, limit: int) -> None:
        with self._lock:
            self._used, self._limit, self._since = used, limit, 0

    def usage(self) -> Usage | None:
        with self._lock:
            if self._limit is None:
                return None
            return Usage((self._used or 0) + self._since, self._limit)


class Pacer:
    """One system's gate: every request takes a slot (budget + concurrency) and all wait together
    after the org refuses for concurrency."""

    def __init__(
        self,
        budget: ApiBudget,
        max_concurrent: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._clock = clock
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._waited = threading.local()  # the pause each thread already sat out

    @contextmanager
    def slot(self, sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
        with self._lock:
            resume_at = self._resume_at
            wait = max(0.0, resume_at - self._clock())
        if wait > 0 and getattr(self._waited, "until", None) != resume_at:
            self._waited.until = resume_at
            sleep(wait)
        self.budget.spend(1)
        with self._slots:
            yield

    def pause(self, seconds: float) -> None:
        """Hold every request of this system for ``seconds`` (after a concurrency refusal)."""
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def pause_remaining(self) -> float:
        with self._lock:
            return max(0.0, self._resume_at - self._clock())


_shared: dict[str, Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(key: str, reserve: float, max_concurrent: int) -> Pacer:
    """The one pacer of a system in this process (several connectors of one org share it)."""
    with _shared_lock:
        pacer = _shared.get(key)
        if pacer is None:
            pacer = Pacer(LocalBudget(reserve), max_concurrent)
            _shared[key] = pacer
        return pacer
