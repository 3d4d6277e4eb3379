"""`huitong dedupe` and `huitong review` through the CLI, on SQLite and PostgreSQL, over the demo's two
messy exports: the batch pass reports before it merges, `--apply` merges (undoably) and queues the
uncertain pairs, a person links or rejects them, and every step is audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub import demo
from hub.bootstrap import open_hub
from hub.cli import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_OK, app
from hub.identity import probabilistic
from hub.model import EntityType


@pytest.fixture
def demo_config(tmp_path: Path, db_url: str) -> Path:
    config = demo.prepare(tmp_path / "demo", customers=2000)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("sqlite:///huitong.db", db_url), encoding="utf-8")
    hub = open_hub(config)
    hub.engine().sync()
    hub.close()
    return config


def _json(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.stdout)


def _golden_count(config: Path) -> int:
    hub = open_hub(config)
    with hub.store.transaction() as tx:
        count = sum(tx.count_goldens().values())
    hub.close()
    return count


def test_dedupe_reports_then_merges_and_queues_reviews(demo_config: Path) -> None:
    runner = CliRunner()
    c = str(demo_config)
    before = _golden_count(demo_config)
    dry = _json(runner, "dedupe", "-c", c, "-e", "person", "--workers", "1")
    (person,) = dry["entities"]
    assert person["entity"] == "Person"
    assert person["applied"] is False
    assert person["merged"] == 0
    assert person["index_keys"] > person["records"]  # every record is in the blocking index
    assert _golden_count(demo_config) == before  # a dry run merges nothing
    assert _json(runner, "review", "list", "-c", c)["reviews"] == []

    applied = _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    (person,) = applied["entities"]
    assert person["merged"] == person["golden_records_joined"] - person["groups"]
    assert _golden_count(demo_config) == before - person["merged"]
    assert _json(runner, "runs", "-c", c)[0]["kind"] == "dedupe"
    queued = _json(runner, "review", "list", "-c", c, "--limit", "500")["reviews"]
    assert len(queued) == person["reviews_queued"]
    assert all(r["probability"] >= 0.5 for r in queued)  # the default review threshold
    assert runner.invoke(app, ["audit", "verify", "-c", c]).exit_code == EXIT_OK


def test_a_person_links_or_rejects_what_the_matcher_could_not_decide(demo_config: Path) -> None:
    runner = CliRunner()
    c = str(demo_config)
    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    queued = _json(runner, "review", "list", "-c", c)["reviews"]
    assert len(queued) >= 2, "the demo data holds uncertain pairs"
    first, second = queued[0], queued[1]

    shown = _json(runner, "review", "show", str(first["id"]), "-c", c)
    assert shown["a"] == first["a"]
    assert shown["comparisons"]["name"]["level"] != ""
    assert shown["a_source_values"]
    assert shown["b_source_values"]
    table = runner.invoke(app, ["review", "show", str(first["id"]), "-c", c])
    assert table.exit_code == EXIT_OK
    assert "huitong review link" in table.stdout

    linked = runner.invoke(app, ["review", "link", str(first["id"]), "-c", c, "--note", "same"])
    assert linked.exit_code == EXIT_OK, linked.output
    survivor = linked.stdout.split("linked into ")[1].split()[0]
    explained = _json(runner, "explain", first["a"], "-c", c)
    assert explained["canonical_id"] == survivor  # the merged-away id redirects

    rejected = runner.invoke(app, ["review", "reject", str(second["id"]), "-c", c])
    assert rejected.exit_code == EXIT_OK, rejected.output
    again = runner.invoke(app, ["review", "link", str(second["id"]), "-c", c])
    assert again.exit_code == EXIT_CONFIG
    assert "settled already" in again.output
    merge = runner.invoke(app, ["merge", second["a"], second["b"], "-c", c])
    assert merge.exit_code == EXIT_CONFIG
    assert "cannot-link" in merge.output

    # The batch pass honours the decision: run again, the rejected pair stays apart.
    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    hub = open_hub(demo_config)
    with hub.store.transaction() as tx:
        assert tx.resolve(second["a"]) != tx.resolve(second["b"])
        events = [e["event"] for e in tx.history(second["a"])]
    hub.close()
    assert "review.rejected" in events
    statuses = {r["id"]: r["status"] for r in _json(runner, "review", "list", "-c", c, "--status", "all", "--limit", "1000")["reviews"]}  # fmt: skip
    assert statuses[first["id"]] == "linked"
    assert statuses[second["id"]] == "rejected"
    assert runner.invoke(app, ["review", "show", "999999", "-c", c]).exit_code == EXIT_NOT_FOUND
    assert runner.invoke(app, ["audit", "verify", "-c", c]).exit_code == EXIT_OK


def test_a_linked_review_is_undone_by_unmerge(demo_config: Path) -> None:
    runner = CliRunner()
    c = str(demo_config)
    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    (first, *_) = _json(runner, "review", "list", "-c", c)["reviews"]
    before_a = _json(runner, "explain", first["a"], "-c", c)
    before_b = _json(runner, "explain", first["b"], "-c", c)
    linked = runner.invoke(app, ["review", "link", str(first["id"]), "-c", c])
    survivor = linked.stdout.split("linked into ")[1].split()[0]
    merged_away = first["b"] if survivor == first["a"] else first["a"]
    source = first["b_source"] if merged_away == first["b"] else first["a_source"]
    undone = runner.invoke(app, ["unmerge", survivor, source, "-c", c])
    assert undone.exit_code == EXIT_OK, undone.output
    assert _json(runner, "explain", first["a"], "-c", c)["fields"] == before_a["fields"]
    assert _json(runner, "explain", first["b"], "-c", c)["fields"] == before_b["fields"]


def test_unknown_entity_and_thresholds_the_wrong_way_round(demo_config: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["dedupe", "-c", str(demo_config), "-e", "deal"])
    assert result.exit_code == EXIT_CONFIG
    assert "person, company or employee" in result.output or "one of" in result.output
    text = demo_config.read_text(encoding="utf-8")
    demo_config.write_text(
        text + "\nmatch:\n  link_threshold: 0.6\n  review_threshold: 0.8\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["dedupe", "-c", str(demo_config)])
    assert result.exit_code == EXIT_CONFIG
    assert "review threshold 0.8 is above the link threshold 0.6" in result.output


def test_status_says_how_records_are_matched(
    demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    c = str(demo_config)
    before = _json(runner, "status", "-c", c)
    assert before["matching"] == {}
    assert "deterministic keys only" in runner.invoke(app, ["status", "-c", c]).stdout
    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    after = _json(runner, "status", "-c", c)
    assert list(after["matching"]) == ["Person"]
    assert after["matching"]["Person"]["trained_on_records"] > 1000
    assert after["matching"]["Person"]["current"] is True
    assert after["reviews_open"] > 0
    # An upgrade whose comparators sort pairs differently (or other comparisons configured): the
    # stored model is not used, and status says so rather than "scored".
    monkeypatch.setattr(probabilistic, "COMPARATORS_VERSION", probabilistic.COMPARATORS_VERSION + 1)
    changed = _json(runner, "status", "-c", c)
    assert changed["matching"]["Person"]["current"] is False
    shown = runner.invoke(app, ["status", "-c", c]).stdout
    assert "matching Person: deterministic keys only" in shown


def test_after_dedupe_a_sync_scores_what_no_key_links(demo_config: Path) -> None:
    """The engine's incremental path uses the trained model: a new CRM row for a known person, its
    mobile mistyped (two digits swapped) and no e-mail, shares no key with anyone, yet is linked."""
    import csv
    import unicodedata

    runner = CliRunner()
    c = str(demo_config)
    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    contacts = demo_config.parent / "data" / "crm" / "contacts.csv"
    with contacts.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    known = next(r for r in rows if r["Mobile"].strip() and r["City"].strip() and r["Account Name"])
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", known["Mobile"]) if ch.isdigit())
    swapped = digits[:-2] + digits[-1] + digits[-2]
    assert swapped != digits
    row = {**known, "Contact ID": "003P77777", "Email": "", "Phone": "", "Mobile": swapped,
           "Last Modified": "2026-11-20 10:00:00"}  # fmt: skip
    with contacts.open("a", encoding="utf-8", newline="") as handle:
        handle.write("\n" if not contacts.read_text(encoding="utf-8").endswith("\n") else "")
        csv.DictWriter(handle, fieldnames=list(known)).writerow(row)
    result = runner.invoke(app, ["sync", "-c", c, "--json"])
    assert result.exit_code in (EXIT_OK, 1), result.output
    hub = open_hub(demo_config)
    with hub.store.transaction() as tx:
        from hub.ports import RecordRef

        new, old = (
            RecordRef("crm", "contacts", "003P77777"),
            RecordRef("crm", "contacts", known["Contact ID"]),
        )
        found = tx.xref_lookup([new, old])
        reason = next(r for ref, _cid, r in _reasons(tx, found[new]) if ref == str(new))
    hub.close()
    assert found[new] == found[old]
    assert reason["rule"] == "probabilistic"
    assert reason["levels"]["mobile"] != "different"


def _reasons(tx: Any, cid: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = tx.conn.exec_driver_sql(
        "SELECT system, object, external_id, canonical_id, reason FROM xref WHERE canonical_id = "
        + ("%s" if tx.is_postgres else "?"),
        (cid,),
    ).all()
    return [(f"{s}/{o}/{e}", c, json.loads(r)) for s, o, e, c, r in rows]


def test_a_rejection_holds_after_either_record_is_merged_into_another(demo_config: Path) -> None:
    """A person told A and B apart; A is later merged into X. X now holds A's records: X and B stay
    apart, for a merge by hand and for the batch pass, which does not ask about the pair again."""
    runner = CliRunner()
    c = str(demo_config)
    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    queued = _json(runner, "review", "list", "-c", c, "--limit", "500")["reviews"]
    rejected = queued[0]
    assert runner.invoke(app, ["review", "reject", str(rejected["id"]), "-c", c]).exit_code == 0
    a, b = rejected["a"], rejected["b"]
    hub = open_hub(demo_config)
    with hub.store.transaction() as tx:
        named = {r["a"] for r in queued} | {r["b"] for r in queued}
        x = next(
            g.canonical_id
            for g in tx.iter_goldens(EntityType.PERSON)
            if g.canonical_id not in named
        )
    hub.close()
    merged = runner.invoke(app, ["merge", x, a, "-c", c, "--reason", "same person"])
    assert merged.exit_code == EXIT_OK, merged.output

    refused = runner.invoke(app, ["merge", x, b, "-c", c])
    assert refused.exit_code == EXIT_CONFIG
    assert "cannot-link" in refused.output
    refused = runner.invoke(app, ["merge", b, x, "-c", c])
    assert refused.exit_code == EXIT_CONFIG

    _json(runner, "dedupe", "-c", c, "-e", "person", "--apply", "--workers", "1")
    hub = open_hub(demo_config)
    with hub.store.transaction() as tx:
        assert tx.resolve(x) != tx.resolve(b)
        asked = [
            r
            for r in tx.reviews(status=None, limit=100_000)
            if {tx.resolve(r.a), tx.resolve(r.b)} == {tx.resolve(x), tx.resolve(b)}
        ]
    hub.close()
    assert [r.id for r in asked] == [rejected["id"]]  # the rejected one, not a new one
