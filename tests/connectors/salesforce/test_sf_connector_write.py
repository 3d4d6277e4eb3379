"""Writing through the connector: Collections upserts by the external id, per-record results,
idempotent retries, deletes, the account cascade guard and merges. Real simple-salesforce against
the emulator."""

from __future__ import annotations

from typing import Any

from connectors.salesforce.emulator import RunningSalesforce
from connectors.salesforce.org import Org
from connectors.salesforce.testing import connector_for
from hub.ports import Write, WriteOp


def person(n: int, **fields: Any) -> Write:
    return Write(WriteOp.UPSERT, "Contact", f"per_{n:026d}", {"LastName": f"Person {n}", **fields})


def company(n: int, **fields: Any) -> Write:
    return Write(WriteOp.UPSERT, "Account", f"cmp_{n:026d}", {"Name": f"Company {n}", **fields})


def collection_calls(org: Org, method: str, path: str) -> int:
    return sum(1 for e in org.request_log if e.method == method and e.path.endswith(path))


def test_450_upserts_take_3_collection_calls_and_report_in_order(
    running: RunningSalesforce,
) -> None:
    org = running.org
    connector = connector_for(running)
    writes = [person(n, Email=f"p{n}@example.com") for n in range(450)]
    before = org.api_calls

    results = connector.write("Contact", writes)

    calls = org.api_calls - before
    assert calls == 3
    assert collection_calls(org, "PATCH", "/composite/sobjects/Contact/Huitong_Id__c") == 3
    print(f"\nSalesforce write: {calls} API calls for 450 upserts = {calls / 0.45:.2f} per 1,000")
    assert all(r.ok and r.created for r in results)
    stored = {r["Huitong_Id__c"]: r for r in org.records("Contact")}
    assert len(stored) == 450
    for write, result in zip(writes, results, strict=True):
        assert stored[write.canonical_id]["Id"] == result.external_id
        assert stored[write.canonical_id]["Email"] == write.fields["Email"]


def test_a_retried_batch_creates_no_duplicates(running: RunningSalesforce) -> None:
    org = running.org
    connector = connector_for(running)
    writes = [person(n) for n in range(250)]

    first = connector.write("Contact", writes)
    again = connector.write("Contact", writes)

    assert len(org.records("Contact")) == 250
    assert [r.external_id for r in again] == [r.external_id for r in first]
    assert not any(r.created for r in again)
    assert all(r.ok for r in again)


def test_one_invalid_record_fails_alone(running: RunningSalesforce) -> None:
    org = running.org
    writes = [person(n) for n in range(200)]
    writes[57] = Write(WriteOp.UPSERT, "Contact", "per_bad", {"FirstName": "No last name"})

    results = connector_for(running).write("Contact", writes)

    bad = results[57]
    assert not bad.ok
    assert not bad.retriable
    assert bad.error is not None
    assert bad.error.startswith("REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]")
    assert "(fields: LastName)" in bad.error
    assert sum(r.ok for r in results) == 199
    assert len(org.records("Contact")) == 199
    assert collection_calls(org, "PATCH", "/composite/sobjects/Contact/Huitong_Id__c") == 1


def test_contacts_link_to_their_account_by_account_id(running: RunningSalesforce) -> None:
    org = running.org
    connector = connector_for(running)
    (account,) = connector.write("Account", [company(1, Website="https://acme.example")])
    assert account.external_id is not None

    (contact,) = connector.write("Contact", [person(1, AccountId=account.external_id)])

    stored = org.record(str(contact.external_id))
    assert stored is not None
    assert stored["AccountId"] == account.external_id


def test_a_known_record_is_updated_by_id_and_stamped(running: RunningSalesforce) -> None:
    """A record that existed in Salesforce before the hub (no external id yet) is not duplicated."""
    org = running.org
    existing = org.seed("Contact", {"LastName": "Zhang", "Email": "old@example.com"})
    write = Write(
        WriteOp.UPSERT, "Contact", "per_known", {"LastName": "Zhang", "Email": "new@example.com"},
        external_id=existing,
    )  # fmt: skip

    (result,) = connector_for(running).write("Contact", [write])

    assert result.ok
    assert not result.created
    assert result.external_id == existing
    (stored,) = org.records("Contact")
    assert stored["Email"] == "new@example.com"
    assert stored["Huitong_Id__c"] == "per_known"  # later upserts by external id find it
    assert collection_calls(org, "PATCH", "/composite/sobjects") == 1


def test_the_same_record_twice_in_a_batch_is_sent_once(running: RunningSalesforce) -> None:
    org = running.org
    writes = [person(1, Title="CEO"), person(1, Title="Chair")]

    results = connector_for(running).write("Contact", writes)

    assert all(r.ok for r in results)
    assert results[0].external_id == results[1].external_id
    (stored,) = org.records("Contact")
    assert stored["Title"] == "Chair"  # the later write wins


def test_owner_email_becomes_owner_id(running: RunningSalesforce) -> None:
    org = running.org
    wang = org.add_user("wang@huitong.example", email="Wang.Wei@huitong.example", last_name="Wang")
    writes = [
        company(1, **{"Owner.Email": "wang.wei@huitong.example"}),
        company(2, **{"Owner.Email": "nobody@huitong.example"}),
    ]

    results = connector_for(running).write("Account", writes)

    assert all(r.ok for r in results)
    owners = {r["Name"]: r["OwnerId"] for r in org.records("Account")}
    assert owners["Company 1"] == wang
    assert owners["Company 2"] == org.admin_id  # unknown email: Salesforce's default owner


def test_a_related_record_field_is_refused_per_record(running: RunningSalesforce) -> None:
    results = connector_for(running).write("Contact", [person(1, **{"Account.Name": "Acme"})])
    assert not results[0].ok
    assert results[0].error is not None
    assert "AccountId" in results[0].error


def test_deletes_by_id_and_by_canonical_id_are_idempotent(running: RunningSalesforce) -> None:
    org = running.org
    connector = connector_for(running)
    created = connector.write("Contact", [person(n) for n in range(3)])
    deletes = [
        Write(WriteOp.DELETE, "Contact", "per_" + "0" * 26, {}, external_id=created[0].external_id),
        Write(WriteOp.DELETE, "Contact", f"per_{1:026d}", {}),  # the hub lost the Salesforce Id
        Write(WriteOp.DELETE, "Contact", "per_never_written", {}),
    ]

    results = connector.write("Contact", deletes)

    assert [r.ok for r in results] == [True, True, True]
    assert results[1].external_id == created[1].external_id
    assert [r["Id"] for r in org.records("Contact")] == [created[2].external_id]
    assert collection_calls(org, "DELETE", "/composite/sobjects") == 1
    again = connector.write("Contact", deletes[:2])  # a retry after a timeout
    assert [r.ok for r in again] == [True, True]


def test_an_account_with_contacts_is_not_deleted_by_accident(running: RunningSalesforce) -> None:
    org = running.org
    account = org.seed("Account", {"Name": "Acme", "Huitong_Id__c": "cmp_acme"})
    org.seed("Contact", {"LastName": "Li", "AccountId": account})
    empty = org.seed("Account", {"Name": "Empty", "Huitong_Id__c": "cmp_empty"})
    deletes = [
        Write(WriteOp.DELETE, "Account", "cmp_acme", {}, external_id=account),
        Write(WriteOp.DELETE, "Account", "cmp_empty", {}, external_id=empty),
    ]

    results = connector_for(running).write("Account", deletes)

    assert not results[0].ok
    assert results[0].error is not None
    assert "1 related Contact" in results[0].error
    assert results[1].ok
    assert [r["Id"] for r in org.records("Account")] == [account]
    assert len(org.records("Contact")) == 1


def test_a_hub_merge_moves_contacts_and_leaves_the_account_for_a_person(
    running: RunningSalesforce,
) -> None:
    org = running.org
    survivor = org.seed("Account", {"Name": "Acme Ltd"})
    loser = org.seed("Account", {"Name": "ACME"})
    contacts = [org.seed("Contact", {"LastName": f"C{n}", "AccountId": loser}) for n in range(3)]
    merge = Write(WriteOp.DELETE, "Account", "cmp_loser", {"merged_into": survivor}, loser)

    (result,) = connector_for(running).write("Account", [merge])

    assert not result.ok
    assert not result.retriable
    assert result.error is not None
    assert result.error.startswith(f"left for a person: merge Account {loser} into {survivor}")
    assert all((org.record(c) or {})["AccountId"] == survivor for c in contacts)
    assert {r["Id"] for r in org.records("Account")} == {survivor, loser}


def test_a_hub_merge_in_delete_mode_deletes_after_moving(running: RunningSalesforce) -> None:
    org = running.org
    survivor = org.seed("Account", {"Name": "Acme Ltd"})
    loser = org.seed("Account", {"Name": "ACME"})
    contact = org.seed("Contact", {"LastName": "Li", "AccountId": loser})
    merge = Write(WriteOp.DELETE, "Account", "cmp_loser", {"merged_into": survivor}, loser)

    (result,) = connector_for(running, merge_mode="delete").write("Account", [merge])

    assert result.ok
    assert [r["Id"] for r in org.records("Account")] == [survivor]
    assert (org.record(contact) or {})["AccountId"] == survivor
    assert not (org.record(contact) or {})["IsDeleted"]  # moved first, so the cascade missed it
