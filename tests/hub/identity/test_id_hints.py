"""Cross-system id hints: a record that carries another system's id for the same customer (a HubSpot
contact with its Salesforce id) is linked to it, whichever of the two arrives first; the hint is
read through the mapping, validated in the configuration, and explained."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.apply import Applier
from hub.errors import ConfigError
from hub.explain import describe_link
from hub.golden import Survivorship
from hub.model import Candidate, EntityType
from hub.ports import RecordRef, SourceRecord
from hub.settings import Settings, SurvivorshipSettings, load_settings
from mappings.mapper import Mapper
from mappings.spec import MappingSpec
from mappings.transforms import salesforce_id18
from state.store import SqlStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NAMED = frozenset({("salesforce", "Contact")})


def _candidate(ref: str, values: dict[str, Any], same_as: tuple[str, ...] = ()) -> Candidate:
    system, obj, external_id = ref.split("/")
    return Candidate(
        RecordRef(system, obj, external_id), EntityType.PERSON, values, {}, T0,
        fingerprint=f"{external_id}-v1", same_as=[RecordRef(*s.split("/")) for s in same_as],
    )  # fmt: skip


def _apply(store: SqlStore, *candidates: Candidate) -> None:
    applier = Applier(Survivorship(SurvivorshipSettings(), []), "run", None, None, NAMED)
    with store.transaction() as tx:
        applier.apply(tx, list(candidates))


def _cids(store: SqlStore, *refs: str) -> list[str]:
    wanted = [RecordRef(*r.split("/")) for r in refs]
    with store.transaction() as tx:
        found = tx.xref_lookup(wanted)
    return [found[r] for r in wanted]


# Nothing deterministic in common: another script, another e-mail, no phone.
SALESFORCE = {"full_name": "Wei Zhang", "email": "wei.zhang@acme-industrial.com"}
HUBSPOT = {"full_name": "张伟", "email": "zw1988@qq.com"}
SF_ID = "003A0000006Vm9rIAC"


@pytest.mark.parametrize("order", ["named first", "carrier first"])
def test_a_record_carrying_another_systems_id_is_linked_to_it(store: SqlStore, order: str) -> None:
    named = _candidate(f"salesforce/Contact/{SF_ID}", SALESFORCE)
    carrier = _candidate("hubspot/contacts/501", HUBSPOT, (f"salesforce/Contact/{SF_ID}",))
    for c in [named, carrier] if order == "named first" else [carrier, named]:
        _apply(store, c)
    first, second = _cids(store, f"salesforce/Contact/{SF_ID}", "hubspot/contacts/501")
    assert first == second
    with store.transaction() as tx:
        links = {str(ref): reason for ref, _cid, reason in _xref_reasons(tx, first)}
    if order == "named first":
        assert links["hubspot/contacts/501"] == {
            "rule": "id_hint",
            "hint": f"salesforce/Contact/{SF_ID}",
        }
        assert describe_link(links["hubspot/contacts/501"]).startswith(
            "id hint: carries salesforce"
        )
    else:
        reason = links[f"salesforce/Contact/{SF_ID}"]
        assert reason["rule"] == "deterministic"
        assert reason["keys"] == [f"xid:salesforce/Contact/{SF_ID}"]


def _xref_reasons(tx: Any, cid: str) -> list[tuple[RecordRef, str, dict[str, Any]]]:
    import orjson

    rows = tx.conn.exec_driver_sql(
        "SELECT system, object, external_id, canonical_id, reason FROM xref WHERE canonical_id = "
        + ("%s" if tx.is_postgres else "?"),
        (cid,),
    ).all()
    return [(RecordRef(s, o, e), c, orjson.loads(r)) for s, o, e, c, r in rows]


def test_without_the_hint_the_two_stay_apart(store: SqlStore) -> None:
    _apply(store, _candidate(f"salesforce/Contact/{SF_ID}", SALESFORCE))
    _apply(store, _candidate("hubspot/contacts/501", HUBSPOT))
    first, second = _cids(store, f"salesforce/Contact/{SF_ID}", "hubspot/contacts/501")
    assert first != second


def test_salesforce_ids_are_compared_in_their_18_character_form() -> None:
    # Vectors: https://theblogreaders.com (0019000000B98de → …AAB) and the help article's 001A… id.
    assert salesforce_id18("0019000000B98de") == "0019000000B98deAAB"
    assert salesforce_id18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert salesforce_id18("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"
    assert salesforce_id18("not an id") == "not an id"


def test_the_mapper_reads_the_hint_column() -> None:
    spec = MappingSpec.model_validate(
        {"entity": "Person", "fields": {"full_name": "name", "email": "email"}}
    )
    mapper = Mapper(spec, same_as=[("sf_id", "salesforce", "Contact", "salesforce_id18")])
    record = SourceRecord("hubspot", "contacts", "501", {"name": "张伟", "email": "zw1988@qq.com",
                          "sf_id": " 001A0000006Vm9r "}, T0)  # fmt: skip
    candidate = mapper.to_candidate(record)
    assert isinstance(candidate, Candidate)
    assert candidate.same_as == [RecordRef("salesforce", "Contact", "001A0000006Vm9rIAC")]
    blank = SourceRecord("hubspot", "contacts", "502", {"name": "李娜", "sf_id": ""}, T0)
    assert mapper.to_candidate(blank).same_as == []  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown transform"):
        Mapper(spec, same_as=[("sf_id", "salesforce", "Contact", "base64")])


def test_a_hint_to_an_unknown_system_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "huitong.yaml"
    config.write_text(
        "systems:\n"
        "  hubspot:\n"
        "    kind: csv\n"
        "    options: {directory: in}\n"
        "    objects:\n"
        "      contacts:\n"
        "        mapping: builtin:csv/contacts\n"
        "        same_as:\n"
        "          - {field: sf_id, system: salesforce, object: Contact}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="no system 'salesforce' is configured"):
        load_settings(config)
    assert Settings().named_by_others() == frozenset()
