"""The sync engine and the dispatcher report to the Prometheus metrics the server exports."""

from __future__ import annotations

from pathlib import Path

from hub.bootstrap import open_hub
from hub.observability import Metrics

from ..e2e.test_two_way_csv import setup


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_reads_writes_and_lag_are_counted(tmp_path: Path, db_url: str) -> None:
    hub = open_hub(setup(tmp_path, db_url))
    hub.metrics = Metrics()
    hub.engine().sync()
    hub.dispatcher().dispatch()
    m = hub.metrics
    assert _value(m, "huitong_records_read_total", system="erp", object="contacts") == 4
    assert _value(m, "huitong_records_read_total", system="crm", object="contacts") == 2
    assert (
        _value(m, "huitong_records_written_total", system="crm", object="contacts", result="ok")
        == 4
    )
    assert _value(m, "huitong_sync_lag_seconds", system="crm") > 0
    body, content_type = m.render()
    assert b"huitong_records_written_total" in body
    assert content_type.startswith("text/plain")
    hub.close()


def test_runs_log_json_lines_with_their_run_id(tmp_path: Path, db_url: str) -> None:
    import io
    import json

    from hub.observability import configure_logging, reset_logging

    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        hub = open_hub(setup(tmp_path, db_url))
        summary = hub.engine().sync()
        hub.close()
    finally:
        reset_logging()
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    finished = [line for line in lines if line.get("event") == "run finished"]
    assert finished
    assert finished[0]["run_id"] == summary.run_id
    assert finished[0]["status"] == summary.status
