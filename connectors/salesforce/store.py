"""The org's records in memory: live and recycle-bin rows, unique indexes, and an undo journal.

Every write goes through ``put``/``soft_delete``/``purge`` so that the external-id indexes stay
exact and an ``allOrNone`` batch can be rolled back to the state before it began (apis.md §1.4).
Deleted rows stay in the Recycle Bin (``IsDeleted = true``, visible to queryAll and getDeleted)
until purged after ``recycle_bin_days`` (about 15 days, apis.md §1.2 / §1.7 [D]); recycled rows
hold no unique value, so an upsert never matches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.salesforce.schema import OBJECTS, FieldDef, ObjectDef

Record = dict[str, Any]


def index_key(field: FieldDef, value: Any) -> str:
    """Unique and external-id text compares case-insensitively unless the field says otherwise."""
    text = str(value)
    return text if field.case_sensitive else text.casefold()


@dataclass
class _Undo:
    sobject: str
    record_id: str
    before: Record | None
    deleted_at: datetime | None


class RecordStore:
    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        self._object_of: dict[str, str] = {}
        self._deleted_at: dict[str, datetime] = {}
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {
            (o.name, f.name): {} for o in OBJECTS.values() for f in _indexed(o)
        }
        self._journal: list[_Undo] | None = None
        self.last_purged: datetime | None = None

    # --- reads ---------------------------------------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        sobject = self._object_of.get(record_id)
        return None if sobject is None else self._rows[sobject][record_id]

    def object_of(self, record_id: str) -> str | None:
        return self._object_of.get(record_id)

    def is_deleted(self, record_id: str) -> bool:
        return record_id in self._deleted_at

    def deleted_at(self, record_id: str) -> datetime | None:
        return self._deleted_at.get(record_id)

    def live(self, sobject: str, record_id: str) -> Record | None:
        row = self._rows[sobject].get(record_id)
        return None if row is None or record_id in self._deleted_at else row

    def rows(self, sobject: str, include_deleted: bool = False) -> Iterator[Record]:
        for record_id, row in self._rows[sobject].items():
            if include_deleted or record_id not in self._deleted_at:
                yield row

    def deleted_rows(self, sobject: str) -> Iterator[tuple[Record, datetime]]:
        for record_id, row in self._rows[sobject].items():
            when = self._deleted_at.get(record_id)
            if when is not None:
                yield row, when

    def matches(self, sobject: str, field: FieldDef, value: Any) -> list[str]:
        """Live record ids whose indexed ``field`` equals ``value``, oldest first."""
        bucket = self._index[(sobject, field.name)].get(index_key(field, value), set())
        rows = self._rows[sobject]
        return sorted(bucket, key=lambda rid: (rows[rid]["CreatedDate"], rid))

    # --- writes --------------------------------------------------------------------------------

    def put(self, sobject: str, record: Record) -> None:
        record_id = record["Id"]
        before = self._rows[sobject].get(record_id)
        self._remember(sobject, record_id, before)
        if before is not None and record_id not in self._deleted_at:
            self._unindex(sobject, before)
        self._rows[sobject][record_id] = record
        self._object_of[record_id] = sobject
        if record_id not in self._deleted_at:
            self._add_index(sobject, record)

    def soft_delete(self, sobject: str, record_id: str, when: datetime) -> None:
        row = self._rows[sobject][record_id]
        self._remember(sobject, record_id, row)
        self._unindex(sobject, row)
        self._deleted_at[record_id] = when
        self._rows[sobject][record_id] = {**row, "IsDeleted": True, "SystemModstamp": when}

    def purge(self, older_than: datetime) -> None:
        """Empty the Recycle Bin of rows deleted before ``older_than`` (not journaled)."""
        for record_id, when in list(self._deleted_at.items()):
            if when < older_than:
                sobject = self._object_of.pop(record_id)
                del self._rows[sobject][record_id]
                del self._deleted_at[record_id]
                if self.last_purged is None or when > self.last_purged:
                    self.last_purged = when

    # --- all-or-none ---------------------------------------------------------------------------

    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for undo in reversed(journal):
            current = self._rows[undo.sobject].get(undo.record_id)
            if current is not None and undo.record_id not in self._deleted_at:
                self._unindex(undo.sobject, current)
            if undo.before is None:
                self._rows[undo.sobject].pop(undo.record_id, None)
                self._object_of.pop(undo.record_id, None)
                self._deleted_at.pop(undo.record_id, None)
                continue
            self._rows[undo.sobject][undo.record_id] = undo.before
            if undo.deleted_at is None:
                self._deleted_at.pop(undo.record_id, None)
                self._add_index(undo.sobject, undo.before)
            else:
                self._deleted_at[undo.record_id] = undo.deleted_at

    def _remember(self, sobject: str, record_id: str, before: Record | None) -> None:
        if self._journal is not None:
            self._journal.append(_Undo(sobject, record_id, before, self._deleted_at.get(record_id)))

    def _add_index(self, sobject: str, record: Record) -> None:
        for field in _indexed(OBJECTS[sobject]):
            value = record.get(field.name)
            if value is not None:
                key = index_key(field, value)
                self._index[(sobject, field.name)].setdefault(key, set()).add(record["Id"])

    def _unindex(self, sobject: str, record: Record) -> None:
        for field in _indexed(OBJECTS[sobject]):
            value = record.get(field.name)
            if value is not None:
                bucket = self._index[(sobject, field.name)].get(index_key(field, value))
                if bucket is not None:
                    bucket.discard(record["Id"])


def _indexed(obj: ObjectDef) -> list[FieldDef]:
    return [f for f in obj.fields if f.external_id or f.unique or f.cascade_delete]
