"""CRM search (``POST /crm/v3/objects/{type}/search``): filters, sorts, free text, paging, limits.

Sources (apis.md §2.3 unless noted):
* filterGroups are OR'ed, the filters inside a group AND'ed; operators EQ NEQ LT LTE GT GTE BETWEEN
  (``value``/``highValue``) IN NOT_IN (``values``) HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN
  NOT_CONTAINS_TOKEN (official ``Filter`` enum);
* at most 5 filterGroups, 10 filters per group, 25 filters in all (changelog "Expanded Filtering",
  2024-08-26); ``limit`` at most 200 (spec); ``query`` at most 3000 characters (spec);
* ``after`` is a numeric offset; at most 10,000 results per query, and paging to ``after`` >= 10000
  is a 400 ("Attempting to page beyond 10,000 will result in a 400 error", search guide, quoted by
  connectors that handle it); ``total`` counts every match;
* date values may be epoch ms or ISO; string comparisons ignore case [K];
* ``sorts`` items are objects ``{"propertyName","direction"}`` (search guide); the official schema
  and the client type them as strings, and HubSpot's own Node README sends a JSON-encoded object
  string, so both forms are accepted (a bare property name sorts ascending).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.hubspot.emulator_errors import validation_error
from connectors.hubspot.emulator_portal import StoredObject
from connectors.hubspot.emulator_schema import ObjectType, PropertyDefinition
from connectors.hubspot.emulator_values import ms_from_value, sortable

MAX_LIMIT = 200
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS_TOTAL = 25
MAX_QUERY_LENGTH = 3000
MAX_RESULTS = 10_000
DEFAULT_LIMIT = 10

OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}


@dataclass(frozen=True)
class Filter:
    property_name: str
    operator: str
    value: str | None
    high_value: str | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class SearchRequest:
    groups: tuple[tuple[Filter, ...], ...]
    sorts: tuple[tuple[str, bool], ...]  # (property, descending)
    properties: tuple[str, ...]
    limit: int
    after: int
    query: str


def parse_search_request(body: Any, otype: ObjectType) -> SearchRequest:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: the search request must be an object")
    limit = _int(body.get("limit", DEFAULT_LIMIT), "limit")
    if limit < 1 or limit > MAX_LIMIT:
        raise validation_error(
            f"limit must be between 1 and {MAX_LIMIT}, was {limit}",
            context={"limit": [str(limit)]},
        )
    after = _int(body.get("after") or 0, "after")
    if after >= MAX_RESULTS:
        raise validation_error(
            f"Paging past {MAX_RESULTS} results is not supported: after={after}. "
            "Search results are limited to 10,000 per query.",
            context={"after": [str(after)]},
        )
    query = body.get("query") or ""
    if len(query) > MAX_QUERY_LENGTH:
        raise validation_error(f"query must be at most {MAX_QUERY_LENGTH} characters")
    groups = tuple(_parse_group(g, otype) for g in body.get("filterGroups") or [])
    if len(groups) > MAX_FILTER_GROUPS:
        raise validation_error(
            f"Too many filter groups: {len(groups)}. The maximum is {MAX_FILTER_GROUPS}.",
            context={"filterGroups": [str(len(groups))]},
        )
    for group in groups:
        if len(group) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Too many filters in a filter group: {len(group)}. "
                f"The maximum is {MAX_FILTERS_PER_GROUP}."
            )
    total = sum(len(g) for g in groups)
    if total > MAX_FILTERS_TOTAL:
        raise validation_error(
            f"Too many filters: {total}. The maximum across all groups is {MAX_FILTERS_TOTAL}."
        )
    sorts = tuple(_parse_sort(s, otype) for s in body.get("sorts") or [])
    properties = tuple(str(p) for p in body.get("properties") or [])
    return SearchRequest(groups, sorts, properties, limit, after, query)


def _int(raw: Any, name: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise validation_error(f"{name} must be an integer, was {raw!r}") from None


def _parse_group(raw: Any, otype: ObjectType) -> tuple[Filter, ...]:
    filters = raw.get("filters") if isinstance(raw, dict) else None
    if not isinstance(filters, list):
        raise validation_error("Each filter group needs a filters array")
    return tuple(_parse_filter(f, otype) for f in filters)


def _parse_filter(raw: Any, otype: ObjectType) -> Filter:
    if not isinstance(raw, dict):
        raise validation_error("Each filter must be an object")
    name = str(raw.get("propertyName", ""))
    operator = str(raw.get("operator", "EQ"))
    if operator not in OPERATORS:
        raise validation_error(
            f"Unsupported operator: {operator}", context={"operator": [operator]}
        )
    if name not in otype.properties:
        raise validation_error(
            f"Unable to find property {name} on object type {otype.type_id}",
            context={"propertyName": [name]},
        )
    value = raw.get("value")
    high = raw.get("highValue")
    values = tuple(str(v) for v in raw.get("values") or [])
    if operator in ("IN", "NOT_IN") and not values:
        raise validation_error(f"{operator} filters need a non-empty values array")
    if operator == "BETWEEN" and (value is None or high is None):
        raise validation_error("BETWEEN filters need value and highValue")
    needs_value = operator not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")
    if needs_value and value is None:
        raise validation_error(f"{operator} filters need a value")
    return Filter(
        name,
        operator,
        None if value is None else str(value),
        None if high is None else str(high),
        values,
    )


def _parse_sort(raw: Any, otype: ObjectType) -> tuple[str, bool]:
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("{"):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError:
                raise validation_error(f"Invalid sort: {text}") from None
        else:
            raw = {"propertyName": text, "direction": "ASCENDING"}
    if not isinstance(raw, dict) or "propertyName" not in raw:
        raise validation_error(f"Invalid sort: {raw!r}")
    name = str(raw["propertyName"])
    if name not in otype.properties:
        raise validation_error(
            f"Unable to find property {name} on object type {otype.type_id}",
            context={"propertyName": [name]},
        )
    direction = str(raw.get("direction", "ASCENDING")).upper()
    return name, direction == "DESCENDING"


def _tokens(value: str) -> list[str]:
    lowered = value.lower()
    parts = [t for t in re.split(r"[\s,;/]+", lowered) if t]
    # An email or domain also matches on its pieces ("example", "com").
    pieces = [p for t in parts for p in re.split(r"[@.\-_]+", t) if p]
    return [lowered, *parts, *pieces]


def _compare(definition: PropertyDefinition, left: str, right: str) -> int:
    if definition.type in ("number", "datetime", "date"):
        lk, rk = sortable(definition, left), sortable(definition, right)
        if lk[0] == 0 and rk[0] == 0:
            return (lk[1] > rk[1]) - (lk[1] < rk[1])
    a, b = left.lower(), right.lower()
    return (a > b) - (a < b)


def _normal(definition: PropertyDefinition, value: str) -> str:
    if definition.type in ("datetime", "date"):
        ms = ms_from_value(value)
        return str(ms) if ms is not None else value.lower()
    if definition.type == "number":
        try:
            return repr(float(value))
        except ValueError:
            return value.lower()
    return value.lower()


def _matches(f: Filter, obj: StoredObject) -> bool:
    definition = obj.object_type.properties[f.property_name]
    actual = obj.properties.get(f.property_name, "")
    op = f.operator
    if op == "HAS_PROPERTY":
        return actual != ""
    if op == "NOT_HAS_PROPERTY":
        return actual == ""
    if op in ("IN", "NOT_IN"):
        found = actual != "" and _normal(definition, actual) in {
            _normal(definition, v) for v in f.values
        }
        return found if op == "IN" else not found
    assert f.value is not None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = f.value.lower()
        tokens = _tokens(actual) if actual else []
        if "*" in pattern:
            found = any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
        else:
            found = pattern in tokens
        return found if op == "CONTAINS_TOKEN" else not found
    if op == "NEQ":
        return actual == "" or _compare(definition, actual, f.value) != 0
    if actual == "":
        return False
    cmp = _compare(definition, actual, f.value)
    if op == "EQ":
        return cmp == 0
    if op == "LT":
        return cmp < 0
    if op == "LTE":
        return cmp <= 0
    if op == "GT":
        return cmp > 0
    if op == "GTE":
        return cmp >= 0
    assert op == "BETWEEN"
    assert f.high_value is not None
    return cmp >= 0 and _compare(definition, actual, f.high_value) <= 0


def _matches_query(query: str, obj: StoredObject) -> bool:
    """Free text: every word prefixes a token of one of the object's searchable properties [K]."""
    words = [w for w in query.lower().split() if w]
    tokens = [
        t
        for name in obj.object_type.query_properties
        for t in _tokens(obj.properties.get(name, ""))
    ]
    return all(any(t.startswith(w) for t in tokens) for w in words)


def run_search(
    request: SearchRequest, candidates: list[StoredObject]
) -> tuple[list[StoredObject], int, int | None]:
    """(page, total, next offset or None)."""
    selected = [
        o
        for o in candidates
        if (not request.groups or any(all(_matches(f, o) for f in g) for g in request.groups))
        and (not request.query or _matches_query(request.query, o))
    ]
    ordered = sorted(selected, key=lambda o: int(o.id))  # default order: by id [K]
    for name, descending in reversed(request.sorts):
        ordered.sort(key=_sort_key(name), reverse=descending)
    total = len(ordered)
    end = min(request.after + request.limit, total, MAX_RESULTS)
    page = ordered[request.after : end]
    next_after = end if end < total else None
    return page, total, next_after


def _sort_key(name: str) -> Callable[[StoredObject], tuple[int, float, str]]:
    def key(obj: StoredObject) -> tuple[int, float, str]:
        value = obj.properties.get(name, "")
        if value == "":
            return (2, 0.0, "")  # unset values sort after set ones [K]
        return sortable(obj.object_type.properties.get(name), value)

    return key
