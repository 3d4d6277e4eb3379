# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""Upsert and read by external id: ``/sobjects/{Obj}/{ExtIdField}/{value}``."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from connectors.salesforce.emulator import RunningSalesforce, connect_client
from connectors.salesforce.org import Org


def error_of(caught: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single REST error ``[{"message", "errorCode", "fields"?}]`` a failed call carried."""
    content: Any = caught.value.content
    assert isinstance(content, list), content
    assert len(content) == 1
    return dict(content[0])


def test_upsert_creates_201_then_updates_200_on_api_59(sf: Salesforce, org: Org) -> None:
    accounts = sf.Account

    created = accounts.upsert("Huitong_Id__c/HT-1", {"Name": "Acme"}, raw_response=True)
    updated = accounts.upsert("Huitong_Id__c/HT-1", {"Name": "Acme Ltd"}, raw_response=True)

    assert created.status_code == 201
    assert created.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": True,
    }
    assert updated.status_code == 200
    assert updated.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    rows = org.records("Account")
    assert [(r["Name"], r["Huitong_Id__c"]) for r in rows] == [("Acme Ltd", "HT-1")]


def test_upsert_update_answers_204_before_api_46(running: RunningSalesforce) -> None:
    sf = connect_client(running, version="45.0")

    assert sf.Contact.upsert("Huitong_Id__c/P-1", {"LastName": "Li"}) == 201
    assert sf.Contact.upsert("Huitong_Id__c/P-1", {"LastName": "Lee"}) == 204


def test_a_retried_upsert_never_duplicates(sf: Salesforce, org: Org) -> None:
    for _ in range(3):
        sf.Contact.upsert("Huitong_Id__c/P-7", {"LastName": "Zhang", "Email": "z@example.cn"})

    assert len(org.records("Contact")) == 1


def test_upsert_matching_several_records_is_300(sf: Salesforce) -> None:
    first = sf.Account.create({"Name": "A", "Legacy_Id__c": "K3-001"})["id"]
    second = sf.Account.create({"Name": "B", "Legacy_Id__c": "K3-001"})["id"]

    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Account.upsert("Legacy_Id__c/K3-001", {"Name": "C"})

    assert caught.value.status == 300
    assert caught.value.content == [
        f"/services/data/v59.0/sobjects/Account/{first}",
        f"/services/data/v59.0/sobjects/Account/{second}",
    ]


def test_get_by_custom_id_decodes_the_value(sf: Salesforce) -> None:
    record_id = sf.Account.create({"Name": "A", "Huitong_Id__c": "a b/c"})["id"]

    fetched = sf.Account.get_by_custom_id("Huitong_Id__c", "a b/c")

    assert fetched["Id"] == record_id


def test_get_by_custom_id_with_several_matches_is_300(sf: Salesforce) -> None:
    sf.Contact.create({"LastName": "A", "Legacy_Id__c": "X"})
    sf.Contact.create({"LastName": "B", "Legacy_Id__c": "X"})

    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.get_by_custom_id("Legacy_Id__c", "X")


def test_update_only_does_not_create(sf: Salesforce, org: Org) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.upsert("Huitong_Id__c/NEW?updateOnly=true", {"Name": "x"})

    assert org.records("Account") == []


def test_upsert_by_a_field_that_is_not_an_external_id(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.upsert("Name/Acme", {"Phone": "1"})

    assert error_of(caught)["message"] == (
        "Field name provided, Name is not an External ID or indexed field for Account"
    )


def test_upsert_by_an_unknown_field(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.upsert("Nope__c/1", {"Name": "x"})

    assert caught.value.content == [
        {
            "message": "Provided external ID field does not exist or is not accessible: Nope__c",
            "errorCode": "NOT_FOUND",
        }
    ]


def test_upsert_create_still_validates(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.upsert("Huitong_Id__c/P-9", {"FirstName": "Wei"})

    assert error_of(caught)["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_upsert_does_not_match_a_deleted_record(sf: Salesforce, org: Org) -> None:
    first = sf.Account.create({"Name": "A", "Huitong_Id__c": "HT-5"})["id"]
    sf.Account.delete(first)

    assert sf.Account.upsert("Huitong_Id__c/HT-5", {"Name": "A again"}) == 201
    live = org.records("Account")
    assert len(live) == 1
    assert live[0]["Id"] != first
