"""Fixtures: an emulated org served over TLS on loopback, and real simple-salesforce clients.

One server per test process; every test gets a fresh ``Org`` and ``FaultPlan`` swapped in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from connectors.salesforce.emulator import RunningSalesforce, SalesforceEmulator, connect_client
from connectors.salesforce.org import Org


@pytest.fixture(scope="session")
def _served() -> Iterator[RunningSalesforce]:
    with SalesforceEmulator().serve() as served:
        yield served


@pytest.fixture
def running(_served: RunningSalesforce) -> RunningSalesforce:
    _served.emulator.reset(Org())
    return _served


@pytest.fixture
def emulator(running: RunningSalesforce) -> SalesforceEmulator:
    return running.emulator


@pytest.fixture
def org(running: RunningSalesforce) -> Org:
    return running.org


@pytest.fixture
def sf(running: RunningSalesforce) -> Salesforce:
    """Logged in the way simple-salesforce does by default: SOAP login with a security token."""
    return connect_client(running)
