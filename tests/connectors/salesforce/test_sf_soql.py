"""The SOQL subset evaluated directly against an org (no HTTP): grammar corners and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.salesforce.errors import ApiError
from connectors.salesforce.ids import checksum_suffix, normalize_id
from connectors.salesforce.org import Org


@pytest.fixture
def local_org() -> Org:
    org = Org()
    org.seed("Account", {"Name": "100% Cotton", "Description": "line1\nline2"})
    org.seed("Account", {"Name": "100 Cotton"})
    org.seed("Account", {"Name": "Under_score"})
    org.seed("Account", {"Name": "Underscore"})
    org.seed("Account", {"Name": "Café Ω"})
    return org


def names(org: Org, soql: str) -> list[str]:
    body = org.query(
        soql, include_deleted=False, batch_size=None, user_id=org.admin_id, version="59.0"
    )
    return [r["Name"] for r in body["records"]]


def error(org: Org, soql: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        names(org, soql)
    return caught.value


def test_like_escapes_percent_and_underscore(local_org: Org) -> None:
    assert names(local_org, "SELECT Name FROM Account WHERE Name LIKE '100\\%%'") == ["100% Cotton"]
    assert names(local_org, "SELECT Name FROM Account WHERE Name LIKE '100%'") == [
        "100% Cotton",
        "100 Cotton",
    ]
    assert names(local_org, "SELECT Name FROM Account WHERE Name LIKE 'Under\\_score'") == [
        "Under_score"
    ]
    # An unescaped _ is exactly one character: "Underscore" has none there.
    assert names(local_org, "SELECT Name FROM Account WHERE Name LIKE 'under_score'") == [
        "Under_score"
    ]


def test_string_escapes(local_org: Org) -> None:
    assert names(local_org, "SELECT Name FROM Account WHERE Description = 'line1\\nline2'") == [
        "100% Cotton"
    ]
    assert names(local_org, "SELECT Name FROM Account WHERE Name = 'Caf\\u00e9 \\u03a9'") == [
        "Café Ω"
    ]
    bad = error(local_org, "SELECT Name FROM Account WHERE Name = 'a\\qb'")
    assert bad.code == "MALFORMED_QUERY"
    assert "Illegal character sequence '\\q' in string literal" in bad.message


def test_boolean_logic_precedence_and_not(local_org: Org) -> None:
    soql = (
        "select name from account where Name = 'Underscore' or Name = 'Under_score' "
        "and NOT Name LIKE 'Under%' order by name"
    )
    assert names(local_org, soql) == ["Underscore"]  # AND binds tighter than OR
    assert names(local_org, "SELECT Name FROM Account WHERE Name <> 'Underscore' LIMIT 1") == [
        "100% Cotton"
    ]


def test_date_literals_compare_with_datetimes(local_org: Org) -> None:
    now = local_org.now()
    local_org.seed("Contact", {"LastName": "Today"}, at=now)
    local_org.seed("Contact", {"LastName": "LastWeek"}, at=now - timedelta(days=6))
    local_org.seed("Contact", {"LastName": "LastYear"}, at=now - timedelta(days=300))

    def last_names(soql: str) -> list[str]:
        body = local_org.query(
            soql, include_deleted=False, batch_size=None, user_id=local_org.admin_id, version="59.0"
        )
        return [r["LastName"] for r in body["records"]]

    assert last_names("SELECT LastName FROM Contact WHERE CreatedDate = TODAY") == ["Today"]
    assert last_names("SELECT LastName FROM Contact WHERE CreatedDate = LAST_N_DAYS:7") == [
        "Today",
        "LastWeek",
    ]
    assert last_names("SELECT LastName FROM Contact WHERE CreatedDate < LAST_N_DAYS:30") == [
        "LastYear"
    ]


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id, id FROM Account", "MALFORMED_QUERY", "duplicate field selected: id"),
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY", "does not implement"),
        ("SELECT Bogus.Name FROM Contact", "INVALID_FIELD", "understand relationship 'Bogus'"),
        ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD", "must be of type string"),
        ("SELECT Id FROM Account WHERE IsDeleted = 'true'", "INVALID_FIELD", "type boolean"),
        ("SELECT Id FROM Account WHERE Id LIKE '0%'", "INVALID_QUERY_FILTER_OPERATOR", "operator"),
        ("SELECT Id FROM Account WHERE Name = \"x\"", "MALFORMED_QUERY", "unexpected token"),
    ],
)  # fmt: skip
def test_errors(local_org: Org, soql: str, code: str, fragment: str) -> None:
    caught = error(local_org, soql)

    assert (caught.status, caught.code) == (400, code)
    assert fragment in caught.message


def test_error_message_points_at_the_column(local_org: Org) -> None:
    caught = error(local_org, "SELECT Id, Nope FROM Account")

    assert caught.message.startswith(
        "\nSELECT Id, Nope FROM Account\n           ^\nERROR at Row:1:Column:12\n"
    )


def test_ids_in_filters_accept_15_characters(local_org: Org) -> None:
    record_id = local_org.seed("Account", {"Name": "By Id"})

    assert names(local_org, f"SELECT Name FROM Account WHERE Id = '{record_id[:15]}'") == ["By Id"]
    assert names(local_org, f"SELECT Name FROM Account WHERE Id IN ('{record_id}')") == ["By Id"]


def test_id_normalisation() -> None:
    id15 = "001Hu000000Ab1C"
    id18 = id15 + checksum_suffix(id15)

    assert normalize_id(id15) == id18
    assert normalize_id(id18.lower()) == id18
    assert normalize_id(id18[:15] + "999") is None  # '9' is outside the suffix alphabet
    assert normalize_id("001-not-an-id!!") is None
    assert normalize_id("short") is None


def test_datetime_literals_with_offsets() -> None:
    org = Org()
    org.seed("Contact", {"LastName": "Noon"}, at=datetime(2024, 6, 1, 12, 0, tzinfo=UTC))

    body = org.query(
        "SELECT LastName FROM Contact WHERE CreatedDate = 2024-06-01T20:00:00+08:00",
        include_deleted=False,
        batch_size=None,
        user_id=org.admin_id,
        version="59.0",
    )

    assert [r["LastName"] for r in body["records"]] == ["Noon"]
