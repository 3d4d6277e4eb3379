"""Fixtures for the CSV connector: a connector over a temporary folder and a reader that splits the
stream into records and rejections."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.csvfile import CsvConnector, CsvSettings
from hub.ports import Rejection, SourceRecord

MakeConnector = Callable[..., CsvConnector]
ReadAll = Callable[..., tuple[list[SourceRecord], list[Rejection]]]


@pytest.fixture
def make_connector(tmp_path: Path) -> MakeConnector:
    """``make_connector(contacts={...})`` builds a connector whose objects are the keyword args."""

    def make(directory: Path | None = None, **objects: dict[str, Any]) -> CsvConnector:
        settings = CsvSettings.model_validate(
            {"directory": directory or tmp_path, "objects": objects}
        )
        return CsvConnector("files", settings)

    return make


@pytest.fixture
def read_all() -> ReadAll:
    def read(
        connector: CsvConnector, obj: str = "contacts", since: str | None = None
    ) -> tuple[list[SourceRecord], list[Rejection]]:
        records: list[SourceRecord] = []
        rejections: list[Rejection] = []
        for item in connector.read(obj, since):
            if isinstance(item, Rejection):
                rejections.append(item)
            else:
                records.append(item)
        return records, rejections

    return read
