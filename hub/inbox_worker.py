"""The inbox worker: turns stored webhook deliveries into applied changes, after the HTTP reply.

A delivery is a notice that a system changed. The worker does not trust the payload as the record:
it runs the system's incremental read from its cursor, which fetches the changed records as the
system holds them now (a redelivered or out-of-order notice costs one cheap read), applies them,
sends the writes they cause, and only then marks the deliveries done. A failure leaves them to be
retried with backoff, then as dead letters; a crash leaves them leased, and the lease runs out.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hub.dispatcher import Dispatcher, default_worker_id
from hub.engine import RunSummary
from hub.observability import bound_ids, get_logger

log = get_logger(__name__)


class Inbox(Protocol):
    def claim(self, limit: int, worker_id: str, lease_seconds: float = 60.0) -> list[Any]: ...

    def done(self, ids: Any) -> int: ...

    def failed(self, item_id: int, error: str, retry_at: datetime) -> bool: ...

    def dead(self, item_id: int, error: str) -> bool: ...


class InboxWorker:
    def __init__(
        self,
        inbox: Inbox,
        sync: Callable[[Sequence[str], str], RunSummary],
        dispatcher: Dispatcher | None,
        worker: str | None = None,
        max_attempts: int = 10,
        lease_seconds: float = 300.0,
    ) -> None:
        self.inbox = inbox
        self.sync = sync
        self.dispatcher = dispatcher
        self.worker = worker or default_worker_id()
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds

    def run_once(self, limit: int = 1000) -> int:
        """Process what is due; returns how many deliveries were settled."""
        items = self.inbox.claim(limit, self.worker, self.lease_seconds)
        by_system: dict[str, list[Any]] = defaultdict(list)
        for item in items:
            by_system[item.system].append(item)
        settled = 0
        for system, group in by_system.items():
            try:
                summary = self.sync([system], "webhook")
                with bound_ids(run_id=summary.run_id):
                    log.info("webhook deliveries applied", system=system, deliveries=len(group),
                             read=summary.counts["read"], status=summary.status)  # fmt: skip
                if summary.failures:
                    raise RuntimeError("; ".join(summary.failures.values()))
                if self.dispatcher is not None:
                    self.dispatcher.dispatch()
            except Exception as exc:  # the deliveries stay; they are retried, then dead letters
                log.warning(
                    "webhook deliveries failed",
                    system=system,
                    deliveries=len(group),
                    error=str(exc),
                )
                for item in group:
                    if item.attempts >= self.max_attempts:  # the claim counted this attempt
                        self.inbox.dead(item.id, f"{type(exc).__name__}: {exc}")
                    else:
                        delay = min(3600.0, 2.0 * 2**item.attempts) * random.uniform(0.5, 1.0)
                        self.inbox.failed(
                            item.id,
                            f"{type(exc).__name__}: {exc}",
                            datetime.now(UTC) + timedelta(seconds=delay),
                        )
                continue
            settled += self.inbox.done([item.id for item in group])
        return settled
