# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""getUpdated / getDeleted through ``sf.Contact.updated(...)`` and ``.deleted(...)``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from connectors.salesforce.org import Org
from connectors.salesforce.values import format_datetime


def error_of(caught: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single REST error ``[{"message", "errorCode", "fields"?}]`` a failed call carried."""
    content: Any = caught.value.content
    assert isinstance(content, list), content
    assert len(content) == 1
    return dict(content[0])


def minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def test_updated_lists_ids_changed_in_the_window(sf: Salesforce, org: Org) -> None:
    base = minute(org.now() - timedelta(days=2))
    before = org.seed("Contact", {"LastName": "Before"}, at=base - timedelta(minutes=1))
    inside = org.seed("Contact", {"LastName": "Inside"}, at=base + timedelta(minutes=1, seconds=30))
    late = org.seed("Contact", {"LastName": "Late"}, at=base + timedelta(minutes=9, seconds=59))
    at_end = org.seed("Contact", {"LastName": "AtEnd"}, at=base + timedelta(minutes=10))

    # Seconds are ignored: 00:01:45 reads as 00:01:00, so the row at 00:01:30 is covered.
    result = sf.Contact.updated(
        base + timedelta(minutes=1, seconds=45), base + timedelta(minutes=10)
    )

    assert result["ids"] == [inside, late]
    assert result["latestDateCovered"] == format_datetime(base + timedelta(minutes=10))
    assert before not in result["ids"]
    assert at_end not in result["ids"]


def test_updates_and_system_changes_show_up(sf: Salesforce, org: Org) -> None:
    start = minute(org.now()) - timedelta(minutes=1)
    untouched = org.seed("Contact", {"LastName": "Untouched"}, at=start - timedelta(hours=1))
    edited = org.seed("Contact", {"LastName": "Edited"}, at=start - timedelta(hours=1))
    automated = org.seed("Contact", {"LastName": "Automated"}, at=start - timedelta(hours=1))
    sf.Contact.update(edited, {"Title": "CFO"})
    org.touch(automated)
    org.advance(timedelta(minutes=2))

    result = sf.Contact.updated(start, org.now())

    assert sorted(result["ids"]) == sorted([edited, automated])
    assert untouched not in result["ids"]


def test_deleted_lists_recycled_records(sf: Salesforce, org: Org) -> None:
    start = minute(org.now()) - timedelta(minutes=5)
    doomed = org.seed("Contact", {"LastName": "Doomed"})
    kept = org.seed("Contact", {"LastName": "Kept"})
    sf.Contact.delete(doomed)
    deleted_at = org.record(doomed)["SystemModstamp"]  # type: ignore[index]
    org.advance(timedelta(minutes=2))  # the latest minute is only covered once it is over

    result = sf.Contact.deleted(start, org.now())

    assert result["deletedRecords"] == [{"id": doomed, "deletedDate": format_datetime(deleted_at)}]
    assert result["earliestDateAvailable"] == format_datetime(minute(org.created_at))
    assert result["latestDateCovered"] == format_datetime(minute(org.now()))
    assert kept not in {r["id"] for r in result["deletedRecords"]}
    assert sf.Contact.updated(start, org.now())["ids"] == [kept]


def test_the_recycle_bin_empties_after_15_days(sf: Salesforce, org: Org) -> None:
    doomed = org.seed("Contact", {"LastName": "Doomed"})
    sf.Contact.delete(doomed)
    deleted_at = org.record(doomed)["SystemModstamp"]  # type: ignore[index]
    org.advance(timedelta(days=16))

    result = sf.Contact.deleted(org.now() - timedelta(days=20), org.now())

    assert result["deletedRecords"] == []
    assert result["earliestDateAvailable"] == format_datetime(minute(deleted_at))
    everything = sf.query_all("SELECT Id FROM Contact", include_deleted=True)
    assert everything["records"] == []


@pytest.mark.parametrize(
    ("start_back", "end_back", "message"),
    [
        (timedelta(hours=1), timedelta(hours=2), "startDate must chronologically precede"),
        (timedelta(seconds=50), timedelta(seconds=10), "startDate must chronologically precede"),
        (timedelta(days=31), timedelta(days=1), "startDate cannot be more than 30 days ago"),
    ],
)
def test_window_errors(
    sf: Salesforce, org: Org, start_back: timedelta, end_back: timedelta, message: str
) -> None:
    now = minute(org.now()) + timedelta(minutes=1, seconds=55)
    org.advance(now - org.now())  # forward to second 55 of a minute

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.updated(now - start_back, now - end_back)

    error = error_of(caught)
    assert error["errorCode"] == "INVALID_REPLICATION_DATE"
    assert error["message"].startswith(message)


def test_naive_datetimes_make_the_client_send_an_unreadable_date(sf: Salesforce) -> None:
    """simple-salesforce emits ``...00%3A00%3A`` for naive datetimes (apis.md §0.1 gotcha)."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.updated(datetime(2024, 1, 1), datetime(2024, 1, 2))

    assert error_of(caught)["errorCode"] == "INVALID_REPLICATION_DATE"
