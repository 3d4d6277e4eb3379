# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""sObject create/get/update/delete, describe, ids and write validation via simple-salesforce."""

from __future__ import annotations

import re
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from connectors.salesforce.ids import checksum_suffix
from connectors.salesforce.org import Org


def error_of(caught: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single REST error ``[{"message", "errorCode", "fields"?}]`` a failed call carried."""
    content: Any = caught.value.content
    assert isinstance(content, list), content
    assert len(content) == 1
    return dict(content[0])


SF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def test_create_get_update_delete_round_trip(sf: Salesforce, org: Org) -> None:
    accounts = sf.Account
    created = accounts.create({"Name": "Acme", "Phone": "+86 21 5555 0100"})
    record_id = created["id"]

    assert created == {"id": record_id, "success": True, "errors": []}
    fetched = accounts.get(record_id)
    assert fetched["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{record_id}",
    }
    assert fetched["Name"] == "Acme"
    assert fetched["OwnerId"] == org.admin_id
    assert fetched["IsDeleted"] is False
    for stamp in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert SF_DATETIME.match(fetched[stamp]), stamp

    assert accounts.update(record_id, {"Name": "Acme Ltd"}) == 204
    after = accounts.get(record_id)
    assert after["Name"] == "Acme Ltd"
    assert after["SystemModstamp"] >= fetched["SystemModstamp"]
    assert after["CreatedDate"] == fetched["CreatedDate"]

    assert accounts.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        accounts.get(record_id)
    assert error_of(caught)["errorCode"] == "NOT_FOUND"
    stored = org.record(record_id)
    assert stored is not None
    assert stored["IsDeleted"] is True


def test_get_with_fields_returns_only_those(sf: Salesforce) -> None:
    record_id = sf.Contact.create({"LastName": "Li", "Email": "li@example.cn"})["id"]

    fetched = sf.Contact.get(record_id, params={"fields": "LastName,Email"})

    assert list(fetched) == ["attributes", "LastName", "Email"]


def test_ids_are_18_characters_with_prefix_and_checksum(sf: Salesforce, org: Org) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    contact_id = sf.Contact.create({"LastName": "Li"})["id"]

    assert len(account_id) == 18
    assert account_id.startswith("001")
    assert contact_id.startswith("003")
    assert org.admin_id.startswith("005")
    assert account_id[15:] == checksum_suffix(account_id[:15])


def test_15_character_and_case_folded_ids_name_the_same_record(sf: Salesforce) -> None:
    record_id = sf.Account.create({"Name": "Acme"})["id"]

    assert sf.Account.get(record_id[:15])["Id"] == record_id
    assert sf.Account.get(record_id.lower())["Id"] == record_id  # 18-char ids are case-safe


@pytest.mark.parametrize(
    ("sobject", "body", "missing"),
    [("Account", {"Phone": "1"}, "Name"), ("Contact", {"FirstName": "Wei"}, "LastName")],
)
def test_required_fields(sf: Salesforce, sobject: str, body: dict[str, str], missing: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        getattr(sf, sobject).create(body)

    assert error_of(caught) == {
        "message": f"Required fields are missing: [{missing}]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": [missing],
    }


def test_clearing_a_required_field_on_update_is_refused(sf: Salesforce) -> None:
    record_id = sf.Account.create({"Name": "Acme"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(record_id, {"Name": ""})

    assert error_of(caught)["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_an_id_of_another_object_is_malformed(sf: Salesforce) -> None:
    contact_id = sf.Contact.create({"LastName": "Li"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(contact_id, {"Name": "x"})

    assert error_of(caught) == {
        "message": f"Account ID: id value of incorrect type: {contact_id}",
        "errorCode": "MALFORMED_ID",
        "fields": ["Id"],
    }


def test_a_segment_that_is_not_an_id_reads_as_an_external_id_field(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get("not-an-id")

    assert error_of(caught) == {
        "message": "Provided external ID field does not exist or is not accessible: not-an-id",
        "errorCode": "NOT_FOUND",
    }


def test_unknown_field_is_invalid_field(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "Acme", "Revenue__c": 5})

    assert error_of(caught) == {
        "message": "No such column 'Revenue__c' on sobject of type Account",
        "errorCode": "INVALID_FIELD",
    }


def test_audit_fields_are_not_writable(sf: Salesforce) -> None:
    record_id = sf.Account.create({"Name": "Acme"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(
            record_id, {"SystemModstamp": "2020-01-01T00:00:00Z", "CreatedById": record_id}
        )

    error = error_of(caught)
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["SystemModstamp", "CreatedById"]
    assert error["message"].startswith(
        "Unable to create/update fields: SystemModstamp, CreatedById."
    )


def test_an_id_in_a_create_body_is_refused(sf: Salesforce) -> None:
    other = sf.Account.create({"Name": "Acme"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Id": other, "Name": "Copy"})

    assert error_of(caught)["message"] == "cannot specify Id in an insert call"


def test_writes_to_a_deleted_record_say_entity_is_deleted(sf: Salesforce) -> None:
    record_id = sf.Account.create({"Name": "Acme"})["id"]
    sf.Account.delete(record_id)

    with pytest.raises(SalesforceResourceNotFound) as on_delete:
        sf.Account.delete(record_id)
    with pytest.raises(SalesforceResourceNotFound) as on_update:
        sf.Account.update(record_id, {"Name": "x"})

    expected = {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
    assert error_of(on_delete) == expected
    assert error_of(on_update) == expected


def test_the_deleted_status_is_configurable(sf: Salesforce, org: Org) -> None:
    org.deleted_entity_status = 400
    record_id = sf.Account.create({"Name": "Acme"})["id"]
    sf.Account.delete(record_id)

    with pytest.raises(SalesforceMalformedRequest):
        sf.Account.delete(record_id)


def test_unique_external_id_rejects_a_duplicate_case_insensitively(sf: Salesforce) -> None:
    first = sf.Account.create({"Name": "A", "Huitong_Id__c": "HT-1"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "B", "Huitong_Id__c": "ht-1"})

    assert error_of(caught) == {
        "message": "duplicate value found: Huitong_Id__c duplicates value on record with id: "
        + first,
        "errorCode": "DUPLICATE_VALUE",
        "fields": [],
    }


def test_a_deleted_record_frees_its_unique_value(sf: Salesforce) -> None:
    first = sf.Account.create({"Name": "A", "Huitong_Id__c": "HT-1"})["id"]
    sf.Account.delete(first)

    assert sf.Account.create({"Name": "B", "Huitong_Id__c": "HT-1"})["success"] is True


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"Email": "not-an-email"},
            "INVALID_EMAIL_ADDRESS",
            "Email: invalid email address: not-an-email",
        ),
        (
            {"FirstName": "x" * 41},
            "STRING_TOO_LONG",
            f"First Name: data value too large: {'x' * 41} (max length=40)",
        ),
    ],
)
def test_value_validation(sf: Salesforce, body: dict[str, str], code: str, message: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"LastName": "Li", **body})

    error = error_of(caught)
    assert (error["errorCode"], error["message"]) == (code, message)


def test_an_empty_string_is_stored_as_null(sf: Salesforce) -> None:
    record_id = sf.Contact.create({"LastName": "Li", "Email": "li@example.cn"})["id"]

    sf.Contact.update(record_id, {"Email": ""})

    assert sf.Contact.get(record_id)["Email"] is None


def test_contact_links_to_an_existing_account(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]

    contact_id = sf.Contact.create({"LastName": "Li", "FirstName": "Wei", "AccountId": account_id})[
        "id"
    ]

    contact = sf.Contact.get(contact_id)
    assert contact["AccountId"] == account_id
    assert contact["Name"] == "Wei Li"


def test_contact_account_reference_errors(sf: Salesforce, org: Org) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    deleted_id = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(deleted_id)
    never = "001" + "Zz9999999999"
    cases = {
        "garbage": ("MALFORMED_ID", "Account ID: id value of incorrect type: garbage"),
        org.admin_id: (
            "FIELD_INTEGRITY_EXCEPTION",
            f"Account ID: id value of incorrect type: {org.admin_id}",
        ),
        never: ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"),
        deleted_id: ("ENTITY_IS_DELETED", "entity is deleted"),
    }

    for value, (code, message) in cases.items():
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.Contact.create({"LastName": "Li", "AccountId": value})
        error = error_of(caught)
        assert (error["errorCode"], error["message"], error["fields"]) == (
            code,
            message,
            ["AccountId"],
        ), value
    assert sf.Contact.create({"LastName": "Li", "AccountId": account_id})["success"]


def test_owner_must_be_an_active_user(sf: Salesforce, org: Org) -> None:
    active = org.add_user("sales@huitong.example", email="sales@huitong.example", last_name="Zhao")
    inactive = org.add_user("gone@huitong.example", email="gone@huitong.example", last_name="Qian")
    org.deactivate_user(inactive)

    record_id = sf.Account.create({"Name": "Acme", "OwnerId": active})["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(record_id, {"OwnerId": inactive})

    assert sf.Account.get(record_id)["OwnerId"] == active
    assert error_of(caught)["errorCode"] == "INACTIVE_OWNER_OR_USER"


def test_deleting_an_account_deletes_its_contacts(sf: Salesforce, org: Org) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    contact_id = sf.Contact.create({"LastName": "Li", "AccountId": account_id})["id"]

    sf.Account.delete(account_id)

    contact = org.record(contact_id)
    assert contact is not None
    assert contact["IsDeleted"] is True


def test_users_are_readable_but_not_writable(sf: Salesforce, org: Org) -> None:
    user = sf.User.get(org.admin_id)
    assert user["Email"] == "integration@huitong.example"

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.User.create({"LastName": "X", "Username": "x@x.cn", "Email": "x@x.cn"})

    assert error_of(caught)["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_describe_lists_the_external_id_fields(sf: Salesforce) -> None:
    for sobject in ("Account", "Contact"):
        describe = getattr(sf, sobject).describe()
        fields = {f["name"]: f for f in describe["fields"]}

        assert describe["name"] == sobject
        hub_id = fields["Huitong_Id__c"]
        assert (hub_id["externalId"], hub_id["unique"], hub_id["custom"]) == (True, True, True)
        assert fields["Legacy_Id__c"]["externalId"] is True
        assert fields["Legacy_Id__c"]["unique"] is False
        assert fields["SystemModstamp"]["type"] == "datetime"
        assert fields["SystemModstamp"]["createable"] is False
        assert fields["Id"]["type"] == "id"
    contact_fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact_fields["AccountId"]["referenceTo"] == ["Account"]
    assert contact_fields["LastName"]["nillable"] is False


def test_metadata_and_global_describe(sf: Salesforce) -> None:
    assert sf.Account.metadata()["objectDescribe"]["keyPrefix"] == "001"
    described = sf.describe()
    assert described is not None
    names = {o["name"] for o in described["sobjects"]}
    assert {"Account", "Contact", "User"} <= names


def test_an_unknown_object_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Opportunity.create({"Name": "x"})

    assert error_of(caught) == {
        "message": "The requested resource does not exist",
        "errorCode": "NOT_FOUND",
    }


def test_seeded_records_keep_their_audit_stamps(sf: Salesforce, org: Org) -> None:
    from datetime import UTC, datetime

    at = datetime(2024, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)
    record_id = org.seed("Account", {"Name": "Old Co"}, at=at)

    fetched = sf.Account.get(record_id)

    assert fetched["CreatedDate"] == "2024-03-01T08:30:15.250+0000"
    assert fetched["SystemModstamp"] == "2024-03-01T08:30:15.250+0000"


def test_touch_moves_system_modstamp_only(sf: Salesforce, org: Org) -> None:
    from datetime import timedelta

    record_id = sf.Account.create({"Name": "Acme"})["id"]
    before = sf.Account.get(record_id)
    org.advance(timedelta(seconds=5))

    org.touch(record_id)

    after = sf.Account.get(record_id)
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] == before["LastModifiedDate"]
