"""Stored records rendered as HubSpot's ``SimplePublicObject`` family (official spec schemas).

* ``properties``: the requested ones, or the object's defaults when none are asked for (apis.md
  §2.2), plus ``createdate``, ``hs_object_id`` and the last-modified property, which HubSpot always
  returns [K]; unknown names are ignored ("If any of the specified properties are not present on the
  requested object(s), they will be ignored", spec parameter description);
* ``propertiesWithHistory``: ``{name: [ValueWithTimestamp]}``, newest first;
* ``associations`` (v3 ``?associations=companies``): ``{"companies": {"results":
  [{"id","type"}]}}``, one item per association type (``contact_to_company`` for the primary,
  ``..._unlabeled`` for the default) [K];
* ``createdAt``/``updatedAt``/``archivedAt`` as ISO-8601 with milliseconds.
"""

from __future__ import annotations

from typing import Any

from connectors.hubspot.emulator_portal import Portal, StoredObject
from connectors.hubspot.emulator_schema import OBJECT_TYPE_ALIASES, association_type
from connectors.hubspot.emulator_values import iso_from_ms
from connectors.hubspot.emulator_webhooks import CHANGE_SOURCE


def render_object(
    portal: Portal,
    obj: StoredObject,
    properties: list[str] | None = None,
    with_history: list[str] | None = None,
    associations: list[str] | None = None,
) -> dict[str, Any]:
    otype = obj.object_type
    wanted = list(properties) if properties else list(otype.default_properties)
    wanted += [p for p in otype.always_properties if p not in wanted]
    values: dict[str, Any] = {}
    for name in wanted:
        if name not in otype.properties:
            continue
        value = obj.properties.get(name)
        if value is not None:
            values[name] = value
        elif portal.null_for_unset_properties:
            values[name] = None
    body: dict[str, Any] = {
        "id": obj.id,
        "properties": values,
        "createdAt": iso_from_ms(obj.created_ms),
        "updatedAt": iso_from_ms(obj.updated_ms),
        "archived": obj.archived,
    }
    if obj.archived_ms is not None:
        body["archivedAt"] = iso_from_ms(obj.archived_ms)
    if with_history:
        body["propertiesWithHistory"] = {
            name: [
                {"value": value, "timestamp": iso_from_ms(ms), "sourceType": CHANGE_SOURCE}
                for value, ms in reversed(obj.history.get(name, []))
            ]
            for name in with_history
            if name in otype.properties
        }
    if associations:
        found = _v3_associations(portal, obj, associations)
        if found:
            body["associations"] = found
    return body


def _v3_associations(portal: Portal, obj: StoredObject, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        to_type = OBJECT_TYPE_ALIASES.get(name.lower())
        if to_type is None or to_type not in portal.types:
            continue  # "If any of the specified associations do not exist, they will be ignored."
        results = [
            {"id": other_id, "type": kind.v3_name}
            for other_id, type_ids in portal.associations_of(obj.object_type.name, obj.id, to_type)
            for type_id in sorted(type_ids)
            if (kind := association_type(obj.object_type.name, to_type, type_id)) is not None
        ]
        if results:
            out[portal.types[to_type].name] = {"results": results}
    return out
