"""Entry point ``huitong.connectors: hubspot``: build a HubSpotConnector from a system's configuration.

The private-app token is the system's secret ``token``; everything else comes from ``options``
(``HubSpotSettings``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.settings import HubSpotSettings
from hub.errors import ConfigError


def create(
    system: str, options: Mapping[str, Any], secrets: Mapping[str, SecretStr], base_dir: Path
) -> HubSpotConnector:
    unknown = sorted(set(secrets) - {"token"})
    if unknown:
        raise ConfigError(f"a hubspot system takes one secret, 'token' (got {', '.join(unknown)})")
    if "token" not in secrets:
        raise ConfigError(
            "secrets.token: the private-app access token is required "
            "(for example token: ${HUBSPOT_TOKEN})"
        )
    if "token" in options:
        raise ConfigError("options.token: put the token under secrets, never under options")
    try:
        settings = HubSpotSettings.model_validate({**dict(options), "token": secrets["token"]})
    except ValidationError as exc:
        # input values are left out of the messages: they could hold the token
        raise ConfigError(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from None
    return HubSpotConnector(system, settings)
