# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""sObject Collections through ``restful(sf, 'composite/sobjects', ...)`` (apis.md §0.1, §1.4)."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from connectors.salesforce.org import Org


def error_of(caught: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single REST error ``[{"message", "errorCode", "fields"?}]`` a failed call carried."""
    content: Any = caught.value.content
    assert isinstance(content, list), content
    assert len(content) == 1
    return dict(content[0])


def restful(sf: Salesforce, path: str, method: str = "GET", **kwargs: Any) -> Any:
    """``sf.restful`` for calls that answer a JSON body (never the 204 ``None``)."""
    result = sf.restful(path, method=method, **kwargs)
    assert result is not None
    return result


ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


def account(name: str | None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"attributes": {"type": "Account"}, **fields}
    if name is not None:
        body["Name"] = name
    return body


def test_create_mixed_types_in_request_order(sf: Salesforce, org: Org) -> None:
    records = [
        account("Acme"),
        {"attributes": {"type": "Contact"}, "LastName": "Li"},
        account("Beta"),
    ]

    results = restful(
        sf, "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )

    assert [r["success"] for r in results] == [True, True, True]
    assert [r["id"][:3] for r in results] == ["001", "003", "001"]
    assert all(r["errors"] == [] for r in results)
    assert len(org.records("Account")) == 2
    assert org.api_calls == 1


def test_partial_success_without_all_or_none(sf: Salesforce, org: Org) -> None:
    results = restful(
        sf,
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": [account("Acme"), account(None), account("Beta")]},
    )

    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }
    assert sorted(r["Name"] for r in org.records("Account")) == ["Acme", "Beta"]


def test_all_or_none_rolls_everything_back(sf: Salesforce, org: Org) -> None:
    existing = org.seed("Account", {"Name": "Before"})
    records = [account("Acme"), account(None), account("Beta")]

    results = restful(
        sf, "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )

    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2] == {"success": False, "errors": [ROLLED_BACK]}
    assert [r["Id"] for r in org.records("Account", include_deleted=True)] == [existing]


def test_all_or_none_update_and_delete_roll_back(sf: Salesforce, org: Org) -> None:
    first = org.seed("Account", {"Name": "One", "Huitong_Id__c": "H-1"})
    second = org.seed("Account", {"Name": "Two"})

    updated = restful(
        sf,
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                account("One v2", id=first),
                account("Two v2", Id=second, Huitong_Id__c="h-1"),  # duplicate unique value
            ],
        },
    )
    deleted = restful(
        sf,
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{first},{second[:3]}broken", "allOrNone": "true"},
    )

    assert updated[0] == {"id": first, "success": False, "errors": [ROLLED_BACK]}
    assert updated[1]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert deleted[0] == {"id": first, "success": False, "errors": [ROLLED_BACK]}
    assert deleted[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    names = {r["Id"]: r["Name"] for r in org.records("Account")}
    assert names == {first: "One", second: "Two"}


def test_more_than_200_records_is_refused_whole(sf: Salesforce, org: Org) -> None:
    records = [account(f"Co {i}") for i in range(201)]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        restful(sf, "composite/sobjects", method="POST", json={"records": records})

    assert caught.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]
    assert org.records("Account") == []
    ok = restful(sf, "composite/sobjects", method="POST", json={"records": records[:200]})
    assert len(ok) == 200


def test_update_needs_an_id_and_reports_deleted_records(sf: Salesforce, org: Org) -> None:
    gone = org.seed("Account", {"Name": "Gone"})
    sf.Account.delete(gone)

    results = restful(
        sf,
        "composite/sobjects",
        method="PATCH",
        json={"records": [account("No id"), account("Deleted", id=gone)]},
    )

    assert results[0]["errors"][0] == {
        "statusCode": "MISSING_ARGUMENT",
        "message": "Id not specified in an update call",
        "fields": [],
    }
    assert results[1]["id"] == gone
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_delete_by_ids(sf: Salesforce, org: Org) -> None:
    a = org.seed("Account", {"Name": "A"})
    c = org.seed("Contact", {"LastName": "C"})

    results = restful(sf, "composite/sobjects", method="DELETE", params={"ids": f"{a},{c}"})

    assert results == [
        {"id": a, "success": True, "errors": []},
        {"id": c, "success": True, "errors": []},
    ]
    assert org.records("Account") == []
    assert org.records("Contact") == []


def test_upsert_collection_by_external_id(sf: Salesforce, org: Org) -> None:
    existing = org.seed("Contact", {"LastName": "Old", "Huitong_Id__c": "P-1"})
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Updated", "Huitong_Id__c": "P-1"},
        {"attributes": {"type": "Contact"}, "LastName": "New", "Huitong_Id__c": "P-2"},
    ]

    results = restful(
        sf,
        "composite/sobjects/Contact/Huitong_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    again = restful(
        sf, "composite/sobjects/Contact/Huitong_Id__c", method="PATCH", json={"records": records}
    )

    assert results[0] == {"id": existing, "success": True, "errors": [], "created": False}
    assert results[1]["created"] is True
    assert [r["created"] for r in again] == [False, False]
    assert sorted(r["LastName"] for r in org.records("Contact")) == ["New", "Updated"]


def test_upsert_collection_rejects_a_repeated_external_id(sf: Salesforce, org: Org) -> None:
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "A", "Huitong_Id__c": "P-3"},
        {"attributes": {"type": "Contact"}, "LastName": "B", "Huitong_Id__c": "p-3"},
        {"attributes": {"type": "Contact"}, "LastName": "C", "Huitong_Id__c": "P-4"},
    ]

    results = restful(
        sf, "composite/sobjects/Contact/Huitong_Id__c", method="PATCH", json={"records": records}
    )

    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert [r["LastName"] for r in org.records("Contact")] == ["C"]


def test_retrieve_returns_null_for_missing_ids(sf: Salesforce, org: Org) -> None:
    a = org.seed("Account", {"Name": "A", "Phone": "1"})
    missing = "001" + "Zz9999999999"

    results = restful(
        sf,
        "composite/sobjects/Account",
        method="GET",
        params={"ids": f"{a},{missing}", "fields": "Name"},
    )

    assert results == [
        {"attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{a}"},
         "Name": "A"},
        None,
    ]  # fmt: skip


def test_a_record_without_a_type_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        restful(sf, "composite/sobjects", method="POST", json={"records": [{"Name": "x"}]})

    assert error_of(caught)["errorCode"] == "INVALID_TYPE"
