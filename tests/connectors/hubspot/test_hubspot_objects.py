"""Objects via the real hubspot-api-client: create/get/update/archive, list paging, properties."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyCreate
from hubspot.crm.contacts import ApiException, SimplePublicObjectInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.contacts.exceptions import NotFoundException

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_portal import DEFAULT_TOKEN


def _create(client: Any, **props: str) -> Any:
    return client.crm.contacts.basic_api.create(ContactCreate(properties=props, associations=[]))


def test_create_returns_201_shape_and_get_by_id_email_and_unique_property(client: Any) -> None:
    created = _create(client, email="Ada@Example.com", firstname="Ada", huitong_id="hx-1")
    assert created is not None, "a 201 is what the client deserialises; anything else gives None"
    assert created.id.isdigit()
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["email"] == "ada@example.com"
    assert isinstance(created.created_at, datetime)
    assert created.archived is False

    by_id = client.crm.contacts.basic_api.get_by_id(created.id, properties=["firstname", "email"])
    by_email = client.crm.contacts.basic_api.get_by_id("ada@example.com", id_property="email")
    by_key = client.crm.contacts.basic_api.get_by_id("hx-1", id_property="huitong_id")
    assert by_id.id == by_email.id == by_key.id == created.id
    assert by_id.properties["firstname"] == "Ada"
    # The object's default properties come back when none are asked for (apis.md §2.2).
    assert set(by_email.properties) >= {"email", "firstname", "createdate", "lastmodifieddate"}


def test_update_moves_modified_dates_and_empty_string_clears(
    emulator: HubSpotEmulator, client: Any
) -> None:
    ticks = iter(range(1_700_000_000_000, 1_800_000_000_000, 1000))
    emulator.portal.clock = lambda: next(ticks)
    created = _create(client, email="b@example.com", firstname="Bo", jobtitle="CTO")
    updated = client.crm.contacts.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"firstname": "Bob", "jobtitle": ""})
    )
    assert updated.properties["firstname"] == "Bob"
    assert "jobtitle" not in updated.properties
    assert updated.updated_at > created.updated_at
    assert updated.properties["lastmodifieddate"] > created.properties["lastmodifieddate"]
    assert updated.properties["hs_lastmodifieddate"] == updated.properties["lastmodifieddate"]
    # A write that changes nothing leaves the modification time alone.
    again = client.crm.contacts.basic_api.update(
        "b@example.com",
        SimplePublicObjectInput(properties={"firstname": "Bob"}),
        id_property="email",
    )
    assert again.updated_at == updated.updated_at


def test_archive_is_204_then_404_unless_archived_is_asked(client: Any) -> None:
    created = _create(client, email="c@example.com")
    assert client.crm.contacts.basic_api.archive(created.id) is None
    with pytest.raises(NotFoundException) as caught:
        client.crm.contacts.basic_api.get_by_id(created.id)
    assert caught.value.status == 404
    assert '"category":"OBJECT_NOT_FOUND"' in caught.value.body
    archived = client.crm.contacts.basic_api.get_by_id(created.id, archived=True)
    assert archived.archived is True
    assert archived.archived_at is not None
    # The email is free again once the old record is archived.
    assert _create(client, email="c@example.com").id != created.id


def test_list_pages_with_after_cursor_and_link(emulator: HubSpotEmulator, client: Any) -> None:
    ids = [emulator.portal.create("contacts", {"email": f"p{i}@example.com"}).id for i in range(25)]
    seen, after, pages = [], None, 0
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=10, after=after, properties=["email"])
        pages += 1
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
        assert page.paging.next.link.startswith(emulator.url)
        assert f"after={after}" in page.paging.next.link
    assert pages == 3
    assert seen == ids
    # The next link is a working URL for the same query.
    first = client.crm.contacts.basic_api.get_page(limit=10)
    linked = httpx.get(first.paging.next.link, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    assert [r["id"] for r in linked.json()["results"]] == ids[10:20]
    # The client's get_all walks the same cursor.
    assert [c.id for c in client.crm.contacts.get_all()] == ids


def test_list_limit_is_capped_at_100_and_archived_lists_only_archived(
    emulator: HubSpotEmulator, client: Any
) -> None:
    for i in range(120):
        emulator.portal.create("contacts", {"email": f"x{i}@example.com"})
    page = client.crm.contacts.basic_api.get_page(limit=500)
    assert len(page.results) == 100
    assert page.paging is not None
    gone = page.results[0].id
    client.crm.contacts.basic_api.archive(gone)
    archived = client.crm.contacts.basic_api.get_page(archived=True)
    assert [r.id for r in archived.results] == [gone]


def test_properties_query_accepts_repeated_and_comma_forms(emulator: HubSpotEmulator) -> None:
    created = emulator.portal.create(
        "contacts", {"email": "q@example.com", "phone": "+86 10 1234", "city": "Beijing"}
    )
    url = f"{emulator.url}/crm/v3/objects/contacts/{created.id}"
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    repeated = httpx.get(
        url, params=[("properties", "phone"), ("properties", "city")], headers=auth
    )
    comma = httpx.get(url, params={"properties": "phone,city"}, headers=auth)
    assert repeated.json()["properties"] == comma.json()["properties"]
    assert {"phone", "city"} <= set(comma.json()["properties"])
    assert "email" not in comma.json()["properties"]


def test_companies_crud_and_default_properties(client: Any) -> None:
    created = client.crm.companies.basic_api.create(
        CompanyCreate(
            properties={"name": "Acme", "domain": "acme.cn", "huitong_id": "co-1"}, associations=[]
        )
    )
    fetched = client.crm.companies.basic_api.get_by_id("co-1", id_property="huitong_id")
    assert fetched.id == created.id
    assert set(fetched.properties) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }
    assert "lastmodifieddate" not in created.properties  # companies only carry hs_lastmodifieddate


def test_unique_custom_property_conflicts_like_email(client: Any) -> None:
    first = _create(client, email="u1@example.com", huitong_id="same")
    with pytest.raises(ApiException) as caught:
        _create(client, email="u2@example.com", huitong_id="same")
    assert caught.value.status == 409
    assert f"Existing ID: {first.id}" in caught.value.body


def test_properties_endpoint_lists_schema_with_unique_custom_property(client: Any) -> None:
    contacts = {p.name: p for p in client.crm.properties.core_api.get_all("contacts").results}
    for name in (
        "email",
        "firstname",
        "lastname",
        "phone",
        "mobilephone",
        "company",
        "jobtitle",
        "hubspot_owner_id",
        "lifecyclestage",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
        "hs_lastmodifieddate",
        "huitong_id",
    ):
        assert name in contacts, name
    assert contacts["huitong_id"].has_unique_value is True
    assert contacts["email"].has_unique_value is True
    assert contacts["hs_object_id"].modification_metadata.read_only_value is True
    companies = {p.name for p in client.crm.properties.core_api.get_all("companies").results}
    assert {
        "name",
        "domain",
        "phone",
        "city",
        "country",
        "industry",
        "hs_lastmodifieddate",
        "huitong_id",
    } <= companies
    one = client.crm.properties.core_api.get_by_name("companies", "huitong_id")
    assert one.has_unique_value is True
    assert one.type == "string"
