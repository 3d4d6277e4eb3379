"""Apply a mapping spec: a SourceRecord becomes a Candidate, a golden record becomes a system's fields."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from hub import normalize as n
from hub.model import (
    ENTITY_MODELS,
    Candidate,
    CustomFieldType,
    DirectValidation,
    EntityType,
    coerce_custom,
    to_json_value,
)
from hub.ports import RecordRef, Rejection, SourceRecord
from mappings import transforms as tf
from mappings.spec import FieldMap, MappingSpec

_TRUE = {"1", "true", "yes", "y", "t", "是", "已删除", "deleted", "x"}


def _fingerprint(raw: Mapping[str, Any], deleted: bool, spec_print: str) -> str:
    digest = hashlib.blake2b(f"{spec_print}|{int(deleted)}|".encode(), digest_size=16)
    digest.update(
        orjson.dumps(raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    )
    return digest.hexdigest()


class Mapper:
    """One spec, ready to apply. Pure: no I/O, safe to use from several threads or processes."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Transforms are closures: a worker process rebuilds the mapper from its spec.
        return (
            Mapper,
            (
                self.spec,
                {self.spec.entity: self.custom_types},
                self.region,
                self.timezone,
                self.same_as_spec,
            ),
        )

    def __init__(
        self,
        spec: MappingSpec,
        custom_fields: Mapping[EntityType, Mapping[str, CustomFieldType]] | None = None,
        default_region: str = "CN",
        timezone: str = "Asia/Shanghai",
        same_as: Sequence[tuple[str, str, str, str | None]] = (),
    ) -> None:
        """``same_as``: (column, system, object, transform or None) of the columns that carry the
        id of the same customer's record in another system (ValueError for an unknown transform)."""
        self.spec = spec
        self.same_as_spec = list(same_as)
        self._same_as = [
            (column, system, obj, tf.resolve(transform).read if transform else None)
            for column, system, obj, transform in same_as
        ]
        self.model = ENTITY_MODELS[spec.entity]
        self.custom_types = dict((custom_fields or {}).get(spec.entity, {}))
        self.context = {"default_region": default_region, "timezone": timezone}
        self._direct = DirectValidation(self.model, self.context)
        self.region = default_region
        self.timezone = timezone
        # Hints are part of what a record maps to: adding one maps the records again.
        self._print = spec.fingerprint() + (repr(self.same_as_spec) if same_as else "")
        self._readers = [
            (target, fmap, _reader(fmap)) for target, fmap in spec.fields.items() if fmap.readable
        ]
        self._writers = [
            (target, fmap.source, fmap.transformer().write, _inverse(fmap.values))
            for target, fmap in spec.fields.items()
            if fmap.writable
        ]

    # --- system → hub ---------------------------------------------------------------------------

    def to_candidate(self, record: SourceRecord) -> Candidate | Rejection:
        raw = record.fields
        deleted = record.deleted or (
            self.spec.deleted is not None
            and str(raw.get(self.spec.deleted) or "").strip().lower() in _TRUE
        )
        modified_at = record.modified_at or self._modified_from(raw) or datetime.now(UTC)
        fingerprint = _fingerprint(raw, deleted, self._print)
        ref = record.ref
        issues: list[str] = []
        data: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for target, fmap, read in self._readers:
            value = self._read_one(fmap, read, raw)
            if value is None:
                continue
            if target.startswith("custom."):
                name = target[7:]
                try:
                    typed = coerce_custom(
                        self.custom_types[name], value, self.region, self.timezone
                    )
                except n.InvalidValue as exc:
                    issues.append(f"{_column(fmap)} → {target}: {exc}; value ignored")
                    continue
                if typed is not None:
                    custom[name] = typed
            else:
                data[target] = value
        # Pydantic only when a value needs it: the direct path gives the same values or declines.
        values = self._direct.values(data)
        if values is None:
            entity = self._validate(data, issues)
            if entity is None:
                return Rejection(
                    record.system,
                    record.object,
                    record.where,
                    "; ".join(issues),
                    record.external_id,
                    raw,
                )
            values = {
                k: to_json_value(v)
                for k, v in entity.model_dump(exclude_none=True, exclude={"custom"}).items()
            }
        for name, value in custom.items():
            values[f"custom.{name}"] = value
        if not values and not deleted:
            return Rejection(
                record.system,
                record.object,
                record.where,
                "no usable value in any mapped field"
                + (f" ({'; '.join(issues)})" if issues else ""),
                record.external_id,
                raw,
            )
        refs = {
            target: RecordRef(record.system, rmap.object, str(raw[rmap.source]).strip())
            for target, rmap in self.spec.refs.items()
            if raw.get(rmap.source) not in (None, "")
        }
        same_as = []
        for column, system, obj, read in self._same_as:
            other = raw.get(column)
            if other not in (None, ""):
                other = str(other).strip() if read is None else read(str(other).strip())
                if other:
                    same_as.append(RecordRef(system, obj, other))
        field_times = (
            {
                target: record.field_times[fmap.sources[0]]
                for target, fmap, _ in self._readers
                if fmap.sources and fmap.sources[0] in record.field_times and target in values
            }
            if record.field_times
            else {}
        )
        return Candidate(
            ref=ref,
            entity_type=self.spec.entity,
            values=values,
            field_times=field_times,
            modified_at=modified_at,
            deleted=deleted,
            location=record.where,
            refs=refs,
            issues=issues,
            raw=dict(raw),
            fingerprint=fingerprint,
            same_as=same_as,
        )

    def _read_one(
        self, fmap: FieldMap, read: Callable[[Any], Any] | None, raw: Mapping[str, Any]
    ) -> Any:
        if fmap.const is not None:
            return fmap.const
        if isinstance(fmap.source, list):
            parts = [str(raw[s]).strip() for s in fmap.source if raw.get(s) not in (None, "")]
            value: Any = (fmap.join or "").join(parts) if parts else None
        else:
            value = raw.get(fmap.source) if fmap.source is not None else None
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return None
        if read is not None:
            value = read(value)
        if fmap.values is not None and value is not None:
            value = fmap.values.get(str(value), value)
        return value

    def _validate(self, data: dict[str, Any], issues: list[str]) -> Any:
        # A bad value in one field drops that value (named, with its column); the record goes on.
        for _ in range(len(data) + 1):
            try:
                return self.model.model_validate(data, context=self.context)
            except ValidationError as exc:
                bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
                for err in exc.errors():
                    if not err["loc"]:
                        issues.append(err["msg"])
                        return None
                    key = str(err["loc"][0])
                    message = str(err.get("ctx", {}).get("error") or err["msg"])
                    column = _column(self.spec.fields[key]) if key in self.spec.fields else key
                    issues.append(f"{column} → {key}: {message}; value ignored")
                for key in bad:
                    data.pop(key, None)
        return None

    def _modified_from(self, raw: Mapping[str, Any]) -> datetime | None:
        if not self.spec.modified_at:
            return None
        value = raw.get(self.spec.modified_at)
        if value in (None, ""):
            return None
        try:
            return n.parse_datetime(value, self.timezone)
        except n.InvalidValue:
            return None

    # --- hub → system ---------------------------------------------------------------------------

    def to_system(
        self,
        values: Mapping[str, Any],
        resolve_ref: Callable[[str, str], str | None] | None = None,
    ) -> dict[str, Any]:
        """The system's fields for golden ``values``; ``resolve_ref(object, canonical_id)`` gives the
        external id of a referenced record in this system."""
        out: dict[str, Any] = {}
        for target, source, write, inverse in self._writers:
            if target not in values or not isinstance(source, str) or write is None:
                continue
            value = values[target]
            if inverse is not None and value is not None:
                value = inverse.get(str(value), value)
            out[source] = write(value)
        if resolve_ref is not None:
            for target, rmap in self.spec.refs.items():
                canonical = values.get(target)
                if canonical:
                    out[rmap.source] = resolve_ref(rmap.object, str(canonical))
        return out

    def written_fields(self) -> list[str]:
        """The canonical fields a write to this object carries (what an echo is compared on)."""
        return [target for target, *_ in self._writers] + list(self.spec.refs)

    def system_columns(self) -> list[str]:
        columns = [str(source) for _, source, _, _ in self._writers]
        columns += [rmap.source for rmap in self.spec.refs.values()]
        return list(dict.fromkeys(columns))


def _reader(fmap: FieldMap) -> Callable[[Any], Any] | None:
    """The field's read transform; None for the default one (``strip``), which ``_read_one``
    has already done to every text value."""
    return None if fmap.transform is None else fmap.transformer().read


def _inverse(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return {str(v): k for k, v in values.items()} if values else None


def _column(fmap: FieldMap) -> str:
    if fmap.const is not None:
        return "constant"
    return "+".join(fmap.sources)
