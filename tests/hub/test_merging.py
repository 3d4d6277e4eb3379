"""Merge → unmerge restores the exact prior state; redirects; cannot-link; rebuild as of a past time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.bootstrap import Hub, open_hub
from hub.cli import EXIT_CONFIG, EXIT_OK, app
from hub.golden import Survivorship
from hub.identity.merging import Identity, IdentityError

from ..e2e.test_csv_sync import make_config


def state_of(hub: Hub, *ids: str) -> dict[str, Any]:
    """Everything a merge may touch: golden values with provenance, pinned values, links, keys."""
    with hub.store.transaction() as tx:
        goldens = tx.goldens(ids)
        sources = tx.sources_of(ids)
        return {
            cid: {
                "fields": {k: v.to_json() for k, v in goldens[cid].fields.items()},
                "pinned": goldens[cid].pinned,
                "redirect": goldens[cid].redirect_to,
                "xref": sorted(str(r) for r, _, _ in tx.xref_of(cid)),
                "sources": sorted(str(s.ref) for s in sources.get(cid, [])),
                "keys": sorted(tx.conn.exec_driver_sql(
                    "SELECT key FROM match_keys WHERE canonical_id = " + ("%s" if tx.is_postgres else "?"), (cid,)
                ).scalars()),
            }
            for cid in ids
        }  # fmt: skip


@pytest.fixture
def hub(tmp_path: Path, db_url: str):
    h = open_hub(make_config(tmp_path, db_url))
    h.engine().sync()
    yield h
    h.close()


def ids_of(hub: Hub, *refs: str) -> list[str]:
    from hub.ports import RecordRef

    with hub.store.transaction() as tx:
        found = tx.xref_lookup([RecordRef(*r.split("/")) for r in refs])
    return [found[RecordRef(*r.split("/"))] for r in refs]


def identity(hub: Hub) -> Identity:
    return Identity(Survivorship(hub.settings.survivorship, hub.settings.system_priority()))


def test_merge_then_unmerge_restores_the_exact_prior_state(hub: Hub) -> None:
    a, b = ids_of(hub, "erp/contacts/L3", "crm/contacts/003C")  # 王芳 and Emma Smith: two people
    before = state_of(hub, a, b)
    with hub.store.transaction() as tx:
        identity(hub).merge(tx, a, b, "tester")
    merged = state_of(hub, a, b)
    assert merged[b]["redirect"] == a
    assert merged[a]["sources"] == sorted(before[a]["sources"] + before[b]["sources"])
    assert merged[a]["fields"]["email"][0] == "emma@acme.com"
    with hub.store.transaction() as tx:
        assert tx.resolve(b) == a
        split = identity(hub).unmerge(tx, a, "crm/contacts/003C", "tester")
    assert split == b  # the merged-away record comes back as itself
    assert state_of(hub, a, b) == before
    assert hub.store.verify_audit().ok


def test_unmerge_of_a_matched_record_splits_it_off_and_keeps_them_apart(hub: Hub) -> None:
    (person,) = ids_of(hub, "erp/contacts/L1")  # 张伟 (ERP) and Wei Zhang (CRM), linked by keys
    with hub.store.transaction() as tx:
        other = identity(hub).unmerge(tx, person, "crm/contacts/003A", "tester")
    after = state_of(hub, person, other)
    assert after[person]["sources"] == ["erp/contacts/L1"]
    assert after[other]["sources"] == ["crm/contacts/003A"]
    assert after[other]["fields"]["first_name"][0] == "Wei"
    with hub.store.transaction() as tx, pytest.raises(IdentityError, match="cannot-link"):
        identity(hub).merge(tx, person, other, "tester")


def test_merge_refuses_different_entity_types_and_unknown_ids(hub: Hub) -> None:
    person, company = ids_of(hub, "erp/contacts/L1", "erp/customers/C1")
    with hub.store.transaction() as tx, pytest.raises(IdentityError, match="Company"):
        identity(hub).merge(tx, person, company, "tester")
    with hub.store.transaction() as tx, pytest.raises(IdentityError, match="no golden record"):
        identity(hub).merge(tx, person, "per_00000000000000000000000000", "tester")


def test_golden_record_rebuilt_as_of_a_past_time(hub: Hub, tmp_path: Path) -> None:
    from hub.identity.merging import as_of

    (cid,) = ids_of(hub, "crm/contacts/003C")
    time.sleep(0.05)
    moment = datetime.now(UTC)
    time.sleep(0.05)
    crm = tmp_path / "crm" / "contacts.csv"
    crm.write_bytes(crm.read_bytes().replace(b"Buyer,2026-01-03", b"Head Buyer,2026-01-05"))
    hub.engine().sync()
    with hub.store.transaction() as tx:
        now = tx.goldens([cid])[cid]
        then = as_of(tx, cid, moment)
        current = as_of(tx, cid, datetime.now(UTC))
    assert now.fields["title"].value == "Head Buyer"
    assert then["title"].value == "Buyer"
    assert {k: v.value for k, v in current.items()} == now.values()


def test_cli_merge_unmerge_and_explain_follow_redirects(tmp_path: Path, db_url: str) -> None:
    config = make_config(tmp_path, db_url)
    runner = CliRunner()
    runner.invoke(app, ["sync", "-c", str(config)])
    hub = open_hub(config)
    a, b = ids_of(hub, "erp/contacts/L3", "crm/contacts/003C")
    hub.close()
    result = runner.invoke(
        app, ["merge", a, b, "-c", str(config), "--reason", "same person, checked by phone"]
    )
    assert result.exit_code == EXIT_OK, result.stdout + result.stderr
    shown = json.loads(runner.invoke(app, ["explain", b, "-c", str(config), "--json"]).stdout)
    assert shown["canonical_id"] == a
    assert shown["requested_id"] == b
    again = runner.invoke(app, ["merge", a, b, "-c", str(config)])
    assert again.exit_code == EXIT_CONFIG
    result = runner.invoke(app, ["unmerge", a, "crm/contacts/003C", "-c", str(config)])
    assert result.exit_code == EXIT_OK, result.stdout + result.stderr
    shown = json.loads(runner.invoke(app, ["explain", b, "-c", str(config), "--json"]).stdout)
    assert shown["canonical_id"] == b
