"""sObject Collections: create, update, upsert, delete and retrieve up to 200 records per call.

apis.md §1.4 [D]: a well-formed request answers 200 with one result per record, in request order,
even when some fail; more than 200 records is refused whole (EXCEEDED_ID_LIMIT). With
``allOrNone`` any failure rolls the whole batch back: the failing records keep their own errors,
every other one reports ALL_OR_NONE_OPERATION_ROLLED_BACK. Errors inside results use
``statusCode`` (not ``errorCode``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from connectors.salesforce import errors
from connectors.salesforce.errors import ApiError
from connectors.salesforce.ids import key_prefix, normalize_id
from connectors.salesforce.org import Org
from connectors.salesforce.schema import ObjectDef, find_object, object_for_prefix
from connectors.salesforce.store import index_key
from connectors.salesforce.values import attributes, json_value

MAX_RECORDS = 200
# "Records of up to 10 different types may be processed, in up to 10 chunks" [D]; apis.md §1.4.
MAX_CHUNKS = 10

Result = dict[str, Any]


def _failure(error: ApiError, record_id: str | None = None) -> Result:
    result: Result = {"success": False, "errors": [error.save_error()]}
    if record_id is not None:
        result = {"id": record_id, **result}
    return result


def _run(
    org: Org,
    all_or_none: bool,
    items: list[Any],
    apply: Callable[[Any], Result],
    *,
    keep_id: bool,
) -> list[Result]:
    """Apply each item in order; with allOrNone, undo all and report the successes as rolled back.

    ``keep_id``: a rolled-back update or delete still names its record; a rolled-back create
    has none.
    """
    with org.all_or_none(all_or_none) as outcomes:
        results: list[Result] = []
        for item in items:
            try:
                result = apply(item)
            except ApiError as exc:
                result = _failure(exc)
            results.append(result)
            outcomes.append(bool(result["success"]))
    if all_or_none and not all(r["success"] for r in results):
        rolled = errors.rolled_back()
        results = [
            _failure(rolled, r["id"] if keep_id else None) if r["success"] else r for r in results
        ]
    return results


def _records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
        raise errors.json_parser_error("The request body must be an object with a records array")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise errors.too_many_records(MAX_RECORDS)
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise errors.json_parser_error("allOrNone must be a boolean")
    return records, all_or_none


def _typed(records: list[Any]) -> list[tuple[ObjectDef, Mapping[str, Any]]]:
    """Every record needs ``attributes.type`` naming a known object; chunks capped at 10."""
    typed: list[tuple[ObjectDef, Mapping[str, Any]]] = []
    for record in records:
        if not isinstance(record, Mapping):
            raise errors.json_parser_error("Each record must be a JSON object")
        attrs = record.get("attributes")
        type_name = attrs.get("type") if isinstance(attrs, Mapping) else None
        if not isinstance(type_name, str) or not type_name:
            raise errors.missing_type()
        obj = find_object(type_name)
        if obj is None:
            raise errors.unsupported_type(type_name)
        typed.append((obj, record))
    chunks = sum(1 for i, (obj, _) in enumerate(typed) if i == 0 or typed[i - 1][0] is not obj)
    if chunks > MAX_CHUNKS:
        raise ApiError(
            400,
            "INVALID_BATCH_REQUEST",  # [K] code; the 10-chunk rule itself is documented
            f"Cannot have more than {MAX_CHUNKS} chunks in a single operation. Please rearrange "
            "the data to reduce chunking.",
        )
    return typed


def create(org: Org, body: Any, user_id: str) -> list[Result]:
    records, all_or_none = _records(body)
    typed = _typed(records)

    def apply(item: tuple[ObjectDef, Mapping[str, Any]]) -> Result:
        obj, record = item
        record_id = org.writer.create(obj, record, org.context(user_id))
        return {"id": record_id, "success": True, "errors": []}

    return _run(org, all_or_none, typed, apply, keep_id=False)


def update(org: Org, body: Any, user_id: str) -> list[Result]:
    records, all_or_none = _records(body)
    typed = _typed(records)

    def apply(item: tuple[ObjectDef, Mapping[str, Any]]) -> Result:
        obj, record = item
        raw_id = next((v for k, v in record.items() if k.lower() == "id"), None)
        if not raw_id:
            raise errors.id_missing_in_update()
        fields = {k: v for k, v in record.items() if k.lower() != "id"}
        try:
            record_id = org.writer.update(
                obj, str(raw_id), fields, org.context(user_id), missing_as_deleted=True
            )
        except ApiError as exc:
            return _failure(exc, str(raw_id))
        return {"id": record_id, "success": True, "errors": []}

    return _run(org, all_or_none, typed, apply, keep_id=True)


def upsert(org: Org, sobject: str, field_name: str, body: Any, user_id: str) -> list[Result]:
    obj = find_object(sobject)
    if obj is None:
        raise errors.not_found()
    field = obj.get_field(field_name)
    if field is None:
        raise errors.external_id_field_not_found(field_name)
    if not field.external_id and field.type != "id":
        raise errors.not_an_external_id(field.name, obj)
    records, all_or_none = _records(body)
    typed = _typed(records)
    values: list[Any] = []
    for record_obj, record in typed:
        if record_obj is not obj:
            raise errors.ApiError(
                400, "INVALID_TYPE", f"Record type {record_obj.name} does not match {obj.name}"
            )  # [K] "The list can contain objects only of the type indicated in the URI" [D]
        values.append(next((v for k, v in record.items() if k.lower() == field.name.lower()), None))
    # Two records naming one external id in the same call both fail (Bulk/Collections) [V].
    seen = Counter(index_key(field, v) for v in values if v not in (None, ""))

    def apply(item: tuple[Mapping[str, Any], Any]) -> Result:
        record, value = item
        if value in (None, ""):
            raise errors.external_id_missing(field)
        if seen[index_key(field, value)] > 1:
            raise errors.duplicate_external_id(str(value))
        matches = org.writer.find_by_external_id(obj, field, value)
        if len(matches) > 1:
            error = errors.external_id_matches_many(field, matches)
            raise ApiError(400, error.code, error.message, error.fields)
        fields = {k: v for k, v in record.items() if k.lower() != field.name.lower()}
        record_id, created = org.writer.upsert(obj, field, value, fields, org.context(user_id))
        return {"id": record_id, "success": True, "errors": [], "created": created}

    pairs = [(record, value) for (_, record), value in zip(typed, values, strict=True)]
    results = _run(org, all_or_none, pairs, apply, keep_id=False)
    for result in results:
        result.setdefault("created", False)
    return results


def delete(
    org: Org, ids_param: str | None, all_or_none_param: str | None, user_id: str
) -> list[Result]:
    raw_ids = [i for i in (ids_param or "").split(",") if i]
    if not raw_ids:
        raise errors.ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")  # [K]
    if len(raw_ids) > MAX_RECORDS:
        raise errors.too_many_records(MAX_RECORDS)
    all_or_none = (all_or_none_param or "false").lower() == "true"

    def apply(raw_id: str) -> Result:
        record_id = normalize_id(raw_id)
        obj = object_for_prefix(key_prefix(record_id)) if record_id else None
        if obj is None or record_id is None:
            return _failure(ApiError(400, "MALFORMED_ID", f"malformed id {raw_id}", []), raw_id)
        try:
            org.writer.delete(obj, record_id, org.context(user_id), missing_as_deleted=True)
        except ApiError as exc:
            return _failure(exc, record_id)
        return {"id": record_id, "success": True, "errors": []}

    return _run(org, all_or_none, raw_ids, apply, keep_id=True)


def retrieve(
    org: Org, sobject: str, ids_param: str | None, fields_param: str | None, version: str
) -> list[dict[str, Any] | None]:
    """``GET /composite/sobjects/{Obj}?ids=&fields=``: null for ids not found (apis.md §1.4 [K])."""
    obj = find_object(sobject)
    if obj is None:
        raise errors.not_found()
    names = [n for n in (fields_param or "").split(",") if n]
    if not names:
        raise errors.ApiError(400, "MISSING_ARGUMENT", "fields parameter is required")  # [K]
    defs = []
    for name in names:
        field = obj.get_field(name)
        if field is None:
            raise errors.no_such_column(name, obj)
        defs.append(field)
    raw_ids = [i for i in (ids_param or "").split(",") if i]
    if len(raw_ids) > MAX_RECORDS:
        raise errors.too_many_records(MAX_RECORDS)
    out: list[dict[str, Any] | None] = []
    with org.lock:
        for raw_id in raw_ids:
            record_id = normalize_id(raw_id)
            row = org.store.live(obj.name, record_id) if record_id else None
            if row is None:
                out.append(None)
                continue
            item: dict[str, Any] = {"attributes": attributes(obj.name, row["Id"], version)}
            item.update({f.name: json_value(f, row.get(f.name)) for f in defs})
            out.append(item)
    return out
