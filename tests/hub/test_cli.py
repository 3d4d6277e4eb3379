"""The CLI end to end (in-process through Typer's runner): commands, --json, exit codes, secrets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hub.cli import EXIT_AUDIT, EXIT_CONFIG, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_PARTIAL, app
from state.tables import audit_events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from test_csv_sync import make_config

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    return make_config(tmp_path, db_url)


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "huitong.yaml"
    code, _out = run("init", "-c", str(target))
    assert code == EXIT_OK
    assert target.exists()
    code, _ = run("init", "-c", str(target))
    assert code == EXIT_CONFIG
    code, _ = run("init", "-c", str(target), "--force")
    assert code == EXIT_OK


def test_check_reports_each_system(config: Path) -> None:
    code, out = run("check", "-c", str(config), "--json")
    assert code == EXIT_OK, out
    data = json.loads(out)
    assert {s["system"] for s in data["systems"]} == {"erp", "crm"}
    assert all(s["ok"] for s in data["systems"])


def test_check_fails_when_a_system_is_unreachable(config: Path, tmp_path: Path) -> None:
    (tmp_path / "crm" / "contacts.csv").unlink()
    code, out = run("check", "-c", str(config), "--json")
    assert code == EXIT_FAILED
    crm = next(s for s in json.loads(out)["systems"] if s["system"] == "crm")
    assert not crm["ok"]


def test_bad_config_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub:\n  batch_size: lots\n", encoding="utf-8")
    result = runner.invoke(app, ["sync", "-c", str(bad)])
    assert result.exit_code == EXIT_CONFIG
    assert "bad.yaml" in result.stderr
    assert "line 2" in result.stderr
    assert "hub.batch_size" in result.stderr


def test_sync_status_runs_and_run_details(config: Path) -> None:
    code, out = run("sync", "-c", str(config), "--json")
    assert code == EXIT_PARTIAL  # two rows rejected, everything else imported
    summary = json.loads(out)
    assert summary["counts"]["rejected"] == 2
    assert summary["golden_records"] == {"Company": 2, "Person": 5}

    code, out = run("status", "-c", str(config), "--json")
    assert code == EXIT_OK
    status = json.loads(out)
    assert status["golden_records"]["Person"] == 5
    assert status["last_run"]["id"] == summary["run_id"]

    code, out = run("runs", "-c", str(config), "--json")
    assert code == EXIT_OK
    assert json.loads(out)[0]["id"] == summary["run_id"]

    code, out = run("runs", "show", summary["run_id"], "-c", str(config), "--json")
    assert code == EXIT_OK
    errors = json.loads(out)["errors"]
    assert {"contacts.csv:5", "联系人.csv:5"} <= {
        e["location"] for e in errors if e["severity"] == "rejected"
    }

    code, _ = run("runs", "show", "run_nope", "-c", str(config))
    assert code == EXIT_NOT_FOUND

    code, out = run("sync", "-c", str(config), "--json")  # nothing changed since: nothing read
    assert code == EXIT_OK
    assert json.loads(out)["counts"].get("read", 0) == 0


def test_sync_unknown_system_is_a_usage_error(config: Path) -> None:
    code, _ = run("sync", "-c", str(config), "--system", "nope")
    assert code == EXIT_CONFIG


def test_audit_verify_detects_tampering(config: Path, db_url: str) -> None:
    run("sync", "-c", str(config))
    code, out = run("audit", "verify", "-c", str(config), "--json")
    assert code == EXIT_OK
    assert json.loads(out)["ok"]
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.update(audit_events).where(audit_events.c.seq == 2).values(detail="{}"))
    engine.dispose()
    code, out = run("audit", "verify", "-c", str(config), "--json")
    assert code == EXIT_AUDIT
    assert any("event 2" in p for p in json.loads(out)["problems"])


def test_explain_json_and_unknown_id(config: Path) -> None:
    run("sync", "-c", str(config))
    code, out = run("status", "-c", str(config), "--json")
    code, out = run("explain", "per_00000000000000000000000000", "-c", str(config))
    assert code == EXIT_NOT_FOUND
    from hub.bootstrap import open_store

    _, store = open_store(config)
    with store.transaction() as tx:
        cid = tx.linked_across_systems("Person", 1)[0]
    store.close()
    code, out = run("explain", cid, "title", "-c", str(config), "--json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert [f["field"] for f in data["fields"]] == ["title"]
    assert len(data["fields"][0]["candidates"]) == 2
    code, out = run("explain", cid, "-c", str(config))
    assert code == EXIT_OK
    assert "linked" in out


def test_demo_runs_from_nothing(tmp_path: Path) -> None:
    code, out = run("demo", "--dir", str(tmp_path / "d"), "--customers", "300")
    assert code == EXIT_OK, out
    assert "golden Person records" in out
    assert "re-importing the same files changes nothing" in out
    assert (tmp_path / "d" / "data" / "erp" / "客户.csv").read_bytes().decode("gbk")


SECRET = "s3cr3t-Pa55word-xyzzy"


def test_secrets_never_appear_in_output_errors_or_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    """A password in the database URL and a token in a system's secrets, both from the environment."""
    monkeypatch.setenv("HT_DB_PASSWORD", SECRET)
    monkeypatch.setenv("HT_TOKEN", SECRET)
    config = make_config(tmp_path, "placeholder")
    text = config.read_text(encoding="utf-8")
    # trust auth ignores the password, so the URL works and still carries the secret
    url = pg_url.replace("postgres@", "postgres:${HT_DB_PASSWORD}@").replace("+psycopg", "")
    text = text.replace("database_url: placeholder", f"database_url: {url}")
    config.write_text(text, encoding="utf-8")
    outputs = []
    for args in (
        ["sync", "--json"],
        ["status", "--json"],
        ["status"],
        ["runs"],
        ["check", "--json"],
        ["audit", "verify"],
    ):
        result = runner.invoke(app, [*args, "-c", str(config)])
        outputs.append(result.stdout + result.stderr)
    bad = config.read_text(encoding="utf-8").replace(
        "  crm:\n    kind: csv\n", '  crm:\n    kind: csv\n    secrets: {token: "${HT_TOKEN}"}\n'
    )
    config.write_text(bad, encoding="utf-8")
    result = runner.invoke(app, ["check", "-c", str(config)])
    assert result.exit_code == EXIT_CONFIG
    assert "takes no secrets" in result.stderr
    outputs.append(result.stdout + result.stderr)
    for text in outputs:
        assert SECRET not in text
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        details = " ".join(conn.execute(sa.select(audit_events.c.detail)).scalars())
    engine.dispose()
    assert details
    assert SECRET not in details


def test_export_writes_golden_records_through_the_reversed_mapping(
    config: Path, tmp_path: Path
) -> None:
    run("sync", "-c", str(config))
    code, out = run("export", "-s", "crm", "-o", "contacts", "-c", str(config))
    assert code == EXIT_OK, out
    assert "exported 5 Person golden records" in out
    import csv

    with (tmp_path / "crm" / "contacts.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    assert rows[0].keys() >= {"huitong_id", "First Name", "Last Name", "Email", "Mobile", "Title"}
    zhang = next(r for r in rows if r["Email"] == "zhang.wei@huawei.com")
    assert zhang["Mobile"] == "+8613800138000"
    assert zhang["Last Name"] == "张"
