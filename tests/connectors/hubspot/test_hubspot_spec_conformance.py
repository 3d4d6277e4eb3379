"""The spec check itself: it covers every route, it catches bad responses, and it sees the traffic.

Every test using the ``emulator``/``make_emulator`` fixtures has all its responses validated against
the official OpenAPI files at teardown (conftest.py); these tests make sure that net has no holes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from connectors.hubspot.emulator import ROUTES, HubSpotEmulator


def _example_path(template: str) -> str:
    values = {
        "objectType": "contacts",
        "fromObjectType": "contacts",
        "toObjectType": "companies",
        "objectId": "1001",
        "fromObjectId": "1001",
        "toObjectId": "2002",
        "propertyName": "email",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_is_an_operation_of_the_official_spec(route: Any, spec_check: Any) -> None:
    path = _example_path(route.path)
    _, spec = spec_check.load_spec(spec_check.spec_file_for(path))
    operation = spec_check.operation_for(spec, route.method, path)
    assert "default" in operation["responses"]  # errors validate against the shared Error schema


def _object(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": "1",
        "properties": {"email": "a@b.cn"},
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-01-01T00:00:00.000Z",
        "archived": False,
    }
    body.update(overrides)
    return body


def _exchange(method: str, path: str, status: int, body: Any) -> tuple[str, str, int, Any]:
    return method, path, status, body


def _validate(spec_check: Any, exchange: tuple[str, str, int, Any]) -> None:
    method, path, status, body = exchange
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    spec_check.validate_exchange(
        spec_check.Exchange(method, path, "", b"", status, headers, raw, True)
    )


def test_a_conforming_response_passes(spec_check: Any) -> None:
    _validate(spec_check, _exchange("GET", "/crm/v3/objects/contacts/1", 200, _object()))
    _validate(spec_check, _exchange("DELETE", "/crm/v3/objects/contacts/1", 204, None))


@pytest.mark.parametrize(
    ("exchange", "why"),
    [
        (_exchange("GET", "/crm/v3/objects/contacts/1", 200, {"id": "1"}), "missing required keys"),
        (
            _exchange("GET", "/crm/v3/objects/contacts/1", 200, _object(properties={"n": None})),
            "null value",
        ),
        (_exchange("POST", "/crm/v3/objects/contacts", 200, _object()), "create must be 201"),
        (_exchange("DELETE", "/crm/v3/objects/contacts/1", 204, {"x": 1}), "204 with a body"),
        (
            _exchange(
                "GET", "/crm/v3/objects/contacts/1", 404, {"message": "m", "correlationId": "c"}
            ),
            "error without category",
        ),
        (
            _exchange(
                "POST",
                "/crm/v3/objects/contacts/batch/read",
                207,
                {
                    "status": "COMPLETE",
                    "results": [],
                    "startedAt": "2024-01-01T00:00:00Z",
                    "completedAt": "2024-01-01T00:00:00Z",
                    "errors": [{"status": "error", "message": "m"}],
                },
            ),
            "StandardError missing keys",
        ),
        (
            _exchange(
                "GET",
                "/crm/v4/objects/contacts/1/associations/companies",
                200,
                {
                    "results": [{"toObjectId": 2, "associationTypes": []}],
                },
            ),
            "v4 toObjectId must be a string",
        ),
    ],
)
def test_a_nonconforming_response_is_caught(
    spec_check: Any, exchange: tuple[str, str, int, Any], why: str
) -> None:
    with pytest.raises(AssertionError):
        _validate(spec_check, exchange)


def test_the_recorder_sees_and_validates_real_traffic(
    emulator: HubSpotEmulator, client: Any, recorder_box: list[Any], spec_check: Any
) -> None:
    client.crm.contacts.basic_api.get_page()
    client.crm.properties.core_api.get_all("companies")
    [recorder] = recorder_box
    assert [(e.method, e.path, e.status) for e in recorder.exchanges] == [
        ("GET", "/crm/v3/objects/contacts", 200),
        ("GET", "/crm/v3/properties/companies", 200),
    ]
    for exchange in recorder.exchanges:
        spec_check.validate_exchange(exchange)


def test_generic_object_type_ids_are_served_and_validated(
    emulator: HubSpotEmulator, client: Any
) -> None:
    created = emulator.portal.create("contacts", {"email": "g@example.com"})
    fetched = client.crm.objects.basic_api.get_by_id("0-1", created.id, properties=["email"])
    assert fetched.properties["email"] == "g@example.com"
    page = client.crm.objects.search_api.do_search(
        "0-2", {"filterGroups": [], "sorts": [], "properties": [], "limit": 10, "after": "0"}
    )
    assert page.total == 0
