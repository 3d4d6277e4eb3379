"""Logs: JSON lines for a collector, readable lines on a terminal; secrets masked in both."""

from __future__ import annotations

import io
import json
import os
import pty

import structlog

from hub.observability import configure_logging, reset_logging


def test_json_lines_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        structlog.get_logger("hub.engine").info("run finished", status="partial", api_token="t0p")
    finally:
        reset_logging()
    line = json.loads(stream.getvalue().strip())
    assert line["event"] == "run finished"
    assert line["status"] == "partial"
    assert "t0p" not in stream.getvalue()


def test_readable_lines_on_a_terminal_with_secrets_masked() -> None:
    controller, terminal = pty.openpty()
    with os.fdopen(terminal, "w") as stream:
        configure_logging("INFO", stream)
        try:
            structlog.get_logger("hub.engine").info("run finished", status="partial", password="s3")
            stream.flush()
        finally:
            reset_logging()
        shown = os.read(controller, 65536).decode()
    os.close(controller)
    assert "run finished" in shown
    assert "status" in shown
    assert "partial" in shown
    assert "s3" not in shown
    assert not shown.lstrip().startswith("{")  # not JSON
