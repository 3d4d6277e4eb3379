"""Owners by email: ``hubspot_owner_id`` read as the owner's email and written back from it.

The emulator has no owners API, so these tests put a small ``GET /crm/v3/owners/`` in front of it,
answering in the documented shape (``results[]`` of ``{id, email, firstName, lastName, userId,
createdAt, updatedAt, archived}``, ``paging.next.after``), paged two owners at a time so paging is
exercised. Everything else is the emulator, reached through the real client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from connectors.emulation import ASGIApp, Receive, Scope, Send
from connectors.hubspot import testing
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator import HubSpotEmulator
from hub.ports import SourceRecord, Write, WriteOp

OWNERS = [
    {"id": "501", "email": "Wang.Li@example.com", "firstName": "Li", "lastName": "Wang"},
    {"id": "502", "email": "chen.yu@example.com", "firstName": "Yu", "lastName": "Chen"},
    {"id": "503", "email": "zhao.min@example.com", "firstName": "Min", "lastName": "Zhao"},
]


class OwnersRoute:
    def __init__(self, app: ASGIApp, owners: list[dict[str, Any]]) -> None:
        self.app = app
        self.owners = owners
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/crm/v3/owners/":
            await self.app(scope, receive, send)
            return
        self.requests += 1
        query = parse_qs(scope["query_string"].decode())
        start = int(query.get("after", ["0"])[0])
        page = self.owners[start : start + 2]
        body: dict[str, Any] = {
            "results": [
                {
                    **owner,
                    "userId": int(owner["id"]) * 10,
                    "createdAt": "2024-01-01T00:00:00.000Z",
                    "updatedAt": "2024-01-01T00:00:00.000Z",
                    "archived": False,
                }
                for owner in page
            ]
        }
        if start + 2 < len(self.owners):
            body["paging"] = {"next": {"after": str(start + 2)}}
        raw = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


@pytest.fixture
def served() -> Iterator[tuple[HubSpotEmulator, OwnersRoute]]:
    emulator = HubSpotEmulator()
    box: list[OwnersRoute] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        box.append(OwnersRoute(app, list(OWNERS)))
        return box[0]

    with emulator.serve(wrap=wrap):
        yield emulator, box[0]


def connector_for(emulator: HubSpotEmulator) -> HubSpotConnector:
    return testing.connector_for(emulator, "hubspot-test", resolve_owners=True)


def test_owner_ids_are_read_as_owner_emails(served: tuple[HubSpotEmulator, OwnersRoute]) -> None:
    emulator, owners = served
    a = emulator.portal.create("contacts", {"email": "a@x.com", "hubspot_owner_id": "503"})
    b = emulator.portal.create("contacts", {"email": "b@x.com", "hubspot_owner_id": "501"})
    c = emulator.portal.create("contacts", {"email": "c@x.com"})
    got = {
        r.external_id: r.fields
        for r in connector_for(emulator).read("contacts", None)
        if isinstance(r, SourceRecord)
    }
    assert got[a.id]["hubspot_owner_email"] == "zhao.min@example.com"
    assert got[b.id]["hubspot_owner_email"] == "wang.li@example.com"  # compared lower-cased
    assert got[b.id]["hubspot_owner_id"] == "501"
    assert "hubspot_owner_email" not in got[c.id]
    assert owners.requests == 2  # the directory, paged once, for the whole read


def test_owner_emails_are_written_as_owner_ids(served: tuple[HubSpotEmulator, OwnersRoute]) -> None:
    emulator, _ = served
    connector = connector_for(emulator)
    writes = [
        Write(
            WriteOp.UPSERT,
            "contacts",
            "per_" + "1" * 26,
            {"email": "p@x.com", "hubspot_owner_email": "CHEN.YU@example.com"},
        ),
        Write(
            WriteOp.UPSERT,
            "contacts",
            "per_" + "2" * 26,
            {"email": "q@x.com", "hubspot_owner_email": "left@example.com"},
        ),
    ]
    first, second = connector.write("contacts", writes)
    assert first.ok
    assert second.ok  # an unknown owner is left unset, not an error
    assert (
        emulator.portal.get("contacts", first.external_id or "").properties["hubspot_owner_id"]
        == "502"
    )
    assert (
        "hubspot_owner_id"
        not in emulator.portal.get("contacts", second.external_id or "").properties
    )


def test_check_reports_owners_resolvable(served: tuple[HubSpotEmulator, OwnersRoute]) -> None:
    emulator, _ = served
    result = connector_for(emulator).check()
    assert result.ok
    assert ("owners", True, "owner emails resolvable") in result.checks


def test_without_an_owners_api_records_are_read_and_owners_left_out() -> None:
    emulator = HubSpotEmulator()  # answers 404 for the owners API
    with emulator.serve():
        record = emulator.portal.create("contacts", {"email": "a@x.com", "hubspot_owner_id": "7"})
        connector = connector_for(emulator)
        [got] = [r for r in connector.read("contacts", None) if isinstance(r, SourceRecord)]
        check = connector.check()
    assert got.external_id == record.id
    assert got.fields["hubspot_owner_id"] == "7"
    assert "hubspot_owner_email" not in got.fields
    assert check.ok
    owners = next(c for c in check.checks if c[0] == "owners")
    assert "owners cannot be read" in owners[2]
