"""Entry point ``huitong.connectors: salesforce``: build a SalesforceConnector from configuration.

Nothing is sent to Salesforce here: the connector logs in on first use, so a hub starts even when
an org is unreachable (``check`` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SECRET_KEYS, SalesforceSettings
from hub.errors import ConfigError


def settings_from(
    options: Mapping[str, Any], secrets: Mapping[str, SecretStr]
) -> SalesforceSettings:
    """Options and secrets as typed settings; secrets are accepted only under ``secrets``."""
    in_options = sorted(key for key in options if key in SECRET_KEYS)
    if in_options:
        raise ConfigError(
            [f"options.{key}: a secret; put it under secrets (e.g. ${{SF_{key.upper()}}})"
             for key in in_options]
        )  # fmt: skip
    unknown = sorted(key for key in secrets if key not in SECRET_KEYS)
    if unknown:
        raise ConfigError(
            [f"secrets.{key}: not a Salesforce secret (known: {', '.join(SECRET_KEYS)})"
             for key in unknown]
        )  # fmt: skip
    try:
        return SalesforceSettings.model_validate({**dict(options), **dict(secrets)})
    except ValidationError as exc:
        raise ConfigError(
            [
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                for e in exc.errors(include_input=False)
            ]
        ) from None


def create(
    system: str, options: Mapping[str, Any], secrets: Mapping[str, SecretStr], base_dir: Path
) -> SalesforceConnector:
    return SalesforceConnector(system, settings_from(options, secrets))
