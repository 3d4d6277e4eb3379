"""The emulated HubSpot portal: objects, unique-value indexes, associations, merges and change
events.

Everything here is what the HTTP layer (``emulator.py``) calls, and also what tests use to seed and
inspect state. All mutations hold one lock, so the server thread and a test thread can both use it.

Behaviour and its sources:
* ids are numeric strings (apis.md §2.2 object shape); ``hs_object_id`` mirrors the id;
* ``createdAt``/``updatedAt`` and the last-modified properties (``lastmodifieddate`` and
  ``hs_lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` on companies) move on every change
  (apis.md §2.2); a write that changes nothing leaves them alone [K];
* an empty string clears a property; unknown or read-only properties are a 400 VALIDATION_ERROR
  (apis.md §2.2, [D] update docs);
* a duplicate email is a 409 CONFLICT ``Contact already exists. Existing ID: N`` (apis.md §2.2,
  [V]); other unique-value properties answer the same way [K];
* archive (DELETE) keeps the record, readable with ``archived=true`` (apis.md §2.2);
* merge keeps the primary's values, fills its blanks from the secondary, records the secondary in
  ``hs_merged_object_ids`` and makes the secondary's id resolve to the survivor (apis.md §2.7;
  whether the survivor gets a new id is configurable, ``merge_creates_new_id``);
* associations carry the default unlabeled type plus labels, mirrored on the reverse side with the
  inverse type id (apis.md §2.5); a contact has at most one primary company [K].
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.hubspot.emulator_errors import (
    conflict,
    invalid_property_values,
    not_found,
    validation_error,
)
from connectors.hubspot.emulator_schema import (
    OBJECT_TYPE_ALIASES,
    ObjectType,
    PropertyDefinition,
    association_type,
    build_object_types,
    default_association_type,
)
from connectors.hubspot.emulator_values import (
    iso_from_ms,
    normalise_value,
    unknown_property,
)

DEFAULT_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"  # noqa: S105 - a test token
DEFAULT_PORTAL_ID = 62515


@dataclass
class StoredObject:
    id: str
    object_type: ObjectType
    properties: dict[str, str]
    history: dict[str, list[tuple[str, int]]]  # newest last: (value, timestamp ms)
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None

    @property
    def archived(self) -> bool:
        return self.archived_ms is not None


@dataclass(frozen=True)
class ChangeEvent:
    """One change in the portal, the raw material of webhook deliveries."""

    kind: str  # creation | deletion | propertyChange | merge | associationChange
    object_type: str
    object_id: str
    occurred_ms: int
    property_name: str | None = None
    property_value: str | None = None
    primary_id: str | None = None
    merged_ids: tuple[str, ...] = ()
    new_id: str | None = None
    moved_count: int = 0
    to_object_type: str | None = None
    to_object_id: str | None = None
    association_removed: bool = False
    is_primary: bool = False


@dataclass
class AccessToken:
    token: str
    scopes: frozenset[str] | None = None  # None: every scope
    expires_at_ms: int | None = None  # OAuth-style expiry; private-app tokens never expire


@dataclass(frozen=True)
class CallRecord:
    method: str
    path: str
    status: int
    token: str | None


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Portal:
    portal_id: int = DEFAULT_PORTAL_ID
    clock: Callable[[], int] = _wall_clock_ms
    merge_creates_new_id: bool = False
    # The real API returns requested-but-empty properties as null; the official schema types
    # property values as strings, so by default they are left out (True reproduces the nulls).
    null_for_unset_properties: bool = False
    types: dict[str, ObjectType] = field(default_factory=build_object_types)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _objects: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    _redirects: dict[str, dict[str, str]] = field(default_factory=dict)
    _unique: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    _assoc: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = field(default_factory=dict)
    _listeners: list[Callable[[ChangeEvent], None]] = field(default_factory=list)
    _next_id: int = 1001

    def __post_init__(self) -> None:
        for name in self.types:
            self._objects[name] = {}
            self._redirects[name] = {}
        if not self.tokens:
            self.add_token(DEFAULT_TOKEN)

    # ---- tokens, calls, listeners -------------------------------------------------------------

    def add_token(
        self,
        token: str,
        scopes: Iterable[str] | None = None,
        expires_at_ms: int | None = None,
    ) -> AccessToken:
        entry = AccessToken(token, frozenset(scopes) if scopes is not None else None, expires_at_ms)
        self.tokens[token] = entry
        return entry

    def record_call(self, method: str, path: str, status: int, token: str | None) -> None:
        with self.lock:
            self.calls.append(CallRecord(method, path, status, token))

    def call_count(
        self, method: str | None = None, path_contains: str = "", status: int | None = None
    ) -> int:
        with self.lock:
            return sum(
                1
                for c in self.calls
                if (method is None or c.method == method)
                and path_contains in c.path
                and (status is None or c.status == status)
            )

    def on_change(self, listener: Callable[[ChangeEvent], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: ChangeEvent) -> None:
        for listener in self._listeners:
            listener(event)

    # ---- schema --------------------------------------------------------------------------------

    def object_type(self, name: str) -> ObjectType:
        canonical = OBJECT_TYPE_ALIASES.get(name.lower())
        if canonical is None or canonical not in self.types:
            raise validation_error(f"Unable to infer object type from: {name}")
        return self.types[canonical]

    def define_property(self, type_name: str, definition: PropertyDefinition) -> None:
        """Add (or replace) a property, as the properties API or a portal admin would."""
        with self.lock:
            self.object_type(type_name).properties[definition.name] = definition

    # ---- reads ---------------------------------------------------------------------------------

    def resolve_id(self, type_name: str, object_id: str) -> str:
        """Follow merge redirects: a merged-away id resolves to the record that absorbed it."""
        redirects = self._redirects[self.object_type(type_name).name]
        seen = set()
        while object_id in redirects and object_id not in seen:
            seen.add(object_id)
            object_id = redirects[object_id]
        return object_id

    def find(
        self,
        type_name: str,
        key: str,
        id_property: str | None = None,
        *,
        archived: bool = False,
    ) -> StoredObject | None:
        """The record ``key`` names (an id, or a unique property's value), live or archived."""
        with self.lock:
            otype = self.object_type(type_name)
            if id_property and id_property != "hs_object_id":
                self.require_unique(otype, id_property, "get")
                if archived:
                    matches = [
                        o
                        for o in self._objects[otype.name].values()
                        if o.archived and o.properties.get(id_property, "").lower() == key.lower()
                    ]
                    return matches[0] if matches else None
                object_id = self._unique.get((otype.name, id_property), {}).get(key.lower())
                if object_id is None and id_property == "email":
                    object_id = self._unique.get((otype.name, "hs_additional_emails"), {}).get(
                        key.lower()
                    )
                if object_id is None:
                    return None
            else:
                object_id = self.resolve_id(otype.name, key)
            obj = self._objects[otype.name].get(object_id)
            if obj is None or obj.archived != archived:
                return None
            return obj

    def get(self, type_name: str, key: str, id_property: str | None = None) -> StoredObject:
        obj = self.find(type_name, key, id_property)
        if obj is None:
            raise not_found()
        return obj

    def live_objects(self, type_name: str) -> list[StoredObject]:
        with self.lock:
            name = self.object_type(type_name).name
            return sorted(
                (o for o in self._objects[name].values() if not o.archived),
                key=lambda o: int(o.id),
            )

    def archived_objects(self, type_name: str) -> list[StoredObject]:
        with self.lock:
            name = self.object_type(type_name).name
            return sorted(
                (o for o in self._objects[name].values() if o.archived), key=lambda o: int(o.id)
            )

    def count(self, type_name: str) -> int:
        return len(self.live_objects(type_name))

    def require_unique(self, otype: ObjectType, id_property: str, verb: str) -> None:
        definition = otype.properties.get(id_property)
        if definition is None or not definition.has_unique_value:
            # Verbatim for update/upsert (hubspot-api-nodejs#548): "Unable to perform update/upsert
            # by non-unique 0-1 property".
            raise validation_error(
                f"Unable to perform {verb} by non-unique {otype.type_id} property"
                if verb != "get"
                else f"Property {id_property} is not a unique-value property of {otype.name}."
            )

    # ---- writes --------------------------------------------------------------------------------

    def clean_properties(self, otype: ObjectType, raw: dict[str, Any]) -> dict[str, str]:
        """Validated, stored-form values; every invalid property is reported in one 400."""
        if not isinstance(raw, dict):
            raise validation_error("Invalid input JSON: properties must be an object")
        failures: list[dict[str, Any]] = []
        clean: dict[str, str] = {}
        for name, value in raw.items():
            definition = otype.properties.get(name)
            if definition is None:
                failures.append(unknown_property(name, self.portal_id))
                continue
            stored, failure = normalise_value(definition, value, self.portal_id)
            if failure is not None:
                failures.append(failure)
            else:
                clean[name] = stored
        if failures:
            raise invalid_property_values(failures)
        return clean

    def _unique_names(self, otype: ObjectType) -> list[str]:
        return [p.name for p in otype.properties.values() if p.has_unique_value]

    def check_unique(
        self, otype: ObjectType, props: dict[str, str], exclude_id: str | None = None
    ) -> None:
        for name in self._unique_names(otype):
            value = props.get(name, "")
            if not value:
                continue
            owner = self._unique.get((otype.name, name), {}).get(value.lower())
            if name == "email" and owner is None:
                owner = self._unique.get((otype.name, "hs_additional_emails"), {}).get(
                    value.lower()
                )
            if owner is not None and owner != exclude_id:
                raise conflict(f"{otype.upper.title()} already exists. Existing ID: {owner}")

    def _index(self, obj: StoredObject, add: bool) -> None:
        otype = obj.object_type
        names = [*self._unique_names(otype)]
        if otype.name == "contacts":
            names.append("hs_additional_emails")
        for name in names:
            raw = obj.properties.get(name, "")
            values = raw.split(";") if name == "hs_additional_emails" else [raw]
            index = self._unique.setdefault((otype.name, name), {})
            for value in values:
                if not value:
                    continue
                if add:
                    index[value.lower()] = obj.id
                elif index.get(value.lower()) == obj.id:
                    del index[value.lower()]

    def _new_id(self) -> str:
        object_id = str(self._next_id)
        self._next_id += 1
        return object_id

    def create(
        self,
        type_name: str,
        raw_properties: dict[str, Any],
        associations: list[dict[str, Any]] | None = None,
    ) -> StoredObject:
        with self.lock:
            otype = self.object_type(type_name)
            props = self.clean_properties(otype, raw_properties)
            self.check_unique(otype, props)
            planned = self.plan_create_associations(otype, associations or [])
            return self.insert(otype, props, planned)

    def insert(
        self,
        otype: ObjectType,
        props: dict[str, str],
        planned: list[tuple[str, str, list[int]]] | None = None,
    ) -> StoredObject:
        now = self.clock()
        object_id = self._new_id()
        values = {k: v for k, v in props.items() if v != ""}
        values.setdefault("createdate", iso_from_ms(now))
        values["hs_object_id"] = object_id
        for name in otype.modified_properties:
            values[name] = iso_from_ms(now)
        obj = StoredObject(
            id=object_id,
            object_type=otype,
            properties=values,
            history={k: [(v, now)] for k, v in values.items()},
            created_ms=now,
            updated_ms=now,
        )
        self._objects[otype.name][object_id] = obj
        self._index(obj, add=True)
        self._emit(ChangeEvent("creation", otype.name, object_id, now))
        for name, value in values.items():
            self._emit(ChangeEvent("propertyChange", otype.name, object_id, now, name, value))
        for to_type, to_id, type_ids in planned or []:
            self._associate(otype.name, object_id, to_type, to_id, type_ids)
        return obj

    def plan_create_associations(
        self, otype: ObjectType, associations: list[dict[str, Any]]
    ) -> list[tuple[str, str, list[int]]]:
        """Validate the ``associations`` of a create input before anything is written."""
        planned = []
        for item in associations:
            to_id = str((item.get("to") or {}).get("id", ""))
            type_ids = [int(t.get("associationTypeId", -1)) for t in item.get("types") or []]
            target_type = None
            for type_id in type_ids:
                for candidate in self.types:
                    if association_type(otype.name, candidate, type_id) is not None:
                        target_type = candidate
            if target_type is None:
                raise validation_error(
                    f"Invalid association type ids {type_ids} for {otype.name}",
                    context={"associationTypeId": [str(t) for t in type_ids]},
                )
            if self.find(target_type, to_id) is None:
                raise validation_error(
                    f"The target object {to_id} of type {target_type} does not exist",
                    context={"toObjectId": [to_id]},
                )
            planned.append((target_type, self.resolve_id(target_type, to_id), type_ids))
        return planned

    def update(
        self,
        type_name: str,
        key: str,
        raw_properties: dict[str, Any],
        id_property: str | None = None,
    ) -> StoredObject:
        with self.lock:
            otype = self.object_type(type_name)
            if id_property and id_property != "hs_object_id":
                self.require_unique(otype, id_property, "update/upsert")
            obj = self.get(otype.name, key, id_property)
            props = self.clean_properties(otype, raw_properties)
            self.check_unique(otype, props, exclude_id=obj.id)
            self.apply_properties(obj, props)
            return obj

    def apply_properties(self, obj: StoredObject, props: dict[str, str]) -> list[str]:
        changed = [k for k, v in props.items() if obj.properties.get(k, "") != v]
        if not changed:
            return []
        now = self.clock()
        self._index(obj, add=False)
        for name in changed:
            value = props[name]
            if value == "":
                obj.properties.pop(name, None)
            else:
                obj.properties[name] = value
            obj.history.setdefault(name, []).append((value, now))
        for name in obj.object_type.modified_properties:
            obj.properties[name] = iso_from_ms(now)
            obj.history.setdefault(name, []).append((obj.properties[name], now))
        obj.updated_ms = now
        self._index(obj, add=True)
        for name in changed:
            self._emit(
                ChangeEvent("propertyChange", obj.object_type.name, obj.id, now, name, props[name])
            )
        return changed

    def upsert(
        self, type_name: str, key: str, id_property: str, raw_properties: dict[str, Any]
    ) -> tuple[StoredObject, bool]:
        """Update the record whose unique ``id_property`` equals ``key``, or create it.

        Returns the record and whether it was created."""
        with self.lock:
            otype = self.object_type(type_name)
            self.require_unique(otype, id_property, "update/upsert")
            props = self.clean_properties(otype, raw_properties)
            existing = self.find(otype.name, key, id_property)
            if existing is not None:
                self.check_unique(otype, props, exclude_id=existing.id)
                self.apply_properties(existing, props)
                return existing, False
            key_value, failure = normalise_value(otype.properties[id_property], key, self.portal_id)
            if failure is not None:
                raise invalid_property_values([failure])
            props[id_property] = key_value
            self.check_unique(otype, props)
            return self.insert(otype, props), True

    def archive(self, type_name: str, key: str) -> bool:
        """Archive a live record; False if there is none (DELETE stays 204 either way [K])."""
        with self.lock:
            obj = self.find(type_name, key)
            if obj is None:
                return False
            now = self.clock()
            self._index(obj, add=False)
            obj.archived_ms = now
            obj.updated_ms = now
            self._emit(ChangeEvent("deletion", obj.object_type.name, obj.id, now))
            return True

    # ---- merge ---------------------------------------------------------------------------------

    def merge(self, type_name: str, primary_key: str, merge_key: str) -> StoredObject:
        with self.lock:
            otype = self.object_type(type_name)
            primary = self.find(otype.name, primary_key)
            secondary = self.find(otype.name, merge_key)
            if primary is None or secondary is None:
                missing = primary_key if primary is None else merge_key
                raise not_found(f"Object {missing} of type {otype.upper} does not exist")
            if primary.id == secondary.id:
                raise validation_error("Cannot merge an object with itself")
            now = self.clock()
            primary_original_id = primary.id
            self._index(primary, add=False)
            self._index(secondary, add=False)
            moved = 0
            for name, value in secondary.properties.items():
                definition = otype.properties.get(name)
                if definition is None or definition.read_only_value or name == "createdate":
                    continue
                if not primary.properties.get(name):
                    primary.properties[name] = value
                    primary.history.setdefault(name, []).append((value, now))
                    moved += 1
            merged_ids = _split(primary.properties.get("hs_merged_object_ids", ""))
            merged_ids += [
                secondary.id,
                *_split(secondary.properties.get("hs_merged_object_ids", "")),
            ]
            if otype.name == "contacts":
                extra = _split(primary.properties.get("hs_additional_emails", ""))
                secondary_emails = [
                    secondary.properties.get("email", ""),
                    *_split(secondary.properties.get("hs_additional_emails", "")),
                ]
                for email in secondary_emails:
                    if email and email != primary.properties.get("email") and email not in extra:
                        extra.append(email)
                if extra:
                    primary.properties["hs_additional_emails"] = ";".join(extra)
            survivor = primary
            old_ids = [secondary.id]
            del self._objects[otype.name][secondary.id]
            if self.merge_creates_new_id:
                del self._objects[otype.name][primary.id]
                old_ids.append(primary.id)
                merged_ids.append(primary.id)
                survivor.id = self._new_id()
                survivor.properties["hs_object_id"] = survivor.id
                self._objects[otype.name][survivor.id] = survivor
            survivor.properties["hs_merged_object_ids"] = ";".join(_dedupe(merged_ids))
            for name in otype.modified_properties:
                survivor.properties[name] = iso_from_ms(now)
            survivor.updated_ms = now
            for old in old_ids:
                self._redirects[otype.name][old] = survivor.id
                self._move_associations(otype.name, old, survivor.id)
            self._index(survivor, add=True)
            self._emit(
                ChangeEvent(
                    "merge",
                    otype.name,
                    survivor.id,
                    now,
                    primary_id=primary_original_id,
                    merged_ids=(secondary.id,),
                    new_id=survivor.id,
                    moved_count=moved,
                )
            )
            return survivor

    # ---- associations --------------------------------------------------------------------------

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: Iterable[int]
    ) -> set[int]:
        """Add association types between two live records (and their inverses). Returns the
        types now present from ``from`` to ``to``."""
        with self.lock:
            from_name = self.object_type(from_type).name
            to_name = self.object_type(to_type).name
            ids = list(type_ids)
            for type_id in ids:
                if association_type(from_name, to_name, type_id) is None:
                    raise validation_error(
                        f"{type_id} is not a valid association type id "
                        f"from {from_name} to {to_name}",
                        context={"associationTypeId": [str(type_id)]},
                    )
            source = self.find(from_name, from_id)
            target = self.find(to_name, to_id)
            if source is None or target is None:
                missing = from_id if source is None else to_id
                raise not_found(f"Object {missing} does not exist")
            return self._associate(from_name, source.id, to_name, target.id, ids)

    def _associate(
        self, from_name: str, from_id: str, to_name: str, to_id: str, type_ids: list[int]
    ) -> set[int]:
        default = default_association_type(from_name, to_name)
        assert default is not None
        wanted = {default.type_id, *type_ids}
        forward = self._assoc.setdefault((from_name, from_id), {}).setdefault(
            (to_name, to_id), set()
        )
        was_new = not forward
        for type_id in wanted:
            kind = association_type(from_name, to_name, type_id)
            assert kind is not None
            if kind.label == "Primary":
                self._clear_primary(from_name, from_id, to_name, type_id, kind.inverse_type_id)
            forward.add(type_id)
            self._assoc.setdefault((to_name, to_id), {}).setdefault(
                (from_name, from_id), set()
            ).add(kind.inverse_type_id)
        if was_new:
            self._emit_association(from_name, from_id, to_name, to_id, removed=False)
        return set(forward)

    def _clear_primary(
        self, from_name: str, from_id: str, to_name: str, type_id: int, inverse: int
    ) -> None:
        """A record has one primary of each kind: a new primary demotes the previous one."""
        for (other_type, other_id), types in self._assoc.get((from_name, from_id), {}).items():
            if other_type == to_name and type_id in types:
                types.discard(type_id)
                self._assoc[(other_type, other_id)][(from_name, from_id)].discard(inverse)

    def dissociate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_ids: Iterable[int] | None = None,
    ) -> None:
        """Remove the given association types (all of them when None, or when the default goes)."""
        with self.lock:
            from_name = self.object_type(from_type).name
            to_name = self.object_type(to_type).name
            from_id = self.resolve_id(from_name, from_id)
            to_id = self.resolve_id(to_name, to_id)
            forward = self._assoc.get((from_name, from_id), {}).get((to_name, to_id))
            if not forward:
                return
            default = default_association_type(from_name, to_name)
            remove = set(forward) if type_ids is None else set(type_ids)
            if default is not None and default.type_id in remove:
                remove = set(forward)
            backward = self._assoc[(to_name, to_id)][(from_name, from_id)]
            for type_id in remove & forward:
                forward.discard(type_id)
                kind = association_type(from_name, to_name, type_id)
                if kind is not None:
                    backward.discard(kind.inverse_type_id)
            if not forward:
                del self._assoc[(from_name, from_id)][(to_name, to_id)]
                del self._assoc[(to_name, to_id)][(from_name, from_id)]
                self._emit_association(from_name, from_id, to_name, to_id, removed=True)

    def associations_of(
        self, type_name: str, object_id: str, to_type: str
    ) -> list[tuple[str, set[int]]]:
        """Associated live records of ``to_type``, by ascending id, with the type ids."""
        with self.lock:
            from_name = self.object_type(type_name).name
            to_name = self.object_type(to_type).name
            object_id = self.resolve_id(from_name, object_id)
            links = self._assoc.get((from_name, object_id), {})
            found = [
                (other_id, set(types))
                for (other_type, other_id), types in links.items()
                if other_type == to_name
                and types
                and (target := self._objects[to_name].get(other_id)) is not None
                and not target.archived
            ]
            return sorted(found, key=lambda item: int(item[0]))

    def _move_associations(self, type_name: str, old_id: str, new_id: str) -> None:
        links = self._assoc.pop((type_name, old_id), {})
        for (other_type, other_id), types in links.items():
            backward = self._assoc[(other_type, other_id)].pop((type_name, old_id), set())
            if (other_type, other_id) == (type_name, new_id):
                continue
            target = self._assoc.setdefault((type_name, new_id), {}).setdefault(
                (other_type, other_id), set()
            )
            primary_types = {
                t
                for t in types
                if (k := association_type(type_name, other_type, t)) and k.label == "Primary"
            }
            has_primary = any(
                primary_types & ts
                for (ot, _), ts in self._assoc[(type_name, new_id)].items()
                if ot == other_type
            )
            keep = types - primary_types if has_primary else types
            target.update(keep)
            self._assoc[(other_type, other_id)].setdefault((type_name, new_id), set()).update(
                backward
                - {
                    k.inverse_type_id
                    for t in primary_types - keep
                    if (k := association_type(type_name, other_type, t))
                }
            )

    def _emit_association(
        self, from_name: str, from_id: str, to_name: str, to_id: str, removed: bool
    ) -> None:
        # Both sides fire: contact.associationChange and company.associationChange
        # (changelog "Bugfix: Webhook AssociationChanges").
        now = self.clock()
        for a_type, a_id, b_type, b_id in (
            (from_name, from_id, to_name, to_id),
            (to_name, to_id, from_name, from_id),
        ):
            types = self._assoc.get((a_type, a_id), {}).get((b_type, b_id), set())
            primary = any(
                (k := association_type(a_type, b_type, t)) is not None and k.label == "Primary"
                for t in types
            )
            self._emit(
                ChangeEvent(
                    "associationChange",
                    a_type,
                    a_id,
                    now,
                    to_object_type=b_type,
                    to_object_id=b_id,
                    association_removed=removed,
                    is_primary=primary,
                )
            )


def _split(value: str) -> list[str]:
    return [v for v in value.split(";") if v]


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
