"""Reading through the connector: full reads with paging, incremental reads with the overlap window,
tombstones from queryAll and from the delete log. Real simple-salesforce against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from simple_salesforce import Salesforce, SFType

from connectors.salesforce.cursor import ReadCursor, format_timestamp
from connectors.salesforce.emulator import RunningSalesforce
from connectors.salesforce.org import Org
from connectors.salesforce.testing import connector_for
from hub.errors import FatalError
from hub.ports import Rejection, SourceRecord


def records_of(items: list[SourceRecord | Rejection]) -> list[SourceRecord]:
    assert all(isinstance(item, SourceRecord) for item in items), items
    return [item for item in items if isinstance(item, SourceRecord)]


def calls_to(org: Org, fragment: str) -> int:
    return sum(1 for entry in org.request_log if fragment in entry.path)


def test_full_read_pages_through_2300_records_in_order(running: RunningSalesforce) -> None:
    org = running.org
    start = org.now() - timedelta(hours=1)
    ids = {
        org.seed("Account", {"Name": f"Company {n}"}, at=start + timedelta(seconds=n % 700))
        for n in range(2300)
    }
    connector = connector_for(running)
    before = org.api_calls

    records = records_of(list(connector.read("Account", None)))

    assert {r.external_id for r in records} == ids
    assert len(records) == 2300
    stamps = [r.modified_at for r in records if r.modified_at is not None]
    assert len(stamps) == 2300
    assert stamps == sorted(stamps)  # ORDER BY SystemModstamp, Id
    calls = org.api_calls - before
    assert calls == 2  # 2,000 + 300: one queryAll and one nextRecordsUrl
    assert calls_to(org, "/queryAll") == 2
    print(f"\nSalesforce read: {calls} API calls for 2,300 records = {calls / 2.3:.2f} per 1,000")
    assert records[0].location == f"salesforce Account/{records[0].external_id}"
    assert records[-1].cursor is not None
    cursor = ReadCursor.decode(records[-1].cursor)
    assert cursor.modstamp == records[-1].modified_at
    # Checkpoints along the way, each at a record all earlier ones precede.
    marked = [i for i, r in enumerate(records) if r.cursor is not None]
    assert marked == [499, 999, 1499, 1999, 2299]
    for index in marked:
        assert ReadCursor.decode(str(records[index].cursor)).modstamp == records[index].modified_at


def test_parent_fields_are_flattened(running: RunningSalesforce) -> None:
    org = running.org
    owner = org.add_user("wang@huitong.example", email="wang.wei@huitong.example", last_name="Wang")
    account = org.seed("Account", {"Name": "Acme", "OwnerId": owner})
    org.seed("Contact", {"LastName": "Li", "AccountId": account, "Email": "li@acme.example"})
    org.seed("Contact", {"LastName": "Solo"})

    records = records_of(list(connector_for(running).read("Contact", None)))

    by_name = {r.fields["LastName"]: r for r in records}
    assert by_name["Li"].fields["Account.Name"] == "Acme"
    assert by_name["Li"].fields["AccountId"] == account
    assert by_name["Li"].fields["Owner.Email"] == "integration@huitong.example"
    assert by_name["Solo"].fields["Account.Name"] is None  # a null parent: its fields are null
    assert "attributes" not in by_name["Li"].fields
    assert "Owner" not in by_name["Li"].fields
    accounts = records_of(list(connector_for(running).read("Account", None)))
    assert accounts[0].fields["Owner.Email"] == "wang.wei@huitong.example"


def test_incremental_read_catches_a_late_commit_and_repeats_nothing(
    running: RunningSalesforce, sf: Salesforce
) -> None:
    org = running.org
    t0 = org.now() - timedelta(seconds=30)
    first = [
        org.seed("Contact", {"LastName": f"P{n}"}, at=t0 + timedelta(seconds=n)) for n in range(5)
    ]
    connector = connector_for(running, overlap_seconds=120)
    initial = records_of(list(connector.read("Contact", None)))
    cursor = initial[-1].cursor
    assert cursor is not None
    assert [r.external_id for r in initial] == first

    # A transaction that began before the last read committed after it: its SystemModstamp lies
    # before the cursor, within the overlap of the time of that read.
    late = org.seed("Contact", {"LastName": "Late"}, at=t0 + timedelta(seconds=2, milliseconds=500))
    cast(SFType, sf.Contact).update(
        first[1], {"Title": "Director"}
    )  # a real change after the cursor
    too_old = org.seed("Contact", {"LastName": "Ancient"}, at=t0 - timedelta(minutes=5))

    again = records_of(list(connector.read("Contact", cursor)))

    assert [r.external_id for r in again] == [late, first[1]]
    assert again[1].fields["Title"] == "Director"
    assert too_old not in {
        r.external_id for r in again
    }  # beyond the overlap: the nightly full read's job
    # From the new cursor nothing comes back twice, even though the window re-reads them all.
    assert list(connector.read("Contact", again[-1].cursor)) == []
    # A second connector (another worker, or after a restart) honours the same cursor.
    assert list(connector_for(running, overlap_seconds=120).read("Contact", again[-1].cursor)) == []


def test_records_sharing_one_stamp_across_a_checkpoint_are_not_lost(
    running: RunningSalesforce,
) -> None:
    org = running.org
    moment = org.now() - timedelta(minutes=1)
    ids = {org.seed("Account", {"Name": f"Tie {n}"}, at=moment) for n in range(7)}
    connector = connector_for(running, checkpoint_every=3)
    records = records_of(list(connector.read("Account", None)))
    assert {r.external_id for r in records} == ids

    # Stop after the checkpoint on the third record, as a crash would, and resume from it.
    resumed_from = records[2].cursor
    assert resumed_from is not None
    rest = records_of(list(connector.read("Account", resumed_from)))

    assert [r.external_id for r in rest] == [r.external_id for r in records[3:]]


def test_a_plain_timestamp_is_a_cursor(running: RunningSalesforce) -> None:
    org = running.org
    now = org.now()
    org.seed("Account", {"Name": "Old"}, at=now - timedelta(hours=3))
    recent = org.seed("Account", {"Name": "Recent"}, at=now - timedelta(minutes=1))
    since = format_timestamp(now - timedelta(minutes=30))

    records = records_of(list(connector_for(running, overlap_seconds=0).read("Account", since)))

    assert [r.external_id for r in records] == [recent]


def test_an_unreadable_cursor_is_a_clear_error(running: RunningSalesforce) -> None:
    with pytest.raises(FatalError, match=r"not a Salesforce cursor.*full sync"):
        list(connector_for(running).read("Account", "yesterday-ish"))


def test_deletes_are_tombstones(running: RunningSalesforce, sf: Salesforce) -> None:
    org = running.org
    account = org.seed("Account", {"Name": "Going"}, at=org.now() - timedelta(minutes=5))
    contact = org.seed("Contact", {"LastName": "Going too", "AccountId": account})
    keeper = org.seed("Contact", {"LastName": "Stays"})
    connector = connector_for(running, overlap_seconds=60)
    cursor = records_of(list(connector.read("Contact", None)))[-1].cursor

    cast(SFType, sf.Contact).delete(contact)

    records = records_of(list(connector.read("Contact", cursor)))
    assert [(r.external_id, r.deleted) for r in records] == [(contact, True)]
    tombstone = records[0]
    assert tombstone.fields["IsDeleted"] is True
    assert tombstone.fields["LastName"] == "Going too"
    deleted = org.record(contact)
    assert deleted is not None
    assert tombstone.modified_at == deleted["SystemModstamp"]
    assert keeper not in {r.external_id for r in records}


def test_a_long_gap_also_reads_the_delete_log_without_doubling(
    running: RunningSalesforce, sf: Salesforce
) -> None:
    org = running.org
    gone = org.seed("Contact", {"LastName": "Gone"})
    org.seed("Contact", {"LastName": "Kept"})
    connector = connector_for(running, overlap_seconds=0, clock=org.now)
    cursor = records_of(list(connector.read("Contact", None)))[-1].cursor

    org.advance(timedelta(minutes=90))  # the hub was down longer than get_deleted_after_seconds
    cast(SFType, sf.Contact).delete(gone)
    items = list(connector.read("Contact", cursor))

    assert calls_to(org, "/sobjects/Contact/deleted") == 1
    records = records_of(items)
    assert [(r.external_id, r.deleted) for r in records] == [(gone, True)]
    # Still in the Recycle Bin: delivered once, by queryAll, with its fields and a cursor.
    assert records[0].fields["LastName"] == "Gone"
    assert records[0].cursor is not None


def test_a_cursor_older_than_the_delete_log_is_reported(running: RunningSalesforce) -> None:
    org = running.org
    org.seed("Contact", {"LastName": "Early"})
    connector = connector_for(running, overlap_seconds=0, clock=org.now)
    cursor = records_of(list(connector.read("Contact", None)))[-1].cursor
    org.advance(timedelta(days=20))
    fresh = org.seed("Contact", {"LastName": "Fresh"})

    items = list(connector.read("Contact", cursor))

    rejections = [item for item in items if isinstance(item, Rejection)]
    assert len(rejections) == 1
    assert "before Salesforce's delete log" in rejections[0].reason
    assert "full reconciliation" in rejections[0].reason
    assert [r.external_id for r in items if isinstance(r, SourceRecord)] == [fresh]


def test_an_expired_query_locator_resumes_where_the_stream_stood(
    running: RunningSalesforce,
) -> None:
    org = running.org
    start = org.now() - timedelta(hours=1)
    for n in range(2500):
        org.seed("Account", {"Name": f"A{n}"}, at=start + timedelta(milliseconds=n * 10))
    stream = connector_for(running).read("Account", None)
    first_page = [next(stream) for _ in range(1999)]  # still on page one

    org.expire_query_cursors()  # idle 15 minutes, or more than 10 cursors opened by the user
    rest = list(stream)

    ids = [r.external_id for r in records_of(first_page + rest)]
    assert len(ids) == 2500 == len(set(ids))


def test_timestamps_are_utc_datetimes(running: RunningSalesforce) -> None:
    org = running.org
    at = datetime(2024, 5, 1, 2, 3, 4, 567000, tzinfo=UTC)
    org.seed("Account", {"Name": "Dated"}, at=at)
    (record,) = records_of(list(connector_for(running).read("Account", None)))
    assert record.modified_at == at
    assert record.fields["SystemModstamp"] == "2024-05-01T02:03:04.567+0000"
