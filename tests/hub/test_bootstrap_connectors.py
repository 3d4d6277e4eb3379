"""The composition root loads only the connector kinds a configuration uses, and a connector, not
the engine, says whether its read may run in a worker process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from connectors.csvfile.connector import CsvConnector
from hub.bootstrap import installed_connector_kinds, open_hub
from hub.engine import reads_in_worker
from hub.errors import ConfigError
from tests.e2e.test_csv_sync import make_config

_PROBE = """
import json, sys
from pathlib import Path
from hub.bootstrap import open_hub
hub = open_hub(Path(sys.argv[1]))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("connectors."))))
hub.close()
"""


def test_a_csv_only_hub_imports_no_other_connector(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(config)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert any(m.startswith("connectors.csvfile") for m in loaded)
    assert not [m for m in loaded if m.startswith(("connectors.hubspot", "connectors.salesforce"))]


def test_every_installed_kind_is_listed_without_loading_it() -> None:
    assert {"csv", "hubspot", "salesforce"} <= set(installed_connector_kinds())


def test_an_unknown_kind_names_the_installed_ones(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("kind: csv", "kind: nosuch", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        open_hub(config)
    message = "; ".join(caught.value.problems)
    assert "unknown connector 'nosuch'" in message
    assert "csv" in message
    assert "hubspot" in message


class _Remote:
    kind: ClassVar[str] = "csv"  # the kind alone no longer decides


class _Declares:
    kind: ClassVar[str] = "somewhere"
    reads_in_worker: ClassVar[bool] = True


def test_reading_in_a_worker_is_the_connectors_declaration(tmp_path: Path) -> None:
    assert CsvConnector.reads_in_worker is True
    assert reads_in_worker(_Declares()) is True  # type: ignore[arg-type]
    assert reads_in_worker(_Remote()) is False  # type: ignore[arg-type]
