"""Fixtures: a fresh emulated org served over TLS on loopback, and real simple-salesforce clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from connectors.salesforce.emulator import RunningSalesforce, SalesforceEmulator, connect_client
from connectors.salesforce.org import Org


@pytest.fixture
def org() -> Org:
    return Org()


@pytest.fixture
def emulator(org: Org) -> SalesforceEmulator:
    return SalesforceEmulator(org)


@pytest.fixture
def running(emulator: SalesforceEmulator) -> Iterator[RunningSalesforce]:
    with emulator.serve() as served:
        yield served


@pytest.fixture
def sf(running: RunningSalesforce) -> Salesforce:
    """Logged in the way simple-salesforce does by default: SOAP login with a security token."""
    return connect_client(running)
