"""Rolling rate windows in the shared database: one row per call within the window, per key.

Taking a slot is one short transaction serialised per key (PostgreSQL: a transaction-level advisory
lock on the key; SQLite: the immediate write transaction), so workers on any hosts never together
exceed the limit. Rows older than the window are removed as it rolls.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from state.tables import api_call_log


class SqlRateWindow:
    def __init__(
        self,
        engine: Engine,
        key: str,
        limit: int,
        seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.key = key[:200]
        self.limit = max(1, limit)
        self.seconds = seconds
        self.clock = clock
        self._lock_id = zlib.crc32(self.key.encode()) & 0x7FFFFFFF
        self._taken = threading.local()

    def set_limit(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = max(1, limit), seconds

    def acquire(self) -> float:
        t = api_call_log
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_id})
            now = self.clock()
            since = now - self.seconds
            conn.execute(sa.delete(t).where(t.c.key == self.key, t.c.at <= since))
            recent = (
                conn.execute(
                    sa.select(t.c.at).where(t.c.key == self.key).order_by(t.c.at).limit(self.limit)
                )
                .scalars()
                .all()
            )
            if len(recent) < self.limit:
                slot = conn.execute(
                    sa.insert(t).values(key=self.key, at=now).returning(t.c.id)
                ).scalar_one()
                self._taken.slots = [*getattr(self._taken, "slots", []), slot]
                return 0.0
            return max(recent[0] + self.seconds - now, 0.001)

    def finish(self) -> None:
        """The call this thread took a slot for has ended: it counts from now. Stamping at the end
        is conservative: a call reaches the API no later than it ends, whatever delayed it."""
        slots = getattr(self._taken, "slots", [])
        if not slots:
            return
        slot = slots.pop()
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(api_call_log).where(api_call_log.c.id == slot).values(at=self.clock())
            )


def window_factory(engine: Engine) -> Callable[[str, int, float], SqlRateWindow]:
    def make(key: str, limit: int, seconds: float) -> SqlRateWindow:
        return SqlRateWindow(engine, key, limit, seconds)

    return make
