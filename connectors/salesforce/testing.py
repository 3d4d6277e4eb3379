"""A SalesforceConnector wired to a running emulator: for tests, benches, e2e scenarios and the demo.

The connector is built from settings exactly as the factory builds it; only its ``requests.Session``
is the emulator's routed one (``RunningSalesforce.session()``), so the real simple-salesforce goes
over a real TLS socket to the loopback server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.factory import settings_from
from connectors.salesforce.pacing import LocalBudget, Pacer

if TYPE_CHECKING:
    from connectors.salesforce.emulator import RunningSalesforce


def emulator_secrets(running: RunningSalesforce, auth: str) -> dict[str, SecretStr]:
    creds = running.org.credentials
    secrets = {
        "soap": {"password": creds.password, "security_token": creds.security_token},
        "password": {
            "password": creds.password,
            "security_token": creds.security_token,
            "consumer_key": creds.client_id,
            "consumer_secret": creds.client_secret,
        },
        "client_credentials": {
            "consumer_key": creds.client_id,
            "consumer_secret": creds.client_secret,
        },
    }[auth]
    return {key: SecretStr(value) for key, value in secrets.items()}


def connector_for(
    running: RunningSalesforce,
    system: str = "salesforce",
    *,
    auth: str = "client_credentials",
    secrets: dict[str, SecretStr] | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    **options: Any,
) -> SalesforceConnector:
    """A connector logged in (on first use) to ``running`` with the org's integration user.

    ``options`` override the system options (``retry_waits`` defaults to False here: tests do not
    wait out backoffs). Each connector gets its own pacer, so tests never share a budget.
    """
    base: dict[str, Any] = {"auth": auth, "retry_waits": False}
    if auth in ("soap", "password"):
        base["username"] = running.org.credentials.username
    if auth == "client_credentials":
        base["domain"] = running.my_domain
    settings = settings_from(
        {**base, **options}, secrets if secrets is not None else emulator_secrets(running, auth)
    )
    pacer = Pacer(LocalBudget(settings.daily_reserve), settings.max_concurrent_requests)
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return SalesforceConnector(
        system, settings, session=running.session(), pacer=pacer, sleep=sleep, **extra
    )
