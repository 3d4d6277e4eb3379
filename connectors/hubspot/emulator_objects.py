"""Handlers for ``/crm/v3/objects/{objectType}``: list, CRUD, search, batch, merge; and properties.

Status codes are exactly those of the official spec and hubspot-api-client's ``response_types_map``
(apis.md §0.2: a wrong 2xx makes the client silently return None): create 201; get/list/update/merge
200; archive 204; batch create 201 or 207; batch read/update/upsert 200 or 207; batch archive 204;
search 200. List paging: ``limit`` default 10, at most 100 (50 with ``propertiesWithHistory``);
``paging`` is absent on the last page; ``paging.next.after`` is the next id and ``link`` the URL of
the next page (apis.md §2.2).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from connectors.hubspot.emulator_errors import (
    HubSpotError,
    conflict,
    not_found,
    standard_error,
    validation_error,
)
from connectors.hubspot.emulator_http import Call, Reply, inputs_of
from connectors.hubspot.emulator_portal import StoredObject
from connectors.hubspot.emulator_render import render_object
from connectors.hubspot.emulator_schema import ObjectType
from connectors.hubspot.emulator_search import parse_search_request, run_search
from connectors.hubspot.emulator_values import iso_from_ms

LIST_MAX = 100
HISTORY_MAX = 50
BATCH_MAX = 100


def _otype(call: Call) -> ObjectType:
    return call.portal.object_type(call.params["objectType"])


def _render(call: Call, obj: StoredObject) -> dict[str, Any]:
    return render_object(
        call.portal,
        obj,
        call.query_list("properties"),
        call.query_list("propertiesWithHistory"),
        call.query_list("associations"),
    )


def list_objects(call: Call) -> Reply:
    otype = _otype(call)
    history = call.query_list("propertiesWithHistory")
    cap = HISTORY_MAX if history else LIST_MAX
    limit = max(1, min(call.query_int("limit", 10), cap))  # over the cap is clamped [K]
    after_raw = call.query("after") or "0"
    if not after_raw.isdigit():
        raise validation_error(f"Invalid after cursor: {after_raw}", context={"after": [after_raw]})
    after = int(after_raw)
    archived = call.query_bool("archived")
    with call.portal.lock:
        pool = (
            call.portal.archived_objects(otype.name)
            if archived
            else call.portal.live_objects(otype.name)
        )
        remaining = [o for o in pool if int(o.id) >= after]
        page = remaining[:limit]
        results = [_render(call, o) for o in page]
    body: dict[str, Any] = {"results": results}
    if len(remaining) > limit:
        next_after = str(int(page[-1].id) + 1)
        query = [(k, v) for k, v in call.request.query_params.multi_items() if k != "after"]
        link = (
            f"{call.base_url()}{call.request.url.path}?{urlencode([*query, ('after', next_after)])}"
        )
        body["paging"] = {"next": {"after": next_after, "link": link}}
    return Reply(200, body)


def get_object(call: Call) -> Reply:
    otype = _otype(call)
    obj = call.portal.find(
        otype.name,
        call.params["objectId"],
        call.query("idProperty"),
        archived=call.query_bool("archived"),
    )
    if obj is None:
        raise not_found()
    return Reply(200, _render(call, obj))


def create_object(call: Call) -> Reply:
    otype = _otype(call)
    body = call.json_object()
    obj = call.portal.create(otype.name, body.get("properties") or {}, body.get("associations"))
    return Reply(201, render_object(call.portal, obj, list(obj.properties)))


def update_object(call: Call) -> Reply:
    otype = _otype(call)
    body = call.json_object()
    obj = call.portal.update(
        otype.name, call.params["objectId"], body.get("properties") or {}, call.query("idProperty")
    )
    return Reply(200, render_object(call.portal, obj, list(obj.properties)))


def archive_object(call: Call) -> Reply:
    call.portal.archive(_otype(call).name, call.params["objectId"])
    return Reply(204)


def search_objects(call: Call) -> Reply:
    otype = _otype(call)
    request = parse_search_request(call.json(), otype)
    with call.portal.lock:
        page, total, next_after = run_search(request, call.portal.live_objects(otype.name))
        results = [render_object(call.portal, o, list(request.properties)) for o in page]
    body: dict[str, Any] = {"total": total, "results": results}
    if next_after is not None:
        body["paging"] = {"next": {"after": str(next_after)}}
    return Reply(200, body)


def merge_objects(call: Call) -> Reply:
    otype = _otype(call)
    body = call.json_object()
    primary = body.get("primaryObjectId")
    secondary = body.get("objectIdToMerge")
    if primary is None or secondary is None:
        raise validation_error("primaryObjectId and objectIdToMerge are required")
    obj = call.portal.merge(otype.name, str(primary), str(secondary))
    return Reply(200, render_object(call.portal, obj, list(obj.properties)))


# ---- batch -------------------------------------------------------------------------------------


def _batch(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], started: int, ok_status: int
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
        return Reply(207, body)
    return Reply(ok_status, body)


def _missing(otype: ObjectType, ids: list[str], verb: str = "get") -> dict[str, Any]:
    # Verbatim text from apis.md §2.4 (207 example).
    return standard_error(
        "OBJECT_NOT_FOUND",
        f"Could not {verb} some {otype.upper} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        {"ids": ids},
    )


def _ids(inputs: list[Any]) -> list[str]:
    ids = []
    for item in inputs:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise validation_error("Each input needs an id", context={"inputs": []})
        ids.append(str(item["id"]))
    return ids


def batch_read(call: Call) -> Reply:
    started = int(time.time() * 1000)
    otype = _otype(call)
    body = call.json_object()
    history = [str(p) for p in body.get("propertiesWithHistory") or []]
    inputs = inputs_of(body, BATCH_MAX, HISTORY_MAX if history else None)
    id_property = body.get("idProperty") or None
    archived = call.query_bool("archived")
    properties = [str(p) for p in body.get("properties") or []]
    results, missing, seen = [], [], set()
    with call.portal.lock:
        for key in dict.fromkeys(_ids(inputs)):
            obj = call.portal.find(otype.name, key, id_property, archived=archived)
            if obj is None:
                missing.append(key)
            elif obj.id not in seen:
                seen.add(obj.id)
                results.append(render_object(call.portal, obj, properties, history))
    errors = [_missing(otype, missing)] if missing else []
    return _batch(results, errors, started, 200)


def batch_create(call: Call) -> Reply:
    """All or nothing: an invalid input fails the request (400/409), as HubSpot does (apis.md §2.4:
    a duplicate email fails the whole request with 409 naming the first duplicate)."""
    started = int(time.time() * 1000)
    otype = _otype(call)
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    portal = call.portal
    with portal.lock:
        planned = []
        batch_values: dict[tuple[str, str], int] = {}
        for index, item in enumerate(inputs):
            if not isinstance(item, dict):
                raise validation_error(f"Input {index} must be an object")
            props = portal.clean_properties(otype, item.get("properties") or {})
            portal.check_unique(otype, props)
            for name, value in props.items():
                if value and otype.properties[name].has_unique_value:
                    if (name, value.lower()) in batch_values:
                        raise conflict(
                            f"Duplicate {name} in batch input: {value} "
                            f"(inputs {batch_values[(name, value.lower())]} and {index})"
                        )
                    batch_values[(name, value.lower())] = index
            planned.append(
                (props, portal.plan_create_associations(otype, item.get("associations") or []))
            )
        created = [portal.insert(otype, props, assocs) for props, assocs in planned]
        results = [render_object(portal, o, list(o.properties)) for o in created]
    return _batch(results, [], started, 201)


def batch_update(call: Call) -> Reply:
    started = int(time.time() * 1000)
    otype = _otype(call)
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    ids = _ids(inputs)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise validation_error(
            f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
            context={"ids": duplicates},
        )
    portal = call.portal
    results, missing = [], []
    with portal.lock:
        cleaned = [portal.clean_properties(otype, item.get("properties") or {}) for item in inputs]
        for item, key, props in zip(inputs, ids, cleaned, strict=True):
            id_property = item.get("idProperty") or None
            if id_property and id_property != "hs_object_id":
                portal.require_unique(otype, id_property, "update/upsert")
            obj = portal.find(otype.name, key, id_property)
            if obj is None:
                missing.append(key)
                continue
            portal.check_unique(otype, props, exclude_id=obj.id)
            portal.apply_properties(obj, props)
            results.append(render_object(portal, obj, list(obj.properties)))
    errors = [_missing(otype, missing, "update")] if missing else []
    return _batch(results, errors, started, 200)


def batch_upsert(call: Call) -> Reply:
    """Upsert by a unique property (apis.md §2.4); each result says whether it was ``new``."""
    started = int(time.time() * 1000)
    otype = _otype(call)
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    ids = _ids(inputs)
    portal = call.portal
    with portal.lock:
        keys = []
        for item, key in zip(inputs, ids, strict=True):
            id_property = item.get("idProperty")
            if not id_property:
                raise validation_error(
                    "idProperty is required for upsert", context={"idProperty": []}
                )
            portal.require_unique(otype, str(id_property), "update/upsert")
            portal.clean_properties(otype, item.get("properties") or {})
            keys.append((str(id_property), key.lower()))
        duplicates = sorted({k for _, k in keys if [x for _, x in keys].count(k) > 1})
        if duplicates:
            raise validation_error(
                f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
                context={"ids": duplicates},
            )
        results = []
        for item, key in zip(inputs, ids, strict=True):
            obj, new = portal.upsert(
                otype.name, key, str(item["idProperty"]), item.get("properties") or {}
            )
            rendered = render_object(portal, obj, list(obj.properties))
            rendered["new"] = new
            results.append(rendered)
    return _batch(results, [], started, 200)


def batch_archive(call: Call) -> Reply:
    otype = _otype(call)
    inputs = inputs_of(call.json_object(), BATCH_MAX)
    with call.portal.lock:
        for key in _ids(inputs):
            call.portal.archive(otype.name, key)
    return Reply(204)


# ---- properties --------------------------------------------------------------------------------


def list_properties(call: Call) -> Reply:
    otype = _otype(call)
    results = [p.to_api(i) for i, p in enumerate(otype.properties.values())]
    return Reply(200, {"results": results})


def get_property(call: Call) -> Reply:
    otype = _otype(call)
    name = call.params["propertyName"]
    definition = otype.properties.get(name)
    if definition is None:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
    return Reply(200, definition.to_api(list(otype.properties).index(name)))
