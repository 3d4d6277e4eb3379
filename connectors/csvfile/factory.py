"""Entry point ``huitong.connectors: csv``: build a CsvConnector from a system's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from connectors.csvfile.connector import CsvConnector
from connectors.csvfile.settings import CsvSettings
from hub.errors import ConfigError


def create(
    system: str, options: Mapping[str, Any], secrets: Mapping[str, SecretStr], base_dir: Path
) -> CsvConnector:
    if secrets:
        raise ConfigError(f"a csv system takes no secrets (got {', '.join(sorted(secrets))})")
    try:
        settings = CsvSettings.model_validate(dict(options))
    except ValidationError as exc:
        raise ConfigError(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from None
    if not settings.directory.is_absolute():
        settings = settings.model_copy(
            update={"directory": (base_dir / settings.directory).resolve()}
        )
    return CsvConnector(system, settings)
