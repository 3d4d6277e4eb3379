"""Create, update, delete and upsert one record, with the validations Salesforce applies.

Checks run in the order the API reports them: unknown field (INVALID_FIELD), read-only field
(INVALID_FIELD_FOR_INSERT_UPDATE), value type and length, lookups (MALFORMED_ID /
FIELD_INTEGRITY_EXCEPTION / INVALID_CROSS_REFERENCE_KEY / ENTITY_IS_DELETED), required fields
(REQUIRED_FIELD_MISSING), then unique values (DUPLICATE_VALUE). Each raises the one ``ApiError``
the REST resource answers with; sObject Collections turn it into a per-record error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.salesforce import errors
from connectors.salesforce.ids import IdFactory, key_prefix, normalize_id
from connectors.salesforce.schema import OBJECTS, FieldDef, ObjectDef, find_object
from connectors.salesforce.store import Record, RecordStore
from connectors.salesforce.values import parse_date, parse_datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEXT = frozenset({"string", "textarea", "email", "phone", "url", "picklist"})


@dataclass(frozen=True)
class WriteContext:
    """Who writes and when: the running user becomes CreatedBy/LastModifiedBy and default owner."""

    user_id: str
    now: datetime


class RecordWriter:
    def __init__(
        self, store: RecordStore, ids: IdFactory, deleted_status: Callable[[], int]
    ) -> None:
        self.store = store
        self.ids = ids
        self.deleted_status = deleted_status

    # --- locating ------------------------------------------------------------------------------

    def locate(self, obj: ObjectDef, raw_id: str, *, missing_as_deleted: bool = False) -> Record:
        """The live record ``raw_id`` of ``obj`` or the error a write to it gets."""
        record_id = normalize_id(raw_id)
        if record_id is None or key_prefix(record_id) != obj.key_prefix:
            raise errors.malformed_id(obj, raw_id)
        row = self.store.get(record_id)
        if row is None or self.store.object_of(record_id) != obj.name:
            if missing_as_deleted:
                raise errors.entity_is_deleted(self.deleted_status())
            raise errors.not_found()
        if self.store.is_deleted(record_id):
            raise errors.entity_is_deleted(self.deleted_status())
        return row

    # --- operations ----------------------------------------------------------------------------

    def create(
        self, obj: ObjectDef, body: Mapping[str, Any], ctx: WriteContext, *, seeding: bool = False
    ) -> str:
        if not obj.createable and not seeding:
            raise errors.type_not_writable(obj, "inserted")
        values = self._prepare(obj, body, ctx, existing=None, seeding=seeding)
        record_id = self.ids.new(obj.key_prefix)
        record: Record = {f.name: None for f in obj.fields}
        for field in obj.fields:
            if field.type == "boolean":
                record[field.name] = field.name == "IsActive"
        record.update(
            {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": ctx.now,
                "CreatedById": ctx.user_id,
                "LastModifiedDate": ctx.now,
                "LastModifiedById": ctx.user_id,
                "SystemModstamp": ctx.now,
            }
        )
        if obj.get_field("OwnerId") is not None:
            record["OwnerId"] = ctx.user_id
        record.update(values)
        _compute(obj, record)
        self._check_required(obj, record)
        self._check_unique(obj, record)
        self.store.put(obj.name, record)
        return record_id

    def update(
        self, obj: ObjectDef, raw_id: str, body: Mapping[str, Any], ctx: WriteContext, **kw: bool
    ) -> str:
        existing = self.locate(obj, raw_id, **kw)
        if not obj.updateable:
            raise errors.type_not_writable(obj, "updated")
        values = self._prepare(obj, body, ctx, existing=existing)
        record = {**existing, **values}
        # Every API write is a user change: both stamps move (apis.md §1.8 [K]).
        record.update(
            {
                "LastModifiedDate": ctx.now,
                "LastModifiedById": ctx.user_id,
                "SystemModstamp": ctx.now,
            }
        )
        _compute(obj, record)
        self._check_required(obj, record)
        self._check_unique(obj, record)
        self.store.put(obj.name, record)
        return str(record["Id"])

    def delete(self, obj: ObjectDef, raw_id: str, ctx: WriteContext, **kw: bool) -> str:
        row = self.locate(obj, raw_id, **kw)
        if not obj.deletable:
            raise errors.type_not_writable(obj, "deleted")
        record_id = str(row["Id"])
        self.store.soft_delete(obj.name, record_id, ctx.now)
        for child in OBJECTS.values():  # e.g. an account's contacts go with it
            for field in child.fields:
                if field.cascade_delete and obj.name in field.reference_to:
                    for child_id in self.store.matches(child.name, field, record_id):
                        self.store.soft_delete(child.name, child_id, ctx.now)
        return record_id

    def find_by_external_id(self, obj: ObjectDef, field: FieldDef, value: Any) -> list[str]:
        if field.type == "id":
            record_id = normalize_id(str(value))
            live = record_id is not None and self.store.live(obj.name, record_id) is not None
            return [record_id] if live and record_id else []
        return self.store.matches(obj.name, field, value)

    def upsert(
        self,
        obj: ObjectDef,
        field: FieldDef,
        value: Any,
        body: Mapping[str, Any],
        ctx: WriteContext,
        *,
        update_only: bool = False,
    ) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created). Several matches raise a 300."""
        matches = self.find_by_external_id(obj, field, value)
        if len(matches) > 1:
            raise errors.external_id_matches_many(field, matches)
        if matches:
            return self.update(obj, matches[0], body, ctx), False
        if update_only or field.type == "id":
            raise errors.not_found()
        return self.create(obj, {**body, field.name: value}, ctx), True

    # --- validation ----------------------------------------------------------------------------

    def _prepare(
        self,
        obj: ObjectDef,
        body: Mapping[str, Any],
        ctx: WriteContext,
        *,
        existing: Record | None,
        seeding: bool = False,
    ) -> Record:
        resolved: list[tuple[FieldDef, Any]] = []
        for key, value in body.items():
            if key == "attributes":
                continue
            field = obj.get_field(key)
            if field is None:
                raise errors.no_such_column(key, obj)
            resolved.append((field, value))
        read_only: list[str] = []
        kept: list[tuple[FieldDef, Any]] = []
        for field, value in resolved:
            if field.type == "id":
                if existing is None and not seeding:
                    raise errors.id_in_insert()
                if existing is not None and normalize_id(str(value)) == existing["Id"]:
                    continue  # the record's own id may ride along in an update
                if not seeding:
                    read_only.append(field.name)
                continue
            writable = field.createable if existing is None else field.updateable
            if not writable and not seeding:
                read_only.append(field.name)
            else:
                kept.append((field, value))
        if read_only:
            raise errors.not_writable(read_only)
        return {field.name: self._convert(obj, field, value, seeding) for field, value in kept}

    def _convert(self, obj: ObjectDef, field: FieldDef, value: Any, seeding: bool) -> Any:
        if value is None:
            return False if field.type == "boolean" else None
        kind = field.type
        if kind in _TEXT:
            if isinstance(value, dict | list):
                raise errors.cannot_deserialize(field, value, "String")
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if text == "":
                return None  # the API stores an empty string as null [K]
            if len(text) > field.length:
                raise errors.string_too_long(field, text)
            if kind == "email" and not _EMAIL.match(text):
                raise errors.invalid_email(field, text)
            return text
        if kind == "reference":
            return self._reference(obj, field, value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise errors.cannot_deserialize(field, value, "boolean")
        if kind in ("int", "double", "currency"):
            return _number(field, value)
        if kind in ("datetime", "date") and isinstance(value, datetime) and seeding:
            return value
        if kind == "datetime":
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is None:
                raise errors.cannot_deserialize(field, value, "datetime")
            return parsed
        if kind == "date":
            day = parse_date(value) if isinstance(value, str) else None
            if day is None:
                raise errors.cannot_deserialize(field, value, "date")
            return day
        return value

    def _reference(self, obj: ObjectDef, field: FieldDef, value: Any) -> str | None:
        if not isinstance(value, str):
            raise errors.malformed_reference(field, str(value))
        if value == "":
            return None
        record_id = normalize_id(value)
        if record_id is None:
            raise errors.malformed_reference(field, value)
        target = find_object(field.reference_to[0])
        assert target is not None
        if key_prefix(record_id) not in {OBJECTS[name].key_prefix for name in field.reference_to}:
            raise errors.wrong_reference_type(field, value)
        if self.store.get(record_id) is None:
            raise errors.invalid_cross_reference(field)
        if self.store.is_deleted(record_id):
            raise errors.entity_is_deleted(400, [field.name])
        if field.name == "OwnerId":
            owner = self.store.get(record_id) or {}
            if not owner.get("IsActive", True):
                raise errors.inactive_owner(record_id, obj)
        return record_id

    def _check_required(self, obj: ObjectDef, record: Record) -> None:
        missing = [f.name for f in obj.fields if f.required and record.get(f.name) in (None, "")]
        if missing:
            raise errors.required_missing(missing)

    def _check_unique(self, obj: ObjectDef, record: Record) -> None:
        for field in obj.fields:
            value = record.get(field.name)
            if not field.unique or value is None:
                continue
            others = [
                rid for rid in self.store.matches(obj.name, field, value) if rid != record["Id"]
            ]
            if others:
                raise errors.duplicate_value(field, others[0])


def _number(field: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool):
        raise errors.cannot_deserialize(field, value, field.type)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise errors.cannot_deserialize(field, value, field.type) from None
    if field.type == "int":
        if number != int(number):
            raise errors.cannot_deserialize(field, value, "int")
        return int(number)
    return number


def _compute(obj: ObjectDef, record: Record) -> None:
    """Compound Name of Contact and User: first and last name (Object Reference [D])."""
    if obj.name in ("Contact", "User"):
        parts = [record.get("FirstName"), record.get("LastName")]
        record["Name"] = " ".join(p for p in parts if p) or None
