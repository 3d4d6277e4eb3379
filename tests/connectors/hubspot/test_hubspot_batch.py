"""Batch endpoints via the real client: 100-input limit, 201/200/207/204, upsert by idProperty."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)

from connectors.hubspot.emulator import HubSpotEmulator

STANDARD_ERROR_KEYS = {"status", "category", "message", "errors", "context", "links"}


def _create_inputs(n: int, prefix: str = "b") -> BatchInputSimplePublicObjectBatchInputForCreate:
    return BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(
                properties={"email": f"{prefix}{i}@example.com"}, associations=[]
            )
            for i in range(n)
        ]
    )


def test_batch_create_100_is_201_and_101_is_rejected(
    emulator: HubSpotEmulator, client: Any
) -> None:
    _, status, _ = client.crm.contacts.batch_api.create_with_http_info(_create_inputs(100))
    assert status == 201
    assert emulator.portal.count("contacts") == 100
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.create(_create_inputs(101, prefix="c"))
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert "maximum number of inputs" in body["message"]
    assert emulator.portal.count("contacts") == 100


def test_batch_create_with_an_existing_email_fails_whole_request_with_409(
    emulator: HubSpotEmulator, client: Any
) -> None:
    existing = emulator.portal.create("contacts", {"email": "b1@example.com"})
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.create(_create_inputs(3))
    assert caught.value.status == 409
    assert (
        json.loads(caught.value.body)["message"]
        == f"Contact already exists. Existing ID: {existing.id}"
    )
    assert emulator.portal.count("contacts") == 1


def test_batch_read_by_id_property_reports_missing_as_207(
    emulator: HubSpotEmulator, client: Any
) -> None:
    a = emulator.portal.create("contacts", {"email": "a@example.com", "firstname": "A"})
    request = BatchReadInputSimplePublicObjectId(
        id_property="email",
        properties=["firstname"],
        properties_with_history=[],
        inputs=[
            SimplePublicObjectId(id="a@example.com"),
            SimplePublicObjectId(id="nobody@example.com"),
        ],
    )
    result, status, _ = client.crm.contacts.batch_api.read_with_http_info(request)
    assert status == 207
    assert [r.id for r in result.results] == [a.id]
    assert result.results[0].properties["firstname"] == "A"
    assert result.num_errors == 1
    error = result.errors[0]
    assert error.category == "OBJECT_NOT_FOUND"
    assert error.context == {"ids": ["nobody@example.com"]}
    raw = json.loads(emulator_last_body(emulator, client, request))
    assert set(raw["errors"][0]) >= STANDARD_ERROR_KEYS


def emulator_last_body(emulator: HubSpotEmulator, client: Any, request: Any) -> str:
    """The raw JSON of a batch read (the client's models hide absent keys)."""
    response = client.crm.contacts.batch_api.read(request, _preload_content=False)
    return response.data.decode()


def test_batch_read_all_found_is_200_and_history_limit_is_50(
    emulator: HubSpotEmulator, client: Any
) -> None:
    ids = [emulator.portal.create("contacts", {"firstname": f"f{i}"}).id for i in range(51)]
    request = BatchReadInputSimplePublicObjectId(
        properties=["firstname"],
        properties_with_history=[],
        inputs=[SimplePublicObjectId(id=i) for i in ids[:3]],
    )
    result, status, _ = client.crm.contacts.batch_api.read_with_http_info(request)
    assert status == 200
    assert [r.id for r in result.results] == ids[:3]
    with_history = BatchReadInputSimplePublicObjectId(
        properties=[],
        properties_with_history=["firstname"],
        inputs=[SimplePublicObjectId(id=i) for i in ids],
    )
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.read(with_history)
    assert caught.value.status == 400
    assert "for property histories is 50" in json.loads(caught.value.body)["message"]
    with_history.inputs = with_history.inputs[:2]
    history = client.crm.contacts.batch_api.read(with_history).results[0].properties_with_history
    assert history["firstname"][0].value == "f0"


def test_batch_update_200_207_and_duplicate_ids(emulator: HubSpotEmulator, client: Any) -> None:
    a = emulator.portal.create("contacts", {"firstname": "A"})
    b = emulator.portal.create("contacts", {"firstname": "B", "email": "b@example.com"})
    ok, status, _ = client.crm.contacts.batch_api.update_with_http_info(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=a.id, properties={"lastname": "Alpha"}),
                SimplePublicObjectBatchInput(
                    id="b@example.com", id_property="email", properties={"lastname": "Beta"}
                ),
            ]
        )
    )
    assert status == 200
    assert {r.id: r.properties["lastname"] for r in ok.results} == {a.id: "Alpha", b.id: "Beta"}
    partial, status, _ = client.crm.contacts.batch_api.update_with_http_info(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=a.id, properties={"lastname": "A2"}),
                SimplePublicObjectBatchInput(id="999999", properties={"lastname": "X"}),
            ]
        )
    )
    assert status == 207
    assert partial.errors[0].context == {"ids": ["999999"]}
    assert emulator.portal.get("contacts", a.id).properties["lastname"] == "A2"
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=a.id, properties={}) for _ in range(2)]
            )
        )
    assert caught.value.status == 400
    assert "Duplicate IDs" in caught.value.body


def test_upsert_by_unique_property_creates_then_updates(
    emulator: HubSpotEmulator, client: Any
) -> None:
    def upsert(last: str) -> Any:
        return client.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    SimplePublicObjectBatchInputUpsert(
                        id="hx-42", id_property="huitong_id", properties={"lastname": last}
                    ),
                    SimplePublicObjectBatchInputUpsert(
                        id="Up@Example.com", id_property="email", properties={"lastname": last}
                    ),
                ]
            )
        )

    first = upsert("One")
    assert [r.new for r in first.results] == [True, True]
    assert first.results[0].properties["huitong_id"] == "hx-42"
    assert first.results[1].properties["email"] == "up@example.com"
    second = upsert("Two")
    assert [r.new for r in second.results] == [False, False]
    assert [r.id for r in second.results] == [r.id for r in first.results]
    assert emulator.portal.count("contacts") == 2
    assert {o.properties["lastname"] for o in emulator.portal.live_objects("contacts")} == {"Two"}


def test_upsert_by_non_unique_property_is_rejected_verbatim(client: Any) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    SimplePublicObjectBatchInputUpsert(
                        id="Li", id_property="lastname", properties={}
                    )
                ]
            )
        )
    assert caught.value.status == 400
    assert (
        json.loads(caught.value.body)["message"]
        == "Unable to perform update/upsert by non-unique 0-1 property"
    )


def test_batch_archive_is_204_and_ignores_unknown_ids(
    emulator: HubSpotEmulator, client: Any
) -> None:
    ids = [emulator.portal.create("companies", {"name": f"c{i}"}).id for i in range(3)]
    _, status, _ = client.crm.companies.batch_api.archive_with_http_info(
        BatchInputSimplePublicObjectId(inputs=[{"id": ids[0]}, {"id": ids[1]}, {"id": "424242"}])
    )
    assert status == 204
    assert [o.id for o in emulator.portal.live_objects("companies")] == [ids[2]]
