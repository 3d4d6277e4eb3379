"""Apply a batch of upserts and deletes to a CSV file, keyed by the id column.

The existing file is streamed row by row into a temporary file (so memory holds the batch, not the
file) and the result replaces the target atomically. Column order is kept and new columns are
appended; a deleted row disappears; rows the batch does not touch are written back cell for cell.
If the file changes while the batch is being merged (a person saving it from Excel), the batch fails
as retriable rather than overwrite their change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.ports import Write, WriteOp, WriteResult

from .output import atomic_text_file, cell_text, csv_writer, escape_formula, unescape_formula
from .parsed import open_csv
from .records import BrokenRecord, CsvRecord
from .rows import header_problem, make_header, normalise_header
from .settings import CsvObjectSettings


class FileChangedError(Exception):
    """The target changed between the start of the merge and its replacement."""


class UnusableFileError(Exception):
    """The existing target cannot be merged into without losing data."""


@dataclass
class _Batch:
    """The writes of one batch with their cells prepared, and a result slot for each."""

    settings: CsvObjectSettings
    writes: Sequence[Write]
    keys: list[str] = field(default_factory=list)
    cells: list[dict[str, str]] = field(default_factory=list)
    results: list[WriteResult | None] = field(default_factory=list)
    by_key: dict[str, list[int]] = field(default_factory=dict)

    def prepare(self, allowed_columns: Sequence[str] | None) -> None:
        encoding = self.settings.output_encoding
        for index, write in enumerate(self.writes):
            key = (write.external_id or write.canonical_id).strip()
            cells = {name: self._cell(value) for name, value in write.fields.items()}
            cells[self.settings.id_column] = key
            self.keys.append(key)
            self.cells.append(cells)
            problem = (
                _cell_problem(cells, allowed_columns, encoding)
                if write.op is WriteOp.UPSERT
                else None
            )
            if problem is not None:
                self.results.append(WriteResult(ok=False, external_id=key, error=problem))
                continue
            self.results.append(None)
            self.by_key.setdefault(key, []).append(index)

    def apply(self, key: str, row: dict[str, str] | None) -> dict[str, str] | None:
        """Run the writes for ``key`` over ``row`` (``None``: absent); the row to keep, if any."""
        for index in self.by_key.get(key, []):
            first_time = self.results[index] is None
            if self.writes[index].op is WriteOp.DELETE:
                outcome = WriteResult(ok=True, external_id=key)
                row = None
            else:
                outcome = WriteResult(ok=True, external_id=key, created=row is None)
                row = {**(row or {}), **self.cells[index]}
            if first_time:
                self.results[index] = outcome
        return row

    def new_columns(self, existing: Sequence[str]) -> list[str]:
        seen = set(existing)
        added: list[str] = []
        for index, cells in enumerate(self.cells):
            if self.results[index] is not None:
                continue  # refused write: its fields add nothing
            for name in cells:
                if name not in seen:
                    seen.add(name)
                    added.append(name)
        return added

    def _cell(self, value: object) -> str:
        text = cell_text(value)
        return escape_formula(text) if self.settings.escape_formulas else text


def merge_into(
    target: Path, writes: Sequence[Write], settings: CsvObjectSettings, *, is_input: bool
) -> list[WriteResult]:
    """Apply ``writes`` to ``target`` and say how each went."""
    batch = _Batch(settings, writes)
    batch.prepare(None if settings.has_header else settings.columns)
    before = _stat_key(target)
    reading = (
        settings
        if is_input
        else settings.model_copy(update={"encoding": "auto", "delimiter": "auto"})
    )
    try:
        if before is None:
            _write_new(target, batch, settings)
        else:
            _rewrite(target, batch, settings, reading, before)
    except FileChangedError:
        return _fail_all(
            batch, f"{target.name} changed while the batch was merged; retry", retriable=True
        )
    except UnusableFileError as exc:
        return _fail_all(batch, str(exc), retriable=False)
    except UnicodeEncodeError as exc:
        encoding = settings.output_encoding
        reason = f"{target.name}: existing text cannot be written as {encoding} ({exc.reason})"
        return _fail_all(batch, reason, retriable=False)
    except OSError as exc:
        return _fail_all(batch, f"cannot write {target}: {exc.strerror or exc}", retriable=True)
    return [
        result or WriteResult(ok=False, external_id=batch.keys[index], error="not applied")
        for index, result in enumerate(batch.results)
    ]


def _write_new(target: Path, batch: _Batch, settings: CsvObjectSettings) -> None:
    columns = list(settings.columns or []) if not settings.has_header else [settings.id_column]
    columns += batch.new_columns(columns)
    rows = [(key, batch.apply(key, None)) for key in batch.by_key]
    with atomic_text_file(target, settings.output_encoding) as stream:
        writer = csv_writer(stream, settings.output_delimiter)
        if settings.has_header:
            writer.writerow(columns)
        for _, row in rows:
            if row is not None:
                writer.writerow([row.get(name, "") for name in columns])
        if _stat_key(target) is not None:
            raise FileChangedError


def _rewrite(
    target: Path,
    batch: _Batch,
    settings: CsvObjectSettings,
    reading: CsvObjectSettings,
    before: tuple[int, int],
) -> None:
    with (
        open_csv(target, reading) as parsed,
        atomic_text_file(target, settings.output_encoding) as stream,
    ):
        writer = csv_writer(stream, settings.output_delimiter)
        columns: list[str] | None = None if settings.has_header else list(settings.columns or [])
        id_index = -1 if columns is None else columns.index(settings.id_column)
        done: set[str] = set()
        for item in parsed.records:
            if isinstance(item, BrokenRecord):
                raise UnusableFileError(
                    f"{target.name}:{item.line}: {item.reason}; fix the file first"
                )
            if item.decode_errors:
                raise UnusableFileError(
                    f"{target.name}:{item.first_line}: {item.decode_errors[0]}; fix the file first"
                )
            if item.is_blank:
                continue
            if columns is None:
                columns, id_index = _header(item, settings, target.name)
                columns += batch.new_columns(columns)
                writer.writerow(columns)
                continue
            _merge_row(item, columns, id_index, batch, writer, done)
        if columns is None:  # an empty file: start it afresh
            columns = [settings.id_column, *batch.new_columns([settings.id_column])]
            if settings.has_header:
                writer.writerow(columns)
        for key in batch.by_key:
            if key not in done and (row := batch.apply(key, None)) is not None:
                writer.writerow([row.get(name, "") for name in columns])
        if _stat_key(target) != before:
            raise FileChangedError


def _header(item: CsvRecord, settings: CsvObjectSettings, name: str) -> tuple[list[str], int]:
    columns = normalise_header(item.fields)
    problem = header_problem(columns, settings, name, for_writing=True)
    if problem is not None:
        raise UnusableFileError(problem)
    return columns, make_header(columns, settings).id_index


def _merge_row(
    item: CsvRecord,
    columns: list[str],
    id_index: int,
    batch: _Batch,
    writer: Any,
    done: set[str],
) -> None:
    fields = item.fields
    key = unescape_formula(fields[id_index].strip()) if id_index < len(fields) else ""
    if key not in batch.by_key:
        writer.writerow(fields + [""] * (len(columns) - len(fields)))
        return
    existing = dict(zip(columns, fields, strict=False))
    row = batch.apply(key, existing)
    done.add(key)
    if row is not None:
        writer.writerow([row.get(name, "") for name in columns])


def _cell_problem(
    cells: dict[str, str], allowed: Sequence[str] | None, encoding: str
) -> str | None:
    if allowed is not None:
        unknown = [name for name in cells if name not in allowed]
        if unknown:
            return f"fields {unknown} are not among the configured columns of a headerless file"
    for name, text in cells.items():
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return f"field {name!r} cannot be written as {encoding}: {text!r}"
    return None


def _fail_all(batch: _Batch, reason: str, *, retriable: bool) -> list[WriteResult]:
    return [
        result
        if result is not None and not result.ok
        else WriteResult(ok=False, external_id=batch.keys[index], error=reason, retriable=retriable)
        for index, result in enumerate(batch.results)
    ]


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size
