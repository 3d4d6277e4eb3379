# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""SOQL query and queryAll over the wire: paging, deleted rows, filters and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def seed_accounts(org: Org, count: int) -> list[str]:
    return [org.seed("Account", {"Name": f"Company {i:05d}"}) for i in range(count)]


def test_default_page_is_2000_and_query_more_follows_the_locator(sf: Salesforce, org: Org) -> None:
    ids = seed_accounts(org, 2001)

    first = sf.query("SELECT Id FROM Account ORDER BY Name")

    assert first["totalSize"] == 2001
    assert first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["done"] is True
    assert "nextRecordsUrl" not in second
    assert second["totalSize"] == 2001
    assert [r["Id"] for r in first["records"] + second["records"]] == ids


def test_query_all_iter_reads_every_page(sf: Salesforce, org: Org) -> None:
    org.query_page_size = 7
    ids = seed_accounts(org, 30)

    records = list(sf.query_all_iter("SELECT Id, Name FROM Account ORDER BY Name"))

    assert [r["Id"] for r in records] == ids
    assert org.api_calls == 5  # 30 records in pages of 7: one query and four query_more


def test_query_more_by_locator_id(sf: Salesforce, org: Org) -> None:
    org.query_page_size = 2
    seed_accounts(org, 3)

    first = sf.query("SELECT Id FROM Account")
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]

    assert len(sf.query_more(locator)["records"]) == 1


def test_batch_size_header_is_honoured_within_200_to_2000(sf: Salesforce, org: Org) -> None:
    seed_accounts(org, 450)

    page = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=250"})
    tiny = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=10"})

    assert len(page["records"]) == 250
    assert len(tiny["records"]) == 200  # the documented minimum


def test_query_excludes_deleted_rows_and_query_all_includes_them(sf: Salesforce, org: Org) -> None:
    kept, gone = seed_accounts(org, 2)
    sf.Account.delete(gone)

    live = sf.query("SELECT Id, IsDeleted FROM Account")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
    only_deleted = sf.query("SELECT Id FROM Account WHERE IsDeleted = true", include_deleted=True)

    assert [(r["Id"], r["IsDeleted"]) for r in live["records"]] == [(kept, False)]
    assert {(r["Id"], r["IsDeleted"]) for r in everything["records"]} == {
        (kept, False),
        (gone, True),
    }
    assert [r["Id"] for r in only_deleted["records"]] == [gone]


def test_query_all_pages_keep_the_query_all_endpoint(sf: Salesforce, org: Org) -> None:
    org.query_page_size = 1
    ids = seed_accounts(org, 2)
    sf.Account.delete(ids[0])

    first = sf.query("SELECT Id FROM Account", include_deleted=True)

    assert "/queryAll/" in first["nextRecordsUrl"]
    assert list(sf.query_all_iter("SELECT Id FROM Account", include_deleted=True)) != []


def test_incremental_read_by_system_modstamp(sf: Salesforce, org: Org) -> None:
    base = datetime(2024, 5, 1, tzinfo=UTC)
    old = org.seed("Contact", {"LastName": "Old"}, at=base)
    edge = org.seed("Contact", {"LastName": "Edge"}, at=base + timedelta(hours=1))
    new = org.seed("Contact", {"LastName": "New"}, at=base + timedelta(hours=2))

    soql = (
        "SELECT Id, SystemModstamp FROM Contact "
        "WHERE SystemModstamp >= 2024-05-01T01:00:00Z ORDER BY SystemModstamp, Id"
    )
    records = sf.query_all(soql, include_deleted=True)["records"]

    assert [r["Id"] for r in records] == [edge, new]
    assert records[0]["SystemModstamp"] == "2024-05-01T01:00:00.000+0000"
    offset = sf.query("SELECT Id FROM Contact WHERE SystemModstamp < 2024-05-01T08:30:00+08:00")
    assert [r["Id"] for r in offset["records"]] == [old]


def test_filters_order_limit_offset_and_count(sf: Salesforce, org: Org) -> None:
    org.seed("Account", {"Name": "Alpha", "Industry": "Retail", "NumberOfEmployees": 10})
    org.seed("Account", {"Name": "beta", "Industry": "Energy", "NumberOfEmployees": 500})
    org.seed("Account", {"Name": "Gamma", "Industry": None, "NumberOfEmployees": 50})
    org.seed("Account", {"Name": "O'Brien & Co", "Industry": "Retail"})

    def names(soql: str) -> list[str]:
        return [r["Name"] for r in sf.query(soql)["records"]]

    assert names("SELECT Name FROM Account WHERE Name = 'BETA'") == ["beta"]
    assert names("SELECT Name FROM Account WHERE Name LIKE 'a%'") == ["Alpha"]
    assert names("SELECT Name FROM Account WHERE Name = 'O\\'Brien & Co'") == ["O'Brien & Co"]
    assert names(
        "SELECT Name FROM Account WHERE Industry IN ('Retail', 'Energy') AND "
        "(NumberOfEmployees > 100 OR NumberOfEmployees = null) ORDER BY Name"
    ) == ["beta", "O'Brien & Co"]
    assert names("SELECT Name FROM Account WHERE Industry != 'Retail' ORDER BY Name") == [
        "beta",
        "Gamma",
    ]
    assert names("SELECT Name FROM Account WHERE NOT Industry IN ('Retail') ORDER BY Name") == [
        "beta",
        "Gamma",
    ]
    assert names("SELECT Name FROM Account ORDER BY Industry DESC, Name LIMIT 3") == [
        "Gamma",  # nulls first by default, also when descending
        "Alpha",
        "O'Brien & Co",
    ]
    assert names(
        "SELECT Name FROM Account ORDER BY Industry NULLS LAST, Name LIMIT 1 OFFSET 3"
    ) == ["Gamma"]
    assert sf.query("SELECT COUNT() FROM Account WHERE NumberOfEmployees >= 50")["totalSize"] == 2
    counted = sf.query("SELECT COUNT(Industry) FROM Account")["records"][0]
    assert counted["expr0"] == 3


def test_relationship_fields_and_users(sf: Salesforce, org: Org) -> None:
    owner = org.add_user("sales@huitong.example", email="sales@huitong.example", last_name="Zhao")
    account = org.seed("Account", {"Name": "Acme", "OwnerId": owner})
    org.seed("Contact", {"LastName": "Li", "AccountId": account})
    org.seed("Contact", {"LastName": "Solo"})

    records = sf.query(
        "SELECT LastName, Account.Name, Account.Owner.Email FROM Contact ORDER BY LastName"
    )["records"]
    users = sf.query("SELECT Id, Email FROM User WHERE Email LIKE 'sales@%'")["records"]

    assert records[0]["Account"]["Name"] == "Acme"
    assert records[0]["Account"]["Owner"]["Email"] == "sales@huitong.example"
    assert records[0]["Account"]["attributes"]["type"] == "Account"
    assert records[1]["Account"] is None
    assert [u["Id"] for u in users] == [owner]


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        ("SELECT Id Name FROM Account", "MALFORMED_QUERY", "unexpected token: 'Name'"),
        ("SELECT Id, Revenue__c FROM Account", "INVALID_FIELD", "No such column 'Revenue__c'"),
        ("SELECT Id FROM Opportunity", "INVALID_TYPE", "sObject type 'Opportunity'"),
        (
            "SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
            "INVALID_FIELD",
            "must be of type dateTime and should not be enclosed in quotes",
        ),
        ("SELECT Id FROM Account WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR", "nope"),
    ],
)
def test_query_errors(sf: Salesforce, soql: str, code: str, fragment: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)

    assert caught.value.status == 400
    error = error_of(caught)
    assert error["errorCode"] == code
    assert fragment in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]


def test_an_expired_locator_is_invalid(sf: Salesforce, org: Org) -> None:
    org.query_page_size = 1
    seed_accounts(org, 2)
    first = sf.query("SELECT Id FROM Account")
    org.advance(timedelta(minutes=16))  # locators idle out after 15 minutes

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)

    assert error_of(caught)["errorCode"] == "INVALID_QUERY_LOCATOR"
