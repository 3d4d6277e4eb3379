"""Rate budgets shared by every worker of one system.

A connector paces its calls with rolling windows ("at most N calls in any T seconds"). In one
process the window lives in memory; with several workers (on any hosts) the hub hands the connector
windows kept in the shared database, so all of them together stay under the API's limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


class RateWindow(Protocol):
    """At most ``limit`` calls in any ``seconds``, counted for everyone holding the same key."""

    def acquire(self) -> float:
        """Take a slot if there is room (returns 0), else the seconds until one frees up."""
        ...

    def set_limit(self, limit: int, seconds: float) -> None: ...

    def finish(self) -> None:
        """The call the current thread acquired a slot for has ended (it counts from now)."""
        ...


WindowFactory = Callable[[str, int, float], RateWindow]


@runtime_checkable
class SharesBudget(Protocol):
    """A connector that can pace itself with windows shared through the hub's database."""

    def share_budget(self, windows: WindowFactory) -> None: ...
