"""Fixtures for the receiver: settings for one system, an app over a real inbox, a clock.

Scheme tests run on an SQLite inbox (the receiver does not care which engine); the inbox's own
guarantees and the concurrency tests run on both engines or on PostgreSQL explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import state.tables_inbox  # noqa: F401  (the root conftest then truncates the inbox table too)
from connectors.emulation import LoopbackServer
from hub.observability import Metrics
from hub.settings import Settings
from hub.webhooks.receiver import create_app
from state.inbox import SqlInbox

NOW = 1_700_000_000.0  # the fixed clock of most tests (epoch seconds)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_settings(system: str = "crm", **webhook: Any) -> Settings:
    return Settings.model_validate({"systems": {system: {"kind": "test", "webhook": webhook}}})


@pytest.fixture
def settings_for() -> Callable[..., Settings]:
    """``settings_for(system, **webhook)``: settings with one system and its webhook section."""
    return make_settings


@pytest.fixture
def sqlite_inbox(tmp_path: Path) -> Iterator[SqlInbox]:
    inbox = SqlInbox.open(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        yield inbox
    finally:
        inbox.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


MakeClient = Callable[..., httpx.Client]


@pytest.fixture
def make_client(sqlite_inbox: SqlInbox, clock: Clock) -> Iterator[MakeClient]:
    """``make_client(system="crm", **webhook_settings)``: an httpx client (``base_url`` set) talking
    to a fresh receiver served by uvicorn on loopback."""
    opened: list[tuple[LoopbackServer, httpx.Client]] = []

    def make(system: str = "crm", metrics: Metrics | None = None, **webhook: Any) -> httpx.Client:
        app = create_app(
            make_settings(system, **webhook), sqlite_inbox, clock=clock, metrics=metrics
        )
        server = LoopbackServer(app).start()
        client = httpx.Client(base_url=server.url, timeout=10)
        opened.append((server, client))
        return client

    yield make
    for server, client in opened:
        client.close()
        server.stop()
