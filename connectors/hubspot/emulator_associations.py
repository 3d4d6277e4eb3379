"""Handlers for associations v4 (``/crm/v4/objects/.../associations`` and ``/crm/v4/associations``).

Sources: apis.md §2.5 and the official ``Associations_associations.json``:
* GET pages (``limit`` ≤ 500, ``after``) of ``{toObjectId,
  associationTypes:[{category,typeId,label}]}``; ids are strings and ``label`` a non-nullable string
  per the spec, so an unlabeled type carries no ``label`` key (the real API is reported to send
  ``null``; a reader must treat both as "no label");
* PUT ``.../associations/default/{toType}/{toId}`` → 200 ``BatchResponsePublicDefaultAssociation``
  (both directions); PUT ``.../associations/{toType}/{toId}`` with ``[AssociationSpec]`` → 201
  ``LabelsBetweenObjectPair``; DELETE → 204;
* batch ``read`` 200/207, ``create`` 201/207, ``archive`` and ``labels/archive`` 204,
  ``associate/default`` 200.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from connectors.hubspot.emulator_errors import HubSpotError, standard_error, validation_error
from connectors.hubspot.emulator_http import Call, Reply, inputs_of
from connectors.hubspot.emulator_portal import Portal
from connectors.hubspot.emulator_schema import association_type, default_association_type
from connectors.hubspot.emulator_values import iso_from_ms

PAGE_MAX = 500
BATCH_MAX = 1000  # v4 batch limit [K]
CATEGORY = "HUBSPOT_DEFINED"


def _types(call: Call, from_key: str, to_key: str) -> tuple[str, str]:
    portal = call.portal
    return (
        portal.object_type(call.params[from_key]).name,
        portal.object_type(call.params[to_key]).name,
    )


def _specs(
    portal: Portal, from_type: str, to_type: str, type_ids: set[int]
) -> list[dict[str, Any]]:
    specs = []
    for type_id in sorted(type_ids):
        kind = association_type(from_type, to_type, type_id)
        if kind is None:
            continue
        spec: dict[str, Any] = {"category": CATEGORY, "typeId": type_id}
        if kind.label is not None:
            spec["label"] = kind.label
        specs.append(spec)
    return specs


def _labels_pair(
    portal: Portal, from_type: str, from_id: str, to_type: str, to_id: str, types: set[int]
) -> dict[str, Any]:
    labels = [
        kind.label
        for t in sorted(types)
        if (kind := association_type(from_type, to_type, t)) is not None and kind.label is not None
    ]
    return {
        "fromObjectTypeId": portal.types[from_type].type_id,
        "fromObjectId": from_id,
        "toObjectTypeId": portal.types[to_type].type_id,
        "toObjectId": to_id,
        "labels": labels,
    }


def _type_ids_from_specs(specs: Any, from_type: str, to_type: str) -> list[int]:
    if not isinstance(specs, list) or not specs:
        raise validation_error("At least one association type is required")
    ids = []
    for spec in specs:
        if not isinstance(spec, dict) or "associationTypeId" not in spec:
            raise validation_error("Each association spec needs associationTypeId")
        type_id = int(spec["associationTypeId"])
        category = spec.get("associationCategory", CATEGORY)
        kind = association_type(from_type, to_type, type_id)
        if kind is None or category != CATEGORY:
            raise validation_error(
                f"Association type {category}/{type_id} is not valid from {from_type} to {to_type}",
                context={"associationTypeId": [str(type_id)]},
            )
        ids.append(type_id)
    return ids


def _batch(
    results: list[Any], errors: list[dict[str, Any]], started: int, ok: int, partial: int
) -> Reply:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_from_ms(started),
        "completedAt": iso_from_ms(int(time.time() * 1000)),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Reply(partial, body)
    return Reply(ok, body)


def _now() -> int:
    return int(time.time() * 1000)


# ---- single pair -------------------------------------------------------------------------------


def list_associations(call: Call) -> Reply:
    from_type, to_type = _types(call, "objectType", "toObjectType")
    limit = max(1, min(call.query_int("limit", PAGE_MAX), PAGE_MAX))
    after_raw = call.query("after") or "0"
    if not after_raw.isdigit():
        raise validation_error(f"Invalid after cursor: {after_raw}", context={"after": [after_raw]})
    links = [
        (other, types)
        for other, types in call.portal.associations_of(from_type, call.params["objectId"], to_type)
        if int(other) >= int(after_raw)
    ]
    page = links[:limit]
    body: dict[str, Any] = {
        "results": [
            {
                "toObjectId": other,
                "associationTypes": _specs(call.portal, from_type, to_type, types),
            }
            for other, types in page
        ]
    }
    if len(links) > limit:
        next_after = str(int(page[-1][0]) + 1)
        query = urlencode({"limit": str(limit), "after": next_after})
        body["paging"] = {
            "next": {
                "after": next_after,
                "link": f"{call.base_url()}{call.request.url.path}?{query}",
            }
        }
    return Reply(200, body)


def _default_results(
    portal: Portal, from_type: str, from_id: str, to_type: str, to_id: str
) -> list[dict[str, Any]]:
    out = []
    for a_type, a_id, b_type, b_id in (
        (from_type, from_id, to_type, to_id),
        (to_type, to_id, from_type, from_id),
    ):
        default = default_association_type(a_type, b_type)
        assert default is not None
        out.append(
            {
                "from": {"id": a_id},
                "to": {"id": b_id},
                "associationSpec": {
                    "associationCategory": CATEGORY,
                    "associationTypeId": default.type_id,
                },
            }
        )
    return out


def create_default(call: Call) -> Reply:
    started = _now()
    from_type, to_type = _types(call, "fromObjectType", "toObjectType")
    portal = call.portal
    with portal.lock:
        from_id = portal.resolve_id(from_type, call.params["fromObjectId"])
        to_id = portal.resolve_id(to_type, call.params["toObjectId"])
        portal.associate(from_type, from_id, to_type, to_id, [])
        results = _default_results(portal, from_type, from_id, to_type, to_id)
    return _batch(results, [], started, 200, 200)


def create_labelled(call: Call) -> Reply:
    from_type, to_type = _types(call, "objectType", "toObjectType")
    type_ids = _type_ids_from_specs(call.json(), from_type, to_type)
    portal = call.portal
    with portal.lock:
        from_id = portal.resolve_id(from_type, call.params["objectId"])
        to_id = portal.resolve_id(to_type, call.params["toObjectId"])
        types = portal.associate(from_type, from_id, to_type, to_id, type_ids)
        return Reply(201, _labels_pair(portal, from_type, from_id, to_type, to_id, types))


def delete_pair(call: Call) -> Reply:
    from_type, to_type = _types(call, "objectType", "toObjectType")
    call.portal.dissociate(from_type, call.params["objectId"], to_type, call.params["toObjectId"])
    return Reply(204)


# ---- batch -------------------------------------------------------------------------------------


def _object_id(item: Any, key: str) -> str:
    ref = item.get(key) if isinstance(item, dict) else None
    if not isinstance(ref, dict) or ref.get("id") in (None, ""):
        raise validation_error(f"Each input needs {key}.id")
    return str(ref["id"])


def _failure(error: HubSpotError, from_id: str, to_id: str) -> dict[str, Any]:
    return standard_error(
        error.category, error.message, {"fromObjectId": [from_id], "toObjectId": [to_id]}
    )


def batch_create(call: Call) -> Reply:
    started = _now()
    from_type, to_type = _types(call, "fromObjectType", "toObjectType")
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    portal = call.portal
    results, errors = [], []
    with portal.lock:
        for item in inputs:
            from_id, to_id = _object_id(item, "from"), _object_id(item, "to")
            try:
                type_ids = _type_ids_from_specs(item.get("types"), from_type, to_type)
                types = portal.associate(from_type, from_id, to_type, to_id, type_ids)
            except HubSpotError as error:
                errors.append(_failure(error, from_id, to_id))
                continue
            results.append(
                _labels_pair(
                    portal,
                    from_type,
                    portal.resolve_id(from_type, from_id),
                    to_type,
                    portal.resolve_id(to_type, to_id),
                    types,
                )
            )
    return _batch(results, errors, started, 201, 207)


def batch_create_default(call: Call) -> Reply:
    started = _now()
    from_type, to_type = _types(call, "fromObjectType", "toObjectType")
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    portal = call.portal
    results, errors = [], []
    with portal.lock:
        for item in inputs:
            from_id, to_id = _object_id(item, "from"), _object_id(item, "to")
            try:
                portal.associate(from_type, from_id, to_type, to_id, [])
            except HubSpotError as error:
                errors.append(_failure(error, from_id, to_id))
                continue
            results += _default_results(
                portal,
                from_type,
                portal.resolve_id(from_type, from_id),
                to_type,
                portal.resolve_id(to_type, to_id),
            )
    # The spec and the client know only 200 for this operation; failures ride in ``errors``.
    return _batch(results, errors, started, 200, 200)


def batch_read(call: Call) -> Reply:
    started = _now()
    from_type, to_type = _types(call, "fromObjectType", "toObjectType")
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    portal = call.portal
    results, errors = [], []
    with portal.lock:
        for item in inputs:
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                raise validation_error("Each input needs an id")
            from_id = str(item["id"])
            links = portal.associations_of(from_type, from_id, to_type)
            if not links:
                message = (
                    f"No {portal.types[to_type].singular} is associated with "
                    f"{portal.types[from_type].singular} {from_id}."
                )
                errors.append(
                    standard_error("OBJECT_NOT_FOUND", message, {"fromObjectId": [from_id]})
                )
                continue
            results.append(
                {
                    "from": {"id": portal.resolve_id(from_type, from_id)},
                    "to": [
                        {
                            "toObjectId": other,
                            "associationTypes": _specs(portal, from_type, to_type, types),
                        }
                        for other, types in links
                    ],
                }
            )
    return _batch(results, errors, started, 200, 207)


def batch_archive(call: Call) -> Reply:
    from_type, to_type = _types(call, "fromObjectType", "toObjectType")
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    with call.portal.lock:
        for item in inputs:
            from_id = _object_id(item, "from")
            targets = item.get("to") if isinstance(item, dict) else None
            if not isinstance(targets, list):
                raise validation_error("Each input needs a to array")
            for target in targets:
                if isinstance(target, dict) and target.get("id") not in (None, ""):
                    call.portal.dissociate(from_type, from_id, to_type, str(target["id"]))
    return Reply(204)


def batch_archive_labels(call: Call) -> Reply:
    from_type, to_type = _types(call, "fromObjectType", "toObjectType")
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    with call.portal.lock:
        for item in inputs:
            from_id, to_id = _object_id(item, "from"), _object_id(item, "to")
            type_ids = _type_ids_from_specs(item.get("types"), from_type, to_type)
            call.portal.dissociate(from_type, from_id, to_type, to_id, type_ids)
    return Reply(204)
