"""Pacing: keep one HubSpot system's calls under its published limits, so the API never has to say 429.

HubSpot counts requests per token in a *rolling* window (``TEN_SECONDLY_ROLLING``: at most
``X-HubSpot-RateLimit-Max`` requests in any ``X-HubSpot-RateLimit-Interval-Milliseconds``), plus a
per-second limit for CRM search and a daily quota (apis.md §2.8; changelog "Increasing our API
limits"). A token bucket of capacity ``max`` refilling at ``max/interval`` would let ``max`` calls go
at once and then more as it refills, which breaks a rolling window; so the local pacer keeps the
window itself: the completion time of each call, and a call waits until fewer than the allowed number
finished in the last interval (stamping at completion is conservative: a call reaches HubSpot no
later than it completes).

``RateBudget`` is the interface the client uses. ``LocalPacer`` keeps its state in memory (one
process); a budget shared by every worker (a database row per system, updated under a lock) can
implement the same three methods later without the client changing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from hub.errors import RateLimited
from hub.pacing import WindowFactory


class RateBudget(Protocol):
    def slot(self, search: bool = False) -> AbstractContextManager[None]:
        """Wait until one more call fits the limits; the call runs inside the block."""
        ...

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the real limits from a successful response's ``X-HubSpot-RateLimit-*`` headers."""
        ...

    def calls(self) -> int:
        """How many calls went through this budget (for measurement)."""
        ...


@dataclass
class _Window:
    """A rolling window: at most ``limit`` calls finished within any ``seconds``."""

    limit: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)
    in_flight: int = 0

    def wait_needed(self, now: float) -> float:
        while self.stamps and now - self.stamps[0] >= self.seconds:
            self.stamps.popleft()
        if len(self.stamps) + self.in_flight < self.limit:
            return 0.0
        excess = len(self.stamps) + self.in_flight - self.limit
        if excess < len(self.stamps):
            # Finished calls leave the window oldest first; one more than the excess must go.
            return max(self.stamps[excess] + self.seconds - now, 0.001)
        return 0.005  # calls still in flight fill the window: look again shortly


def _header(headers: Mapping[str, str], name: str) -> int | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    raw = lowered.get(name.lower())
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def seconds_to_utc_midnight(now: datetime | None = None) -> float:
    """HubSpot resets the daily quota at midnight (in the account's time zone; UTC is assumed)."""
    moment = now or datetime.now(UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - moment).total_seconds()


class LocalPacer:
    """An in-process ``RateBudget`` for one system (thread-safe).

    ``burst_max``/``interval_seconds`` start at the configured tier and follow the headers;
    ``headroom`` keeps a share of the burst budget free for other users of the same token.
    """

    def __init__(
        self,
        burst_max: int,
        interval_seconds: float,
        search_per_second: int,
        daily_max: int,
        headroom: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.headroom = headroom
        self.burst = _Window(self._allowed(burst_max), interval_seconds)
        self.search = _Window(search_per_second, 1.0)
        self.daily_max = daily_max
        self.clock = clock
        self.sleep = sleep
        self.waited_seconds = 0.0
        self._calls = 0
        self._daily_used = 0
        self._day = datetime.now(UTC).date()
        self._server_empty_until = 0.0
        self._lock = threading.Lock()

    def _allowed(self, server_max: int) -> int:
        return max(1, math.floor(server_max * self.headroom))

    def calls(self) -> int:
        return self._calls

    @contextmanager
    def slot(self, search: bool = False) -> Iterator[None]:
        windows = [self.burst, self.search] if search else [self.burst]
        while True:
            with self._lock:
                self._check_daily()
                now = self.clock()
                wait = max(max(w.wait_needed(now) for w in windows), self._server_empty_until - now)
                if wait <= 0:
                    for window in windows:
                        window.in_flight += 1
                    self._calls += 1
                    self._daily_used += 1
                    break
            self.waited_seconds += wait
            self.sleep(wait)
        try:
            yield
        finally:
            with self._lock:
                done = self.clock()
                for window in windows:
                    window.in_flight -= 1
                    window.stamps.append(done)

    def _check_daily(self) -> None:
        today = datetime.now(UTC).date()
        if today != self._day:
            self._day, self._daily_used = today, 0
        if self._daily_used >= self.daily_max:
            raise RateLimited(
                f"the daily HubSpot API quota ({self.daily_max}) is used up",
                retry_after=seconds_to_utc_midnight(),
            )

    def observe(self, headers: Mapping[str, str]) -> None:
        server_max = _header(headers, "X-HubSpot-RateLimit-Max")
        interval_ms = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        remaining = _header(headers, "X-HubSpot-RateLimit-Remaining")
        daily = _header(headers, "X-HubSpot-RateLimit-Daily")
        daily_remaining = _header(headers, "X-HubSpot-RateLimit-Daily-Remaining")
        with self._lock:
            if server_max is not None and server_max > 0:
                self.burst.limit = self._allowed(server_max)
            if interval_ms is not None and interval_ms > 0:
                self.burst.seconds = interval_ms / 1000
            if remaining is not None and remaining <= 0:
                # Someone else (another worker, another integration on the token) used the window
                # up: no call can succeed before the window has rolled over.
                self._server_empty_until = self.clock() + self.burst.seconds
            if daily is not None and daily > 0:
                self.daily_max = daily
            if daily_remaining is not None and daily is not None:
                self._daily_used = max(self._daily_used, daily - daily_remaining)


class SharedPacer:
    """A ``RateBudget`` whose windows live in the hub's database: every worker using the same token
    counts against the same rolling window (see ``hub.pacing``)."""

    def __init__(
        self,
        windows: WindowFactory,
        key: str,
        burst_max: int,
        interval_seconds: float,
        search_per_second: int,
        headroom: float = 0.9,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.headroom = headroom
        self.burst = windows(
            f"hubspot:{key}:burst", max(1, math.floor(burst_max * headroom)), interval_seconds
        )
        self.search = windows(f"hubspot:{key}:search", search_per_second, 1.0)
        self.sleep = sleep
        self.waited_seconds = 0.0
        self._calls = 0
        self._lock = threading.Lock()

    def calls(self) -> int:
        return self._calls

    @contextmanager
    def slot(self, search: bool = False) -> Iterator[None]:
        # The search window first: a burst slot is only taken once the search limit allows the call.
        windows = [self.search, self.burst] if search else [self.burst]
        for window in windows:
            while (wait := window.acquire()) > 0:
                self.waited_seconds += wait
                self.sleep(wait)
        with self._lock:
            self._calls += 1
        try:
            yield
        finally:
            for window in windows:
                window.finish()

    def observe(self, headers: Mapping[str, str]) -> None:
        server_max = _header(headers, "X-HubSpot-RateLimit-Max")
        interval_ms = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if server_max is not None and server_max > 0:
            seconds = interval_ms / 1000 if interval_ms else 10.0
            self.burst.set_limit(max(1, math.floor(server_max * self.headroom)), seconds)
