"""Associations v4 (and v3 ``associations=``) between contacts and companies, real client."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4.exceptions import NotFoundException
from hubspot.crm.contacts import SimplePublicObjectInputForCreate

from connectors.hubspot.emulator import HubSpotEmulator


@pytest.fixture
def pair(emulator: HubSpotEmulator) -> tuple[str, str, str]:
    contact = emulator.portal.create("contacts", {"email": "p@example.com"}).id
    company = emulator.portal.create("companies", {"name": "Acme"}).id
    other = emulator.portal.create("companies", {"name": "Other"}).id
    return contact, company, other


def _types(client: Any, from_type: str, object_id: str, to_type: str) -> dict[str, set[int]]:
    page = client.crm.associations.v4.basic_api.get_page(from_type, object_id, to_type)
    return {r.to_object_id: {t.type_id for t in r.association_types} for r in page.results}


def test_default_association_both_directions(client: Any, pair: tuple[str, str, str]) -> None:
    contact, company, _ = pair
    result = client.crm.associations.v4.basic_api.create_default(
        "contacts", contact, "companies", company
    )
    specs = {(r._from.id, r.to.id, r.association_spec.association_type_id) for r in result.results}
    assert specs == {(contact, company, 279), (company, contact, 280)}
    assert _types(client, "contacts", contact, "companies") == {company: {279}}
    assert _types(client, "companies", company, "contacts") == {contact: {280}}


def test_labelled_primary_and_one_primary_per_contact(
    client: Any, pair: tuple[str, str, str]
) -> None:
    contact, company, other = pair
    api = client.crm.associations.v4.basic_api
    primary = [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)]
    labels = api.create("contacts", contact, "companies", company, primary)
    assert labels is not None, "labelled create answers 201 LabelsBetweenObjectPair"
    assert (labels.from_object_type_id, labels.to_object_type_id, labels.labels) == (
        "0-1",
        "0-2",
        ["Primary"],
    )
    assert _types(client, "companies", company, "contacts") == {contact: {2, 280}}
    api.create("contacts", contact, "companies", other, primary)
    assert _types(client, "contacts", contact, "companies") == {company: {279}, other: {1, 279}}
    page = api.get_page("contacts", contact, "companies")
    labels_seen = {t.label for r in page.results for t in r.association_types}
    assert labels_seen == {"Primary", None}


def test_archive_pair_and_unknown_object(client: Any, pair: tuple[str, str, str]) -> None:
    contact, company, _ = pair
    api = client.crm.associations.v4.basic_api
    api.create_default("contacts", contact, "companies", company)
    assert api.archive("contacts", contact, "companies", company) is None
    assert _types(client, "companies", company, "contacts") == {}
    with pytest.raises(NotFoundException):
        api.create_default("contacts", contact, "companies", "987654321")


def test_batch_create_read_archive(
    emulator: HubSpotEmulator, client: Any, pair: tuple[str, str, str]
) -> None:
    contact, company, other = pair
    lonely = emulator.portal.create("contacts", {"email": "lonely@example.com"}).id
    batch = client.crm.associations.v4.batch_api
    created, status, _ = batch.create_with_http_info(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": contact},
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                },
                {
                    "from": {"id": contact},
                    "to": {"id": other},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                },
            ]
        ),
    )
    assert status == 201
    assert len(created.results) == 2
    read, status, _ = batch.get_page_with_http_info(
        "contacts",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": contact}, {"id": lonely}]),
    )
    assert status == 207
    assert {t.to_object_id for t in read.results[0].to} == {company, other}
    assert read.errors[0].context == {"fromObjectId": [lonely]}
    _, status, _ = batch.archive_with_http_info(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiArchive(
            inputs=[{"from": {"id": contact}, "to": [{"id": company}]}]
        ),
    )
    assert status == 204
    assert set(_types(client, "contacts", contact, "companies")) == {other}
    defaults = batch.create_default(
        "companies",
        "contacts",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[{"from": {"id": company}, "to": {"id": lonely}}]
        ),
    )
    assert {r.association_spec.association_type_id for r in defaults.results} == {279, 280}
    batch.archive_labels(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": contact},
                    "to": {"id": other},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                }
            ]
        ),
    )
    assert _types(client, "contacts", contact, "companies") == {other: {279}}


def test_create_with_inline_associations_and_v3_association_listing(
    client: Any, pair: tuple[str, str, str]
) -> None:
    _, company, _ = pair
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "inline@example.com"},
            associations=[
                {
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                }
            ],
        )
    )
    fetched = client.crm.contacts.basic_api.get_by_id(created.id, associations=["companies"])
    kinds = {(a.id, a.type) for a in fetched.associations["companies"].results}
    assert kinds == {(company, "contact_to_company"), (company, "contact_to_company_unlabeled")}
    page = client.crm.companies.basic_api.get_page(associations=["contacts"])
    listed = next(r for r in page.results if r.id == company)
    assert {a.id for a in listed.associations["contacts"].results} == {created.id}
