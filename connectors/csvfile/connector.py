"""CSV files as a system: each object is a file (or a glob of files) in one folder.

See README.md beside this file for options, encodings, reject files and cursor semantics.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hub.ports import CheckResult, Limits, Rejection, SourceRecord, Write, WriteResult

from .fileset import (
    FileFingerprint,
    decode_cursor,
    encode_cursor,
    fingerprint,
    is_pattern,
    label,
    matching_files,
    resolve,
    unchanged_since,
)
from .merge import merge_into
from .output import append_rejections, atomic_text_file, cell_text, csv_writer, escape_formula
from .parsed import open_csv
from .records import BrokenRecord
from .rows import header_problem, interpret_file, normalise_header
from .settings import CsvObjectSettings, CsvSettings


class CsvConnector:
    kind: ClassVar[str] = "csv"
    # Local files and settings only: the engine may read and map in a worker process.
    reads_in_worker: ClassVar[bool] = True

    def __init__(self, system: str, settings: CsvSettings) -> None:
        self.system = system
        self.settings = settings
        self.directory = settings.directory.expanduser()
        self.limits = Limits(batch_size=10_000)

    def __repr__(self) -> str:
        return f"CsvConnector({self.system!r}, directory={str(self.directory)!r})"

    def objects(self) -> Sequence[str]:
        return list(self.settings.objects)

    # ---- reading -------------------------------------------------------------------------------

    def read(self, obj: str, since: str | None) -> Iterator[SourceRecord | Rejection]:
        """Stream the records of every file of ``obj`` that changed since the cursor ``since``.

        Only the last SourceRecord carries the new cursor (the fingerprint of every file as read);
        the ones before it carry ``since`` unchanged, so a hub that persists the cursor of a durable
        page never skips rows of a file it has not finished.
        """
        settings = self._object(obj)
        previous = decode_cursor(since)
        files = matching_files(self.directory, settings.file)
        if not files and not is_pattern(settings.file):
            target = resolve(self.directory, settings.file)
            raise FileNotFoundError(f"{self.system}/{obj}: file {target} does not exist")
        prints: list[FileFingerprint] = []
        held: SourceRecord | None = None
        for path in files:
            name = label(self.directory, path)
            same = unchanged_since(self.directory, path, previous.get(name))
            if same is not None:
                prints.append(same)
                continue
            with open_csv(path, settings) as parsed:
                items = interpret_file(
                    parsed.records,
                    system=self.system,
                    obj=obj,
                    settings=settings,
                    file=name,
                    mtime_ns=parsed.mtime_ns,
                )
                for item in items:
                    if isinstance(item, Rejection):
                        yield item
                        continue
                    if held is not None:
                        yield held
                    item.cursor = since
                    held = item
                parsed.drain()
                digest = parsed.reader.hexdigest()
                prints.append(FileFingerprint(name, parsed.reader.size, parsed.mtime_ns, digest))
        if held is not None:
            held.cursor = encode_cursor(prints)
            yield held

    def current_cursor(self, obj: str) -> str:
        """The cursor for the object's files as they are now (hashes every file).

        For a hub that read a file whose rows were all rejected: no record carried a cursor, and
        persisting this one stops the same rejections from coming back every poll.
        """
        settings = self._object(obj)
        files = matching_files(self.directory, settings.file)
        return encode_cursor([fingerprint(self.directory, path) for path in files])

    # ---- writing -------------------------------------------------------------------------------

    def write(self, obj: str, writes: Sequence[Write]) -> list[WriteResult]:
        settings = self._object(obj)
        if not writes:
            return []
        target = self._output_path(obj, settings)
        is_input = settings.output_file is None
        return merge_into(target, writes, settings, is_input=is_input)

    def export(self, obj: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
        """Write ``rows`` as a new file at the object's output path, atomically; rows written.

        Keys of a row that are not in ``columns`` are left out. On any error the previous file
        stays as it was and no partial file is left behind.
        """
        settings = self._object(obj)
        target = self._output_path(obj, settings)
        escape = escape_formula if settings.escape_formulas else str
        count = 0
        with atomic_text_file(target, settings.output_encoding) as stream:
            writer = csv_writer(stream, settings.output_delimiter)
            if settings.has_header:
                writer.writerow([escape(str(column)) for column in columns])
            for row in rows:
                cells = [escape(cell_text(row.get(column))) for column in columns]
                try:
                    writer.writerow(cells)
                except UnicodeEncodeError as exc:
                    raise ValueError(
                        f"{self.system}/{obj} export row {count + 1}: "
                        f"{_unencodable(cells, settings.output_encoding, columns)} ({exc.reason})"
                    ) from None
                count += 1
        return count

    def report_rejections(self, obj: str, rejections: Sequence[Rejection]) -> None:
        """Append the rejections to the object's reject file (``file,line,id,reason,raw``)."""
        path = self.reject_path(obj)
        if rejections:
            append_rejections(path, [_reject_row(rejection) for rejection in rejections])

    def reject_path(self, obj: str) -> Path:
        settings = self._object(obj)
        if settings.reject_file is not None:
            return resolve(self.directory, settings.reject_file)
        pattern = resolve(self.directory, settings.file)
        stem = obj if is_pattern(pattern.name) else pattern.stem
        return pattern.parent / "rejects" / f"{stem}.rejects.csv"

    # ---- checking ------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        checks: list[tuple[str, bool, str]] = []
        try:
            checks.append(self._check_directory())
            for obj in self.settings.objects:
                checks.append(self._check_object(obj))
        except Exception as exc:  # check() must never raise: it reports
            checks.append(("check", False, f"unexpected error: {type(exc).__name__}: {exc}"))
        ok = all(passed for _, passed, _ in checks)
        failed = [name for name, passed, _ in checks if not passed]
        detail = "all checks passed" if ok else f"failed: {', '.join(failed)}"
        return CheckResult(ok=ok, detail=detail, checks=tuple(checks))

    def _check_directory(self) -> tuple[str, bool, str]:
        directory = self.directory
        if not directory.is_dir():
            return "directory", False, f"{directory} does not exist or is not a folder"
        if not os.access(directory, os.R_OK | os.X_OK):
            return "directory", False, f"{directory} is not readable"
        if not os.access(directory, os.W_OK):
            return "directory", False, f"{directory} is not writable (writes and rejects need it)"
        return "directory", True, f"{directory} is readable and writable"

    def _check_object(self, obj: str) -> tuple[str, bool, str]:
        name = f"object {obj}"
        settings = self._object(obj)
        try:
            files = matching_files(self.directory, settings.file)
        except OSError as exc:
            return name, False, f"cannot list {settings.file}: {exc}"
        if not files:
            return name, False, f"no file matches {settings.file!r} in {self.directory}"
        notes: list[str] = []
        for path in files:
            problem, description = self._check_file(path, settings)
            if problem is not None:
                return name, False, problem
            notes.append(description)
        return name, True, "; ".join(notes)

    def _check_file(self, path: Path, settings: CsvObjectSettings) -> tuple[str | None, str]:
        file = label(self.directory, path)
        if not os.access(path, os.R_OK):
            return f"{file} is not readable", ""
        try:
            with open_csv(path, settings) as parsed:
                if not settings.has_header:
                    return None, f"{file}: {parsed.describe()}, no header"
                for item in parsed.records:
                    if isinstance(item, BrokenRecord):
                        return f"{file}:{item.line}: header cannot be parsed: {item.reason}", ""
                    if item.is_blank and not item.decode_errors:
                        continue
                    if item.decode_errors:
                        return f"{file}: header cannot be decoded: {item.decode_errors[0]}", ""
                    columns = normalise_header(item.fields)
                    problem = header_problem(columns, settings, file)
                    if problem is not None:
                        return problem, ""
                    return None, f"{file}: {parsed.describe()}, {len(columns)} columns"
                return None, f"{file}: empty"
        except OSError as exc:
            return f"cannot read {file}: {exc.strerror or exc}", ""

    # ---- helpers -------------------------------------------------------------------------------

    def _object(self, obj: str) -> CsvObjectSettings:
        try:
            return self.settings.objects[obj]
        except KeyError:
            known = ", ".join(self.settings.objects)
            raise KeyError(f"{self.system}: no CSV object {obj!r} (configured: {known})") from None

    def _output_path(self, obj: str, settings: CsvObjectSettings) -> Path:
        if settings.output_file is not None:
            return resolve(self.directory, settings.output_file)
        if is_pattern(settings.file):
            raise ValueError(
                f"{self.system}/{obj} reads the pattern {settings.file!r}; "
                f"set output_file to say which file writes go to"
            )
        return resolve(self.directory, settings.file)


def _reject_row(rejection: Rejection) -> dict[str, str]:
    file, _, line = rejection.location.rpartition(":")
    if not line.isdigit():
        file, line = rejection.location, ""
    return {
        "file": file,
        "line": line,
        "id": rejection.external_id or "",
        "reason": rejection.reason,
        "raw": _raw_text(rejection.raw),
    }


def _raw_text(raw: Mapping[str, Any] | Sequence[str] | None) -> str:
    """The rejected row as one cell: a CSV line for a parsed row, JSON for a mapping."""
    if raw is None:
        return ""
    if isinstance(raw, Mapping):
        return json.dumps(dict(raw), ensure_ascii=False, default=str)
    if isinstance(raw, str):
        return raw
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(list(raw))
    return buffer.getvalue()


def _unencodable(cells: Sequence[str], encoding: str, columns: Sequence[str]) -> str:
    for column, text in zip(columns, cells, strict=True):
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return f"column {column!r} cannot be written as {encoding}: {text!r}"
    return f"a value cannot be written as {encoding}"
