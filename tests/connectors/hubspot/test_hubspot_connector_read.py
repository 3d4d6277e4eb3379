"""Reading through the HubSpot connector and the real hubspot-api-client against the emulator: full
reads, incremental reads by cursor, the 10,000-result search cap, tombstones and associations."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.hubspot import emulator_search, emulator_values, testing
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.cursor import Position
from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_ratelimit import RateLimitConfig
from hub.ports import SourceRecord

T0 = 1_760_000_000_000  # a fixed past instant (ms)


@dataclass
class Clock:
    """One clock for the portal (record times) and the connector (read start), in ms."""

    now: int = T0

    def portal(self) -> int:
        return self.now

    def connector(self) -> float:
        return self.now / 1000


def connector_for(emulator: HubSpotEmulator, clock: Clock, **options: Any) -> HubSpotConnector:
    fast = {"search_per_second": 1000, "burst_max": 100_000}
    return testing.connector_for(
        emulator, "hubspot-test", clock=clock.connector, rate=fast, **options
    )


def seed_contacts(
    emulator: HubSpotEmulator, clock: Clock, count: int, start: int = 0, step: int = 1
) -> list[str]:
    """Insert straight into the portal (fast), ``step`` ms apart (0: all in one instant)."""
    otype = emulator.portal.object_type("contacts")
    ids = []
    for i in range(start, start + count):
        clock.now += step
        props = {"email": f"p{i}@example.com", "firstname": "P", "lastname": f"N{i}"}
        ids.append(emulator.portal.insert(otype, props).id)
    return ids


def records(items: list[Any]) -> list[SourceRecord]:
    assert all(isinstance(r, SourceRecord) for r in items), items
    return items


@pytest.fixture
def clock(emulator: HubSpotEmulator) -> Clock:
    clock = Clock()
    emulator.portal.clock = clock.portal
    return clock


def test_full_read_pages_through_every_record_with_fields_and_locations(
    emulator: HubSpotEmulator, clock: Clock
) -> None:
    ids = seed_contacts(emulator, clock, 250)
    connector = connector_for(emulator, clock)
    got = records(list(connector.read("contacts", None)))
    assert [r.external_id for r in got] == ids
    first = got[0]
    assert first.fields["email"] == "p0@example.com"
    assert first.fields["lastname"] == "N0"
    assert first.location == f"hubspot-test contacts/{ids[0]}"
    assert first.modified_at is not None
    assert first.modified_at.year == 2025
    assert not first.deleted
    # 250 records = 3 list pages of 100 (+1 archived-list call for tombstones).
    assert connector.client.operations["list contacts"] == 4
    # Only the last record of a full read carries the cursor: the read's start.
    assert [r.cursor for r in got[:-1]] == [None] * 249
    assert got[-1].cursor == str(clock.now)


def test_incremental_read_returns_only_what_changed_since_the_cursor(
    emulator: HubSpotEmulator, clock: Clock
) -> None:
    ids = seed_contacts(emulator, clock, 120)
    connector = connector_for(emulator, clock)
    cursor = records(list(connector.read("contacts", None)))[-1].cursor
    assert cursor is not None
    clock.now += 5
    emulator.portal.update("contacts", ids[7], {"lastname": "Changed"})
    clock.now += 5
    emulator.portal.update("contacts", ids[99], {"city": "Suzhou"})
    late = seed_contacts(emulator, clock, 1, start=500)
    changed = records(list(connector.read("contacts", cursor)))
    # The cursor's own instant is read again (boundaries are inclusive), then the three changes.
    assert [r.external_id for r in changed] == [ids[-1], ids[7], ids[99], late[0]]
    assert changed[1].fields["lastname"] == "Changed"
    times = [r.modified_at.timestamp() for r in changed if r.modified_at]
    assert times == sorted(times)  # ascending modified order
    cursors = [Position.decode(r.cursor or "") for r in changed]
    assert cursors == sorted(cursors)
    # Nothing changed since: the next read from the last cursor finds nothing new.
    again = records(list(connector.read("contacts", changed[-1].cursor)))
    assert [r.external_id for r in again] == [late[0]]  # the boundary instant only


def test_the_cursor_stays_behind_the_search_index_lag(
    emulator: HubSpotEmulator, clock: Clock
) -> None:
    old = seed_contacts(emulator, clock, 3)
    clock.now += 100_000
    recent = seed_contacts(emulator, clock, 1)
    connector = connector_for(emulator, clock, index_lag_seconds=60)
    got = records(list(connector.read("contacts", str(T0))))
    assert [r.external_id for r in got] == old + recent
    # Old changes carry their own position; a change from the last minute may be missing from
    # the search index, so no cursor passes "now - 60 s".
    assert [r.cursor for r in got[:3]] == [str(T0 + 1), str(T0 + 2), str(T0 + 3)]
    assert got[3].cursor == str(clock.now - 60_000)


@pytest.fixture
def fast_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's search scans and re-parses every stored timestamp per query; memoising that
    pure parser keeps a 10,000-record walk within seconds (the emulator's answers are unchanged)."""
    cached = functools.lru_cache(maxsize=None)(emulator_values.ms_from_value)
    monkeypatch.setattr(emulator_values, "ms_from_value", cached)
    monkeypatch.setattr(emulator_search, "ms_from_value", cached)


@pytest.mark.usefixtures("fast_search")
def test_more_than_10000_changes_in_one_instant_are_all_read() -> None:
    # Served without the spec recorder: validating ~50 pages of 200 records would take longer than
    # the walk itself, and search responses are validated by the other tests here.
    emulator = HubSpotEmulator(rate_limits=RateLimitConfig(enabled=False))
    clock = Clock()
    emulator.portal.clock = clock.portal
    seed_contacts(emulator, clock, 100)  # before the cursor: must not come back
    clock.now += 1_000
    cursor = str(clock.now)
    # A bulk import: 10,050 records stamped with the same millisecond ...
    same_instant = seed_contacts(emulator, clock, 10_050, start=1_000, step=0)
    # ... then 150 a millisecond apart, and 230 more sharing one later instant.
    near = seed_contacts(emulator, clock, 150, start=20_000)
    near += seed_contacts(emulator, clock, 230, start=30_000, step=0)
    clock.now += 1_000
    with emulator.serve():
        connector = connector_for(emulator, clock)
        got = records(list(connector.read("contacts", cursor)))
    ids = [r.external_id for r in got]
    assert len(ids) == len(set(ids)), "a record was yielded twice within one read"
    assert set(ids) == set(same_instant) | set(near)
    times = [r.modified_at.timestamp() for r in got if r.modified_at]
    assert times == sorted(times)
    cursors = [Position.decode(r.cursor or "") for r in got]
    assert cursors == sorted(cursors)
    # One query per page of 200: no query pages anywhere near the 10,000 cap.
    searches = connector.client.operations["search contacts"]
    print(f"\n{len(ids)} changed contacts read with {searches} search calls")
    assert searches <= len(ids) // 200 + 6


def test_an_interrupted_read_resumes_inside_a_crowded_instant(make_emulator: Any) -> None:
    emulator = make_emulator(rate_limits=RateLimitConfig(enabled=False))
    clock = Clock()
    emulator.portal.clock = clock.portal
    ids = seed_contacts(emulator, clock, 450, step=0)
    clock.now += 1_000
    connector = connector_for(emulator, clock, search_page_size=200)
    first = records(list(connector.read("contacts", str(T0))))
    assert sorted(r.external_id for r in first) == sorted(ids)
    # Stop after 250 records: the cursor of the 250th names the instant and the id inside it.
    resume = first[249].cursor
    assert resume is not None
    assert ":" in resume
    rest = records(list(connector.read("contacts", resume)))
    assert {r.external_id for r in first[250:]} <= {r.external_id for r in rest}
    assert len(rest) <= 450 - 249 + 1


def test_tombstones_for_records_archived_since_the_cursor(
    emulator: HubSpotEmulator, clock: Clock
) -> None:
    ids = seed_contacts(emulator, clock, 5)
    emulator.portal.archive("contacts", ids[0])  # archived before the cursor
    clock.now += 10
    connector = connector_for(emulator, clock)
    cursor = records(list(connector.read("contacts", None)))[-1].cursor
    assert cursor is not None
    clock.now += 1
    emulator.portal.archive("contacts", ids[3])
    got = records(list(connector.read("contacts", cursor)))
    deleted = [r for r in got if r.deleted]
    assert [r.external_id for r in deleted] == [ids[3]]
    assert deleted[0].modified_at is not None
    assert ids[0] not in {r.external_id for r in got}


def test_a_full_read_reports_every_archived_record(emulator: HubSpotEmulator, clock: Clock) -> None:
    ids = seed_contacts(emulator, clock, 4)
    emulator.portal.archive("contacts", ids[1])
    got = records(list(connector_for(emulator, clock).read("contacts", None)))
    assert [(r.external_id, r.deleted) for r in got if r.deleted] == [(ids[1], True)]
    assert {r.external_id for r in got if not r.deleted} == {ids[0], ids[2], ids[3]}


def test_the_company_of_each_contact_is_read_in_both_kinds_of_read(
    emulator: HubSpotEmulator, clock: Clock
) -> None:
    portal = emulator.portal
    acme = portal.create("companies", {"name": "Acme", "domain": "acme.com"})
    other = portal.create("companies", {"name": "Other", "domain": "other.com"})
    with_primary = portal.create("contacts", {"email": "a@acme.com"})
    portal.associate("contacts", with_primary.id, "companies", other.id, [279])
    portal.associate("contacts", with_primary.id, "companies", acme.id, [1])  # the primary
    plain = portal.create("contacts", {"email": "b@other.com"})
    portal.associate("contacts", plain.id, "companies", other.id, [279])
    alone = portal.create("contacts", {"email": "c@nowhere.com"})
    connector = connector_for(emulator, clock)
    full = {r.external_id: r for r in records(list(connector.read("contacts", None)))}
    assert full[with_primary.id].fields["associatedcompanyid"] == acme.id
    assert full[plain.id].fields["associatedcompanyid"] == other.id
    assert full[alone.id].fields["associatedcompanyid"] is None
    # The full list brings associations inline: no extra call.
    assert connector.client.operations["read associations contacts->companies"] == 0
    incremental = {r.external_id: r for r in records(list(connector.read("contacts", str(T0))))}
    assert incremental[with_primary.id].fields["associatedcompanyid"] == acme.id
    assert incremental[plain.id].fields["associatedcompanyid"] == other.id
    assert incremental[alone.id].fields["associatedcompanyid"] is None
    assert connector.client.operations["read associations contacts->companies"] == 1


def test_companies_read_by_hs_lastmodifieddate(emulator: HubSpotEmulator, clock: Clock) -> None:
    portal = emulator.portal
    before = portal.create("companies", {"name": "Before"})
    clock.now += 1
    cursor = str(clock.now)
    after = portal.create("companies", {"name": "After", "domain": "after.cn"})
    got = records(list(connector_for(emulator, clock).read("companies", cursor)))
    assert [r.external_id for r in got] == [after.id]
    assert got[0].fields["name"] == "After"
    assert before.id not in {r.external_id for r in got}
