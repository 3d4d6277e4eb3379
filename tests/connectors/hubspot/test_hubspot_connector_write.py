"""Writing through the HubSpot connector and the real hubspot-api-client against the emulator: batches
of 100, upserts keyed on the canonical id, retried batches without duplicates, bad records isolated,
associations, deletes and merges."""

from __future__ import annotations

from typing import Any

from connectors.emulation import ASGIApp, Message, Receive, Scope, Send
from connectors.hubspot import testing
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator import HubSpotEmulator
from hub.ports import SourceRecord, Write, WriteOp


def connector_for(emulator: HubSpotEmulator, **options: Any) -> HubSpotConnector:
    return testing.connector_for(emulator, "hubspot-test", **options)


def person(n: int, **fields: Any) -> Write:
    values = {"email": f"person{n}@example.com", "firstname": "Wei", "lastname": f"Li{n}"}
    return Write(WriteOp.UPSERT, "contacts", f"per_{n:026d}", {**values, **fields})


def calls(emulator: HubSpotEmulator, path: str) -> int:
    return emulator.portal.call_count("POST", path)


def test_250_upserts_are_three_calls_with_one_result_each_in_order(
    emulator: HubSpotEmulator,
) -> None:
    connector = connector_for(emulator)
    writes = [person(n) for n in range(250)]
    results = connector.write("contacts", writes)
    assert calls(emulator, "/crm/v3/objects/contacts/batch/upsert") == 3
    assert len(results) == 250
    assert all(r.ok and r.created for r in results)
    for write, result in zip(writes, results, strict=True):
        stored = emulator.portal.get("contacts", result.external_id or "")
        assert stored.properties["huitong_id"] == write.canonical_id
        assert stored.properties["email"] == write.fields["email"]
    assert emulator.portal.count("contacts") == 250
    again = connector.write("contacts", [person(n, lastname="Zhang") for n in range(250)])
    assert [r.external_id for r in again] == [r.external_id for r in results]
    assert not any(r.created for r in again)
    assert emulator.portal.count("contacts") == 250


class DropAfterApply:
    """Runs the emulator's app to completion (the batch is applied), then drops the connection
    instead of answering, for the first ``times`` requests to ``path``: the response is lost."""

    def __init__(self, app: ASGIApp, path: str, times: int) -> None:
        self.app = app
        self.path = path
        self.times = times
        self.dropped = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or self.dropped >= self.times:
            await self.app(scope, receive, send)
            return
        self.dropped += 1

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"5000"), (b"content-type", b"application/json")],
            }
        )
        raise ConnectionAbortedError("response lost after the batch was applied")


def test_a_batch_retried_after_its_response_was_lost_creates_no_duplicates(
    emulator: HubSpotEmulator,
) -> None:
    path = "/crm/v3/objects/contacts/batch/upsert"
    # FaultPlan's "drop" fires before the app runs; this drop comes after the write was applied.
    injector: Any = emulator.app
    dropper = DropAfterApply(injector.app, path, times=1)
    injector.app = dropper
    connector = connector_for(emulator)
    results = connector.write("contacts", [person(n) for n in range(30)])
    assert dropper.dropped == 1
    assert connector.client.operations["batch upsert contacts"] == 2  # the lost one, then a retry
    assert calls(emulator, path) == 2  # and no silent retry by urllib3 underneath
    assert all(r.ok for r in results)
    assert emulator.portal.count("contacts") == 30  # the retry found the 30 and updated them
    assert len({r.external_id for r in results}) == 30


def test_one_invalid_record_is_isolated_and_the_rest_land(emulator: HubSpotEmulator) -> None:
    connector = connector_for(emulator)
    writes = [person(n) for n in range(40)]
    writes[17] = person(17, email="not-an-email")
    results = connector.write("contacts", writes)
    bad = results[17]
    assert not bad.ok
    assert not bad.retriable
    assert bad.error is not None
    assert "INVALID_EMAIL" in bad.error
    assert "not-an-email" in bad.error
    assert all(r.ok for i, r in enumerate(results) if i != 17)
    assert emulator.portal.count("contacts") == 39
    # The whole batch was refused once, then halves until the bad one stood alone: log2 calls.
    assert calls(emulator, "/crm/v3/objects/contacts/batch/upsert") <= 1 + 2 * 6


def test_a_known_hubspot_record_is_updated_by_id_and_stamped_not_duplicated(
    emulator: HubSpotEmulator,
) -> None:
    # A contact created in HubSpot, read by the hub, now written back with its HubSpot id.
    native = emulator.portal.create("contacts", {"email": "native@example.com"})
    connector = connector_for(emulator)
    write = Write(
        WriteOp.UPSERT,
        "contacts",
        "per_native0000000000000000000",
        {"email": "native@example.com", "jobtitle": "CTO"},
        external_id=native.id,
    )
    [result] = connector.write("contacts", [write])
    assert result.ok
    assert result.external_id == native.id
    assert not result.created
    assert emulator.portal.count("contacts") == 1
    stored = emulator.portal.get("contacts", native.id)
    assert stored.properties["jobtitle"] == "CTO"
    assert stored.properties["huitong_id"] == write.canonical_id
    # From now on an upsert by the canonical id finds it too.
    [again] = connector.write(
        "contacts", [Write(WriteOp.UPSERT, "contacts", write.canonical_id, {"city": "Xiamen"})]
    )
    assert again.ok
    assert again.external_id == native.id
    assert not again.created


def test_two_writes_for_one_record_in_a_batch_become_one_input(emulator: HubSpotEmulator) -> None:
    connector = connector_for(emulator)
    results = connector.write("contacts", [person(1), person(2), person(1, lastname="Later")])
    assert all(r.ok for r in results)
    assert results[0].external_id == results[2].external_id
    assert (
        emulator.portal.get("contacts", results[0].external_id or "").properties["lastname"]
        == "Later"
    )
    assert emulator.portal.count("contacts") == 2


def test_contacts_are_associated_with_their_company_and_read_back(
    emulator: HubSpotEmulator,
) -> None:
    connector = connector_for(emulator)
    companies = connector.write(
        "companies",
        [
            Write(
                WriteOp.UPSERT,
                "companies",
                f"cmp_{n:026d}",
                {"name": f"Co {n}", "domain": f"co{n}.cn"},
            )
            for n in range(2)
        ],
    )
    company_ids = [c.external_id for c in companies]
    writes = [person(n, associatedcompanyid=company_ids[n % 2]) for n in range(150)]
    results = connector.write("contacts", writes)
    assert all(r.ok for r in results)
    # Two upsert calls and one association call per batch of 100.
    assert calls(emulator, "/crm/v4/associations/contacts/companies/batch/create") == 2
    for n, result in enumerate(results):
        links = emulator.portal.associations_of("contacts", result.external_id or "", "companies")
        assert [(to_id, 1 in types) for to_id, types in links] == [(company_ids[n % 2], True)]
    read = {
        r.external_id: r.fields["associatedcompanyid"]
        for r in connector.read("contacts", None)
        if isinstance(r, SourceRecord)
    }
    assert read == {r.external_id: company_ids[n % 2] for n, r in enumerate(results)}


def test_a_failed_association_fails_that_write_only(emulator: HubSpotEmulator) -> None:
    connector = connector_for(emulator)
    results = connector.write(
        "contacts", [person(1), person(2, associatedcompanyid="999999"), person(3)]
    )
    assert results[0].ok
    assert results[2].ok
    assert not results[1].ok
    assert results[1].external_id  # the contact itself was written
    assert results[1].error is not None
    assert "999999" in results[1].error


def test_deletes_archive_by_hubspot_id_or_canonical_id(emulator: HubSpotEmulator) -> None:
    connector = connector_for(emulator)
    created = connector.write("contacts", [person(n) for n in range(3)])
    deletes = [
        Write(
            WriteOp.DELETE,
            "contacts",
            person(0).canonical_id,
            {},
            external_id=created[0].external_id,
        ),
        Write(WriteOp.DELETE, "contacts", person(1).canonical_id, {}),  # found by huitong_id
        Write(WriteOp.DELETE, "contacts", "per_neverwritten00000000000000", {}),
    ]
    results = connector.write("contacts", deletes)
    assert all(r.ok for r in results)
    assert [r.external_id for r in results] == [
        created[0].external_id,
        created[1].external_id,
        None,
    ]
    assert [o.id for o in emulator.portal.live_objects("contacts")] == [created[2].external_id]
    assert calls(emulator, "/crm/v3/objects/contacts/batch/archive") == 1


def test_merge_keeps_the_survivor_and_a_retried_merge_is_harmless(
    emulator: HubSpotEmulator,
) -> None:
    connector = connector_for(emulator)
    first, second = connector.write("contacts", [person(1), person(2, jobtitle="Engineer")])
    result = connector.merge("contacts", first.external_id or "", second.external_id or "")
    assert result.ok
    assert result.external_id == first.external_id
    assert emulator.portal.count("contacts") == 1
    assert (
        emulator.portal.get("contacts", first.external_id or "").properties["jobtitle"]
        == "Engineer"
    )
    replay = connector.merge("contacts", first.external_id or "", second.external_id or "")
    assert replay.ok
    assert replay.external_id == first.external_id


def test_merge_reports_the_new_id_when_hubspot_gives_one(emulator: HubSpotEmulator) -> None:
    emulator.portal.merge_creates_new_id = True
    connector = connector_for(emulator)
    first, second = connector.write(
        "companies",
        [
            Write(WriteOp.UPSERT, "companies", f"cmp_{n:026d}", {"name": f"Co {n}"})
            for n in range(2)
        ],
    )
    result = connector.merge("companies", first.external_id or "", second.external_id or "")
    assert result.ok
    assert result.external_id not in (first.external_id, second.external_id)
    assert emulator.portal.get("companies", result.external_id or "").properties["name"] == "Co 0"


def test_owner_emails_are_dropped_quietly_when_owners_cannot_be_resolved(
    emulator: HubSpotEmulator,
) -> None:
    connector = connector_for(emulator)  # resolve_owners off: the field is not a property
    [result] = connector.write("contacts", [person(1, hubspot_owner_email="boss@example.com")])
    assert result.ok
    assert (
        "hubspot_owner_id"
        not in emulator.portal.get("contacts", result.external_id or "").properties
    )


def test_an_association_hubspot_already_holds_is_not_written_again(
    emulator: HubSpotEmulator,
) -> None:
    connector = connector_for(emulator)
    acme, other = connector.write(
        "companies",
        [
            Write(WriteOp.UPSERT, "companies", f"cmp_{n:026d}", {"name": f"Co {n}"})
            for n in range(2)
        ],
    )
    writes = [person(n, associatedcompanyid=acme.external_id) for n in range(10)]
    first = connector.write("contacts", writes)
    connector.write("contacts", writes)  # the same companies again: nothing to associate
    path = "/crm/v4/associations/contacts/companies/batch/create"
    assert calls(emulator, path) == 1
    # Someone makes another company the primary in HubSpot; the next read sees it ...
    moved = first[0].external_id or ""
    emulator.portal.associate("contacts", moved, "companies", other.external_id or "", [1])
    list(connector.read("contacts", None))
    # ... so the next write puts the hub's company back, for that contact only.
    connector.write("contacts", writes)
    assert calls(emulator, path) == 2
    links = emulator.portal.associations_of("contacts", moved, "companies")
    assert [to_id for to_id, types in links if 1 in types] == [acme.external_id]
