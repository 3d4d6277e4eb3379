"""Typed settings of a CSV system: a folder and, per object, which file(s) and how to read them."""

from __future__ import annotations

import codecs
import zoneinfo
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

AUTO = "auto"

# Names an IT person may write instead of a raw tab character in YAML.
DELIMITER_ALIASES = {
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "\\t": "\t",
    "pipe": "|",
}


def _check_codec(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}") from None
    return value


def _check_delimiter(value: str) -> str:
    value = DELIMITER_ALIASES.get(value.lower(), value)
    if len(value) != 1 or value in {'"', "\r", "\n"}:
        raise ValueError(
            f"delimiter must be one character (or comma/semicolon/tab/pipe), got {value!r}"
        )
    return value


class CsvObjectSettings(BaseModel):
    """One object backed by a file (or a set of files matched by a glob)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    id_column: str
    modified_column: str | None = None
    deleted_column: str | None = None
    encoding: str = AUTO
    delimiter: str = AUTO
    has_header: bool = True
    columns: list[str] | None = None
    reject_file: str | None = None
    output_file: str | None = None
    output_encoding: str = "utf-8-sig"
    output_delimiter: str = ","
    # Naive timestamps in modified_column are taken in this zone (Chinese Excel writes local time).
    timezone: str = "Asia/Shanghai"
    # Prefix cells that Excel would run as formulas with "'" on write/export, and undo it on read.
    escape_formulas: bool = True

    @field_validator("file", "id_column")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str) -> str:
        return value if value.lower() == AUTO else _check_codec(value)

    @field_validator("output_encoding")
    @classmethod
    def _output_encoding_known(cls, value: str) -> str:
        return _check_codec(value)

    @field_validator("delimiter")
    @classmethod
    def _delimiter_ok(cls, value: str) -> str:
        return value if value.lower() == AUTO else _check_delimiter(value)

    @field_validator("output_delimiter")
    @classmethod
    def _output_delimiter_ok(cls, value: str) -> str:
        return _check_delimiter(value)

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _columns_when_headerless(self) -> CsvObjectSettings:
        if not self.has_header:
            if not self.columns:
                raise ValueError("has_header is false, so columns must list the column names")
            for role in ("id_column", "modified_column", "deleted_column"):
                wanted = getattr(self, role)
                if wanted is not None and wanted not in self.columns:
                    raise ValueError(f"{role} {wanted!r} is not one of columns")
        elif self.columns is not None:
            raise ValueError("columns is only for files without a header (has_header: false)")
        if self.columns is not None and len(set(self.columns)) != len(self.columns):
            raise ValueError("columns has duplicate names")
        return self

    @property
    def is_auto_encoding(self) -> bool:
        return self.encoding.lower() == AUTO

    @property
    def is_auto_delimiter(self) -> bool:
        return self.delimiter.lower() == AUTO


class CsvSettings(BaseModel):
    """A CSV "system": a base folder and the objects read from files in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: Path
    objects: dict[str, CsvObjectSettings]

    @field_validator("objects")
    @classmethod
    def _some_objects(cls, value: dict[str, CsvObjectSettings]) -> dict[str, CsvObjectSettings]:
        if not value:
            raise ValueError("configure at least one object")
        return value
