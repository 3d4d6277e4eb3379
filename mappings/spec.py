"""Mapping specs: one YAML file per system kind × object, used in both directions.

```yaml
entity: Person                 # Company | Person | Employee
fields:                        # canonical field ← source field
  full_name: 姓名               # shorthand for {source: 姓名}
  mobile: {source: 手机, transform: strip}
  country: {const: CN}          # a constant on the way in, never written back
  address: {source: [省, 市], join: ""}                   # several columns joined: read-only
  status: {source: 状态, values: {有效: active, 停用: inactive}}   # value map, inverted for writes
  custom.vip_level: 会员等级     # custom fields are declared (and typed) in the configuration
refs:                          # links to other objects of the same system, resolved through the xref
  company_id: {source: 公司编号, object: companies}
```

Everything is checked when the spec is loaded: an unknown canonical field, an undeclared custom field or
an unknown transform is a configuration error naming the file and the key, never a crash at run time.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.errors import ConfigError
from hub.model import ENTITY_MODELS, CustomFieldType, EntityType
from mappings import transforms as tf


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | list[str] | None = None
    const: Any = None
    transform: str | list[str] | None = None
    join: str | None = None
    values: dict[str, Any] | None = None
    direction: str = Field(default="both", pattern="^(read|write|both)$")

    @model_validator(mode="after")
    def _one_origin(self) -> FieldMap:
        if (self.source is None) == (self.const is None):
            raise ValueError("give exactly one of 'source' or 'const'")
        if isinstance(self.source, list) and self.join is None:
            raise ValueError("several source fields need 'join' (the separator)")
        return self

    @property
    def sources(self) -> list[str]:
        if self.source is None:
            return []
        return self.source if isinstance(self.source, list) else [self.source]

    @property
    def writable(self) -> bool:
        return (
            self.direction != "read"
            and isinstance(self.source, str)
            and self.const is None
            and self.transformer().write is not None
        )

    @property
    def readable(self) -> bool:
        return self.direction != "write"

    def transformer(self) -> tf.Transform:
        names = [self.transform] if isinstance(self.transform, str) else list(self.transform or [])
        return tf.chain([tf.resolve(name) for name in names]) if names else tf.resolve("strip")


class RefMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    object: str


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: EntityType
    fields: dict[str, FieldMap]
    refs: dict[str, RefMap] = {}
    modified_at: str | None = None
    deleted: str | None = None
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            data = dict(data)
            data["fields"] = {
                k: {"source": v} if isinstance(v, str | list) else v
                for k, v in data["fields"].items()
            }
        return data

    def fingerprint(self) -> str:
        """Changes when the spec changes, so records mapped by an older spec are mapped again."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_spec(
    spec: MappingSpec, custom_fields: dict[EntityType, dict[str, CustomFieldType]]
) -> list[str]:
    """Problems with a parsed spec, each as 'key: what' (empty when it is sound)."""
    problems: list[str] = []
    model = ENTITY_MODELS[spec.entity]
    known = set(model.field_names())
    declared = custom_fields.get(spec.entity, {})
    for target, fmap in spec.fields.items():
        if target.startswith("custom."):
            if target[7:] not in declared:
                problems.append(
                    f"fields.{target}: custom field {target[7:]!r} is not declared under "
                    f"custom_fields.{spec.entity.value} in the configuration"
                )
        elif target not in known:
            problems.append(
                f"fields.{target}: {spec.entity.value} has no field {target!r} "
                f"(known: {', '.join(sorted(known))})"
            )
        try:
            fmap.transformer()
        except ValueError as exc:
            problems.append(f"fields.{target}.transform: {exc}")
    for target in spec.refs:
        if target not in known:
            problems.append(f"refs.{target}: {spec.entity.value} has no field {target!r}")
    return problems


BUILTIN_PREFIX = "builtin:"


def load_spec(
    reference: str,
    base: Path,
    custom_fields: dict[EntityType, dict[str, CustomFieldType]],
) -> MappingSpec:
    """Load a spec from a file (relative to ``base``) or ``builtin:<kind>/<object>``."""
    if reference.startswith(BUILTIN_PREFIX):
        name = reference[len(BUILTIN_PREFIX) :]
        resource = resources.files("mappings").joinpath("defaults", f"{name}.yaml")
        if not resource.is_file():
            raise ConfigError(f"there is no built-in mapping {name!r}", reference)
        text, source = resource.read_text(encoding="utf-8"), reference
    else:
        path = (base / reference) if not Path(reference).is_absolute() else Path(reference)
        try:
            text, source = path.read_text(encoding="utf-8-sig"), str(path)
        except OSError as exc:
            raise ConfigError(f"mapping file {path} cannot be read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc})", source) from None
    try:
        spec = MappingSpec.model_validate({**(data or {}), "name": reference})
    except ValidationError as exc:
        raise ConfigError(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()], source
        ) from None
    problems = check_spec(spec, custom_fields)
    if problems:
        raise ConfigError(problems, source)
    return spec
