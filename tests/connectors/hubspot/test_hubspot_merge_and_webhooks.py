"""Merge through the real client, and signed webhook deliveries to a real HTTP receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hubspot.crm.contacts import PublicMergeInput, SimplePublicObjectInput
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.emulation import LoopbackServer
from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_portal import Portal
from connectors.hubspot.signature import verify_v1, verify_v3


def test_merge_keeps_primary_fills_blanks_and_redirects_the_merged_id(
    emulator: HubSpotEmulator, client: Any
) -> None:
    portal = emulator.portal
    primary = portal.create("contacts", {"email": "keep@example.com", "firstname": "Keep"})
    secondary = portal.create(
        "contacts", {"email": "gone@example.com", "firstname": "Gone", "phone": "+86 21 5555"}
    )
    company = portal.create("companies", {"name": "Acme"})
    portal.associate("contacts", secondary.id, "companies", company.id, [1])
    merged = client.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=primary.id, object_id_to_merge=secondary.id)
    )
    assert merged.id == primary.id
    assert merged.properties["firstname"] == "Keep"  # the primary's value wins
    assert merged.properties["phone"] == "+86 21 5555"  # blanks are filled from the secondary
    assert merged.properties["hs_merged_object_ids"] == secondary.id
    # The merged-away id (and email) now resolve to the survivor.
    assert client.crm.contacts.basic_api.get_by_id(secondary.id).id == primary.id
    assert (
        client.crm.contacts.basic_api.get_by_id("gone@example.com", id_property="email").id
        == primary.id
    )
    assert [o.id for o in portal.live_objects("contacts")] == [primary.id]
    assert portal.associations_of("contacts", primary.id, "companies") == [(company.id, {1, 279})]
    # Writes to the old id land on the survivor.
    client.crm.contacts.basic_api.update(
        secondary.id, SimplePublicObjectInput(properties={"lastname": "L"})
    )
    assert portal.get("contacts", primary.id).properties["lastname"] == "L"


def test_merge_can_give_the_survivor_a_new_id(make_emulator: Any) -> None:
    emulator = make_emulator(portal=Portal(merge_creates_new_id=True))
    a = emulator.portal.create("companies", {"name": "A"}).id
    b = emulator.portal.create("companies", {"name": "B", "domain": "b.cn"}).id
    client = emulator.client()
    merged = client.crm.companies.basic_api.merge({"primaryObjectId": a, "objectIdToMerge": b})
    assert merged.id not in (a, b)
    assert set(merged.properties["hs_merged_object_ids"].split(";")) == {a, b}
    assert (
        client.crm.companies.basic_api.get_by_id(a).id
        == client.crm.companies.basic_api.get_by_id(b).id
        == merged.id
    )


@dataclass
class Receiver:
    secret: str
    status: int = 204
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        self.received.append(
            {
                "events": json.loads(body),
                "v3_ok": verify_v3(
                    self.secret,
                    request.method,
                    str(request.url),
                    body,
                    headers["x-hubspot-request-timestamp"],
                    headers["x-hubspot-signature-v3"],
                ),
                "v1_ok": verify_v1(self.secret, body, headers["x-hubspot-signature"]),
                "version": headers["x-hubspot-signature-version"],
            }
        )
        return Response(status_code=self.status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    box = Receiver(secret="client-secret-123")
    app = Starlette(routes=[Route("/hooks/hubspot", box.handle, methods=["POST"])])
    with LoopbackServer(app) as server:
        yield box, f"{server.url}/hooks/hubspot?source=hubspot"


def test_webhook_deliveries_are_signed_and_shaped(
    emulator: HubSpotEmulator, client: Any, receiver: tuple[Receiver, str]
) -> None:
    box, url = receiver
    hooks = emulator.webhooks
    hooks.client_secret, hooks.target_url = box.secret, url
    hooks.subscribe_all()
    portal = emulator.portal
    contact = portal.create("contacts", {"email": "w@example.com", "firstname": "W"})
    other = portal.create("contacts", {"email": "w2@example.com"})
    company = portal.create("companies", {"name": "Acme"})
    client.crm.contacts.basic_api.update(
        contact.id, SimplePublicObjectInput(properties={"firstname": "Wu"})
    )
    client.crm.associations.v4.basic_api.create_default(
        "contacts", contact.id, "companies", company.id
    )
    client.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=contact.id, object_id_to_merge=other.id)
    )
    client.crm.companies.basic_api.archive(company.id)
    deliveries = hooks.flush()
    assert [d.status for d in deliveries] == [204]
    [request] = box.received
    assert request["v3_ok"]
    assert request["v1_ok"]
    assert request["version"] == "v1"
    events = request["events"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["subscriptionType"], []).append(event)
        assert {
            "eventId",
            "subscriptionId",
            "portalId",
            "appId",
            "occurredAt",
            "attemptNumber",
            "objectId",
        } <= set(event)
    assert {e["objectId"] for e in by_type["contact.creation"]} == {int(contact.id), int(other.id)}
    change = [e for e in by_type["contact.propertyChange"] if e["propertyValue"] == "Wu"]
    assert change
    assert change[0]["propertyName"] == "firstname"
    [merge] = by_type["contact.merge"]
    assert merge["primaryObjectId"] == int(contact.id)
    assert merge["mergedObjectIds"] == [int(other.id)]
    assert merge["newObjectId"] == int(contact.id)
    contact_side = by_type["contact.associationChange"][0]
    assert contact_side["associationType"] == "CONTACT_TO_COMPANY"
    assert (contact_side["fromObjectId"], contact_side["toObjectId"]) == (
        int(contact.id),
        int(company.id),
    )
    assert by_type["company.associationChange"][0]["associationType"] == "COMPANY_TO_CONTACT"
    assert by_type["company.deletion"][0]["objectId"] == int(company.id)
    assert len({e["eventId"] for e in events}) == len(events)


def test_webhook_batches_of_100_and_retries_with_attempt_number(
    emulator: HubSpotEmulator, receiver: tuple[Receiver, str]
) -> None:
    box, url = receiver
    hooks = emulator.webhooks
    hooks.client_secret, hooks.target_url = box.secret, url
    hooks.subscribe("company.creation")
    for i in range(250):
        emulator.portal.create("companies", {"name": f"c{i}"})
    box.status = 500
    failed = hooks.flush()
    assert [len(d.events) for d in failed] == [100, 100, 50]
    assert all(d.status == 500 for d in failed)
    box.status = 200
    retried = hooks.flush()
    assert all(d.status == 200 for d in retried)
    assert {e["attemptNumber"] for d in retried for e in d.events} == {1}
    assert not hooks.pending
