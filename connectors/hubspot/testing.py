"""A HubSpotConnector wired to a serving emulator: for tests, benches, e2e scenarios and the demo.

The connector is built by the factory from options and the ``token`` secret, exactly as bootstrap
builds it, with ``base_url`` the emulator's loopback URL, so the real hubspot-api-client goes over a
real socket. Test-friendly defaults, each overridable: no retry waits, no index lag, owners not
resolved (the emulator has no owners API).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator_portal import DEFAULT_TOKEN
from connectors.hubspot.factory import create

if TYPE_CHECKING:
    from connectors.hubspot.emulator import HubSpotEmulator

TEST_DEFAULTS: dict[str, Any] = {
    "retry_waits": False,
    "index_lag_seconds": 0,
    "resolve_owners": False,
}


def connector_for(
    emulator: HubSpotEmulator,
    system: str = "hubspot",
    *,
    token: str = DEFAULT_TOKEN,
    clock: Callable[[], float] | None = None,
    **options: Any,
) -> HubSpotConnector:
    if emulator.url is None:
        raise RuntimeError("the emulator is not serving: use `with emulator.serve():`")
    built = create(
        system,
        {**TEST_DEFAULTS, "base_url": emulator.url, **options},
        {"token": SecretStr(token)},
        Path("."),
    )
    if clock is None:
        return built
    return HubSpotConnector(system, built.settings, clock=clock)
