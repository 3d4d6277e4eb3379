"""HubSpot's rate limits, enforced per token with rolling windows, and the headers that report them.

Sources:
* burst and daily limits for private apps: changelog "Increasing our API limits" (Professional: 190
  requests per 10 seconds, 650,000 per day); apis.md §2.8 ("100–190 / 10 s") [D]/[K];
* the CRM search endpoints: 4 requests per second per token (changelog "CRM Search API Rate Limit
  Increase"), answered with the SECONDLY policy (apis.md §2.3);
* headers ``X-HubSpot-RateLimit-Daily``, ``-Daily-Remaining``, ``-Interval-Milliseconds``, ``-Max``,
  ``-Remaining``, ``-Secondly``, ``-Secondly-Remaining`` (apis.md §2.8: changelog 2018-11-06 and the
  later burst-limit changelog, "The X-HubSpot-RateLimit-* headers have been updated to reflect your
  account's limits");
* HubSpot does not document ``Retry-After`` on 429 (apis.md §2.8), so none is sent.

A request refused with 429 does not consume budget [K]; every other authenticated request does.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimitConfig:
    burst_max: int = 190
    interval_ms: int = 10_000
    daily_max: int = 650_000
    search_per_second: int = 4
    enabled: bool = True


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str | None  # TEN_SECONDLY_ROLLING | SECONDLY | DAILY when refused
    headers: dict[str, str]


@dataclass
class _Budget:
    burst: deque[float] = field(default_factory=deque)
    search: deque[float] = field(default_factory=deque)


@dataclass
class RateLimiter:
    config: RateLimitConfig = field(default_factory=RateLimitConfig)
    clock: Callable[[], float] = time.monotonic
    _budgets: dict[str, _Budget] = field(default_factory=dict)
    _daily_used: int = 0
    _day: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, token: str, is_search: bool) -> Decision:
        """Count one request for ``token`` unless a limit refuses it."""
        with self._lock:
            now = self.clock()
            budget = self._budgets.setdefault(token, _Budget())
            self._trim(budget.burst, now, self.config.interval_ms / 1000)
            self._trim(budget.search, now, 1.0)
            self._roll_day()
            policy = None
            if self.config.enabled:
                if self._daily_used >= self.config.daily_max:
                    policy = "DAILY"
                elif len(budget.burst) >= self.config.burst_max:
                    policy = "TEN_SECONDLY_ROLLING"
                elif is_search and len(budget.search) >= self.config.search_per_second:
                    policy = "SECONDLY"
            if policy is None:
                budget.burst.append(now)
                if is_search:
                    budget.search.append(now)
                self._daily_used += 1
            return Decision(policy is None, policy, self._headers(budget))

    def _trim(self, window: deque[float], now: float, seconds: float) -> None:
        while window and now - window[0] >= seconds:
            window.popleft()

    def _roll_day(self) -> None:
        day = int(time.time() // 86_400)  # the daily budget resets at midnight UTC [K]
        if day != self._day:
            self._day = day
            self._daily_used = 0

    def _headers(self, budget: _Budget) -> dict[str, str]:
        burst_max = self.config.burst_max
        per_second = math.ceil(burst_max * 1000 / self.config.interval_ms)
        recent = sum(1 for t in budget.burst if (budget.burst[-1] if budget.burst else 0) - t < 1)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.config.daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(
                max(0, self.config.daily_max - self._daily_used)
            ),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.config.interval_ms),
            "X-HubSpot-RateLimit-Max": str(burst_max),
            "X-HubSpot-RateLimit-Remaining": str(max(0, burst_max - len(budget.burst))),
            "X-HubSpot-RateLimit-Secondly": str(per_second),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, per_second - recent)),
        }

    def headers_for(self, token: str) -> dict[str, str]:
        """The current headers for ``token`` without counting a request (for injected 429s)."""
        with self._lock:
            budget = self._budgets.setdefault(token, _Budget())
            self._trim(budget.burst, self.clock(), self.config.interval_ms / 1000)
            self._roll_day()
            return self._headers(budget)
