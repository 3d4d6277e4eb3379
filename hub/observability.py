"""Structured JSON logs and Prometheus metrics, the same for the CLI, the server and the workers.

Logs: ``configure_logging()`` sends structlog's and the standard library's records (uvicorn, httpx,
alembic) through one handler as JSON lines on stderr. Ids bound with ``bound_ids(run_id=...,
record_id=...)`` appear on every line logged inside the block, from any module. A last processor
keeps secrets and bodies out: values under secret-looking keys are masked, ``body``/``payload``
values become their size, bytes are never printed, URLs are sanitised and long strings cut.

Metrics: one ``Metrics`` object per process owns its registry (tests and several apps in one process
do not collide). Queue depths are read from the database when ``/metrics`` is scraped, so every
process reports the shared queues' true depth.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from pydantic import SecretStr

from hub.errors import sanitize_url

# --- logging ----------------------------------------------------------------------------------------

_SECRET_KEY = re.compile(
    r"secret|token|password|passwd|authorization|signature|cookie|api_?key|session|credential",
    re.IGNORECASE,
)
_SIZED_KEYS = {"body", "payload", "raw", "content"}
_MAX_TEXT = 1000
_handler: logging.Handler | None = None
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _mask(key: str, value: Any) -> Any:
    if isinstance(value, SecretStr) or (_SECRET_KEY.search(key) and value not in (None, "")):
        return "[redacted]"
    if key in _SIZED_KEYS and isinstance(value, str | bytes | bytearray):
        return f"<{len(value)} bytes>" if not isinstance(value, str) else f"<{len(value)} chars>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        if key.endswith("url"):
            value = sanitize_url(value)
        if len(value) > _MAX_TEXT:
            return value[:_MAX_TEXT] + f"...(+{len(value) - _MAX_TEXT} chars)"
    if isinstance(value, dict):
        return {k: _mask(str(k), v) for k, v in value.items()}
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: the last line of defence against a secret or a body in a log."""
    return {k: v if k == "event" else _mask(k, v) for k, v in event_dict.items()}


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (stderr) for structlog and standard-library loggers alike; on a
    terminal, the same records as readable lines (a person is watching, not a log collector).

    Calling it again replaces the handler it installed (tests point it at a buffer)."""
    global _handler
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    target = stream or sys.stderr
    handler = logging.StreamHandler(target)
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
    if _is_terminal(target):
        renderer = structlog.dev.ConsoleRenderer(
            colors=True, exception_formatter=structlog.dev.plain_traceback
        )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    _handler = handler
    for name in _SERVER_LOGGERS:  # uvicorn's own set-up would print plain text beside the JSON
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True


def reset_logging() -> None:
    """Undo ``configure_logging`` (tests)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    structlog.reset_defaults()


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


@contextlib.contextmanager
def bound_ids(**ids: str | int | None) -> Iterator[None]:
    """Bind ``run_id``, ``record_id``, ``request_id``... to every line logged inside the block."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield


# --- metrics ----------------------------------------------------------------------------------------

QueueCounts = Callable[[], Mapping[tuple[str, str], int]]


class _QueueDepths(Collector):
    """``huitong_queue_depth{queue, system, status}``, asked of each queue's store at scrape time."""

    def __init__(self) -> None:
        self.sources: dict[str, QueueCounts] = {}
        self._log = get_logger("huitong.metrics")

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "huitong_queue_depth",
            "Items in each durable queue (inbox, outbox) by system and status.",
            labels=["queue", "system", "status"],
        )
        for queue, counts in sorted(self.sources.items()):
            try:
                found = counts()
            except Exception as exc:  # a scrape must not fail because one queue cannot be read
                self._log.warning("metrics.queue_unreadable", queue=queue, error=type(exc).__name__)
                continue
            for (system, status), n in sorted(found.items()):
                family.add_metric([queue, system, status], float(n))
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


class Metrics:
    """Every metric the hub exports; pass one object to the parts of a process that report."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records_read = Counter(
            "huitong_records_read", "Records read from systems.", ["system", "object"], registry=r
        )
        self.records_written = Counter(
            "huitong_records_written",
            "Writes sent to systems, by result (ok, failed).",
            ["system", "object", "result"],
            registry=r,
        )
        self.sync_lag = Gauge(
            "huitong_sync_lag_seconds",
            "Age of the newest change applied from each system (now minus its modified time).",
            ["system"],
            registry=r,
        )
        self.retries = Counter(
            "huitong_retries", "Retried operations.", ["system", "operation"], registry=r
        )
        self.dead_letters = Counter(
            "huitong_dead_letters",
            "Items moved to a dead-letter state.",
            ["queue", "system"],
            registry=r,
        )
        self.webhook_requests = Counter(
            "huitong_webhook_requests",
            "Webhook requests by outcome: stored, duplicate, handshake, rejected, too_large,"
            " client_gone, error.",
            ["system", "outcome"],
            registry=r,
        )
        self.webhook_latency = Histogram(
            "huitong_webhook_latency_seconds",
            "From a webhook request's arrival to its deliveries committed to the inbox.",
            ["system"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self._queues = _QueueDepths()
        r.register(self._queues)

    def watch_queue(self, queue: str, counts: QueueCounts) -> None:
        """Report ``counts()`` (``{(system, status): n}``) as the depth of ``queue`` at each scrape."""
        self._queues.sources[queue] = counts

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
