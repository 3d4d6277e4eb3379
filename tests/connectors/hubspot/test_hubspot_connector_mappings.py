"""The default mappings (builtin:hubspot/contacts and builtin:hubspot/companies) over records the
connector really reads, and back: what the hub writes is what the connector understands."""

from __future__ import annotations

from pathlib import Path

from connectors.hubspot import testing
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator import HubSpotEmulator
from hub.model import Candidate
from hub.ports import RecordRef, SourceRecord, Write, WriteOp
from mappings.mapper import Mapper
from mappings.spec import load_spec


def mapper(name: str) -> Mapper:
    return Mapper(load_spec(f"builtin:hubspot/{name}", Path("."), {}), {}, "CN", "Asia/Shanghai")


def connector_for(emulator: HubSpotEmulator) -> HubSpotConnector:
    return testing.connector_for(emulator, "hubspot")


def read_one(connector: HubSpotConnector, obj: str) -> SourceRecord:
    [record] = [r for r in connector.read(obj, None) if isinstance(r, SourceRecord)]
    return record


def test_a_contact_maps_to_a_person_linked_to_its_company(emulator: HubSpotEmulator) -> None:
    portal = emulator.portal
    company = portal.create("companies", {"name": "华为技术有限公司", "domain": "huawei.com"})
    contact = portal.create(
        "contacts",
        {
            "email": "Li.Wei@Huawei.com",
            "firstname": "伟",
            "lastname": "李",
            "mobilephone": "138 0013 8000",
            "jobtitle": "采购经理",
            "city": "深圳",
            "country": "China",
        },
    )
    portal.associate("contacts", contact.id, "companies", company.id, [1])
    record = read_one(connector_for(emulator), "contacts")
    person = mapper("contacts").to_candidate(record)
    assert isinstance(person, Candidate)
    assert person.values["email"] == "li.wei@huawei.com"
    assert person.values["mobile"] == "+8613800138000"
    assert person.values["title"] == "采购经理"
    assert person.values["country"] == "CN"
    assert person.refs["company_id"] == RecordRef("hubspot", "companies", company.id)
    assert person.modified_at == record.modified_at


def test_a_company_maps_and_its_industry_is_never_written(emulator: HubSpotEmulator) -> None:
    emulator.portal.create(
        "companies",
        {"name": "Acme Ltd", "domain": "www.acme.co.uk", "industry": "COMPUTER_SOFTWARE"},
    )
    company_map = mapper("companies")
    candidate = company_map.to_candidate(read_one(connector_for(emulator), "companies"))
    assert isinstance(candidate, Candidate)
    assert candidate.values["domain"] == "acme.co.uk"
    assert candidate.values["industry"] == "COMPUTER_SOFTWARE"
    written = company_map.to_system({**candidate.values, "industry": "软件"})
    assert "industry" not in written
    assert written["name"] == "Acme Ltd"


def test_what_the_contact_mapping_writes_the_connector_writes(emulator: HubSpotEmulator) -> None:
    connector = connector_for(emulator)
    [company] = connector.write(
        "companies",
        [Write(WriteOp.UPSERT, "companies", "cmp_" + "1" * 26, {"name": "Acme"})],
    )
    golden = {
        "first_name": "Min",
        "last_name": "Zhang",
        "email": "zhang.min@acme.com",
        "mobile": "+8613900139000",
        "company_id": "cmp_" + "1" * 26,
        "owner_email": "boss@acme.com",
    }
    fields = mapper("contacts").to_system(
        golden, lambda obj, canonical: company.external_id if obj == "companies" else None
    )
    assert fields["associatedcompanyid"] == company.external_id
    [result] = connector.write(
        "contacts", [Write(WriteOp.UPSERT, "contacts", "per_" + "2" * 26, fields)]
    )
    assert result.ok, result.error
    stored = emulator.portal.get("contacts", result.external_id or "")
    assert stored.properties["mobilephone"] == "+8613900139000"
    assert stored.properties["email"] == "zhang.min@acme.com"
    links = emulator.portal.associations_of("contacts", stored.id, "companies")
    assert [to_id for to_id, _ in links] == [company.external_id]
