"""Turn parsed CSV records into SourceRecords, or Rejections that say what is wrong and where."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.ports import Rejection, SourceRecord

from .output import unescape_formula
from .records import BrokenRecord, CsvRecord
from .seen_ids import SeenIds
from .settings import CsvObjectSettings
from .timestamps import parse_timestamp

# What people type in a "deleted" column, in English and Chinese.
_TRUTHY = frozenset(
    {"1", "true", "t", "yes", "y", "x", "deleted", "是", "删除", "已删除", "√", "✓"}
)


@dataclass(frozen=True, slots=True)
class Header:
    """Column names as used in records, and where the id column is."""

    columns: tuple[str, ...]
    id_column: str
    modified_column: str | None
    deleted_column: str | None

    @property
    def id_index(self) -> int:
        return self.columns.index(self.id_column)


def normalise_header(names: Sequence[str]) -> list[str]:
    """Strip BOMs and spaces; an unnamed column (Excel's trailing commas) becomes ``column_<n>``."""
    cleaned = [name.replace("\ufeff", "").strip() for name in names]
    return [name or f"column_{index}" for index, name in enumerate(cleaned, start=1)]


def header_problem(
    columns: Sequence[str], settings: CsvObjectSettings, file: str, *, for_writing: bool = False
) -> str | None:
    """Why this header cannot be read at all, or ``None``. A file being written to needs only its
    id column (the hub's output file need not carry the modified / deleted columns)."""
    counts = Counter(columns)
    duplicates = [name for name, count in counts.items() if count > 1]
    if duplicates:
        positions = {
            name: ", ".join(str(i + 1) for i, column in enumerate(columns) if column == name)
            for name in duplicates
        }
        described = "; ".join(f"{name!r} (columns {where})" for name, where in positions.items())
        return f"duplicate column names in the header of {file}: {described}; each must be unique"
    available = ", ".join(repr(name) for name in columns)
    roles: list[tuple[str, str | None]] = [("id", settings.id_column)]
    if not for_writing:
        roles += [("modified", settings.modified_column), ("deleted", settings.deleted_column)]
    for role, wanted in roles:
        if wanted is not None and _find_column(columns, wanted) is None:
            return (
                f"{role} column {wanted!r} is not in the header of {file}; columns are: {available}"
            )
    return None


def make_header(columns: Sequence[str], settings: CsvObjectSettings) -> Header:
    """Build the header once ``header_problem`` found nothing wrong."""

    def find(wanted: str | None) -> str | None:
        return None if wanted is None else _find_column(columns, wanted)

    id_column = find(settings.id_column)
    assert id_column is not None
    return Header(
        tuple(columns), id_column, find(settings.modified_column), find(settings.deleted_column)
    )


def _find_column(columns: Sequence[str], wanted: str) -> str | None:
    """The column named ``wanted``; a case-insensitive match when exactly one column fits."""
    if wanted in columns:
        return wanted
    folded = [name for name in columns if name.casefold() == wanted.casefold()]
    return folded[0] if len(folded) == 1 else None


class RowInterpreter:
    """Reads the data records of one file against its header."""

    def __init__(
        self,
        *,
        system: str,
        obj: str,
        settings: CsvObjectSettings,
        file: str,
        header: Header,
        file_modified: datetime,
    ) -> None:
        self._system = system
        self._object = obj
        self._settings = settings
        self._file = file
        self._header = header
        self._file_modified = file_modified
        self._zone = zoneinfo.ZoneInfo(settings.timezone)
        self._seen = SeenIds()

    def interpret(self, item: CsvRecord | BrokenRecord) -> SourceRecord | Rejection | None:
        """A record, a rejection, or ``None`` for a blank line (skipped silently)."""
        if isinstance(item, BrokenRecord):
            return self._reject(item.line, item.reason, None, item.raw)
        fields = item.fields
        if item.decode_errors:
            reason = "; ".join(item.decode_errors)
            return self._reject(item.first_line, reason, self._peek_id(fields), fields)
        if item.is_blank:
            return None
        expected = len(self._header.columns)
        if len(fields) > expected and all(not value.strip() for value in fields[expected:]):
            fields = fields[
                :expected
            ]  # trailing empty cells, as Excel writes for formatted columns
        if len(fields) != expected:
            reason = (
                f"wrong number of fields: expected {expected} (as in the header), got {len(fields)}"
            )
            return self._reject(item.first_line, reason, self._peek_id(fields), item.fields)
        values = {
            name: self._clean(value)
            for name, value in zip(self._header.columns, fields, strict=True)
        }
        return self._record(item, values)

    def _record(self, item: CsvRecord, values: dict[str, str | None]) -> SourceRecord | Rejection:
        header = self._header
        external_id = values[header.id_column]
        if external_id is None:
            reason = f"empty id (column {header.id_column!r})"
            return self._reject(item.first_line, reason, None, item.fields)
        modified_at = self._file_modified
        if header.modified_column is not None and values[header.modified_column] is not None:
            text = values[header.modified_column] or ""
            parsed = parse_timestamp(text, self._zone)
            if parsed is None:
                reason = (
                    f"column {header.modified_column!r} holds {text!r}, not a date and time "
                    f"(expected ISO 8601 or YYYY-MM-DD HH:MM:SS)"
                )
                return self._reject(item.first_line, reason, external_id, item.fields)
            modified_at = parsed
        first_line = self._seen.add(external_id, item.first_line)
        if first_line is not None:
            reason = f"duplicate id {external_id!r}: first used on line {first_line}"
            return self._reject(item.first_line, reason, external_id, item.fields)
        deleted = False
        if header.deleted_column is not None:
            flag = values[header.deleted_column]
            deleted = flag is not None and flag.casefold() in _TRUTHY
        return SourceRecord(
            system=self._system,
            object=self._object,
            external_id=external_id,
            fields=values,
            modified_at=modified_at,
            deleted=deleted,
            location=f"{self._file}:{item.first_line}",
        )

    def _clean(self, value: str) -> str | None:
        # Called for every cell of every row: the common case (plain text) takes no detours.
        text = value.strip()
        if not text:
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if text[0] == "'" and self._settings.escape_formulas:
            text = unescape_formula(text) or ""
        return text or None

    def _peek_id(self, fields: Sequence[str]) -> str | None:
        index = self._header.id_index
        return (fields[index].strip() or None) if index < len(fields) else None

    def _reject(
        self, line: int, reason: str, external_id: str | None, raw: Sequence[str]
    ) -> Rejection:
        return Rejection(
            system=self._system,
            object=self._object,
            location=f"{self._file}:{line}",
            reason=reason,
            external_id=external_id,
            raw=list(raw),
        )


def file_modified_at(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1_000_000_000, UTC)


def interpret_file(
    records: Iterator[CsvRecord | BrokenRecord],
    *,
    system: str,
    obj: str,
    settings: CsvObjectSettings,
    file: str,
    mtime_ns: int,
) -> Iterator[SourceRecord | Rejection]:
    """All records of one file: the header first (unless configured), then the rows."""
    file_modified = file_modified_at(mtime_ns)

    def reject_file(line: int, reason: str, raw: Sequence[str]) -> Rejection:
        return Rejection(system, obj, f"{file}:{line}", reason, raw=list(raw))

    header: Header | None = None
    if not settings.has_header:
        header = make_header(settings.columns or [], settings)
    interpreter: RowInterpreter | None = None
    for item in records:
        if header is None:
            if isinstance(item, BrokenRecord):
                yield reject_file(
                    item.line, f"header row cannot be parsed: {item.reason}", item.raw
                )
                return
            if item.is_blank and not item.decode_errors:
                continue
            if item.decode_errors:
                reason = f"header row cannot be decoded: {'; '.join(item.decode_errors)}"
                yield reject_file(item.first_line, reason, item.fields)
                return
            columns = normalise_header(item.fields)
            problem = header_problem(columns, settings, file)
            if problem is not None:
                yield reject_file(item.first_line, problem, item.fields)
                return
            header = make_header(columns, settings)
            continue
        if interpreter is None:
            interpreter = RowInterpreter(
                system=system,
                obj=obj,
                settings=settings,
                file=file,
                header=header,
                file_modified=file_modified,
            )
        result = interpreter.interpret(item)
        if result is not None:
            yield result
