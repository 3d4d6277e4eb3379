"""Writing CSV files that Excel opens safely: atomic replacement, formula escaping, reject files."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

# A cell starting with one of these is run as a formula by Excel and LibreOffice ("CSV injection",
# OWASP). Phone numbers and signed numbers ("+86 138 0013 8000", "-12.5") start with + or - too, and
# are harmless: they are left alone so the most common customer data is not mangled.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_HARMLESS_SIGNED = re.compile(r"^[+-][\d\s().,/-]*$")

REJECT_COLUMNS = ("file", "line", "id", "reason", "raw")


def needs_formula_escape(value: str) -> bool:
    return value.startswith(_FORMULA_STARTS) and not _HARMLESS_SIGNED.match(value)


def escape_formula(value: str) -> str:
    return "'" + value if needs_formula_escape(value) else value


def unescape_formula(value: str) -> str:
    """Undo ``escape_formula`` exactly: what the hub wrote reads back unchanged (no echo loop)."""
    if value.startswith("'") and needs_formula_escape(value[1:]):
        return value[1:]
    return value


def cell_text(value: Any) -> str:
    """How a hub value is spelled in a cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@contextlib.contextmanager
def atomic_text_file(path: Path, encoding: str) -> Iterator[TextIO]:
    """A text file that appears at ``path`` complete, or not at all.

    Written to a temporary file beside the target (same file system, so ``os.replace`` is atomic),
    flushed to disk, then renamed over the target. On any exception the temporary file is removed
    and the target is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding=encoding, newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_path, _mode_for(path))
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def csv_writer(stream: TextIO, delimiter: str) -> Any:
    # CRLF as RFC 4180 and Excel; minimal quoting keeps files diff-friendly.
    return csv.writer(stream, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def append_rejections(path: Path, rows: Sequence[Mapping[str, str]]) -> None:
    """Append rows to a reject file (UTF-8 with BOM so Excel shows 中文 right), creating it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8", newline="") as stream:
        if is_new:
            stream.write("\ufeff")
        writer = csv_writer(stream, ",")
        if is_new:
            writer.writerow(REJECT_COLUMNS)
        for row in rows:
            writer.writerow([escape_formula(row.get(column, "")) for column in REJECT_COLUMNS])


def _mode_for(path: Path) -> int:
    """Keep the replaced file's permissions; a new file gets the usual umask-based mode
    (mkstemp alone would leave it readable by its owner only)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def _current_umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads creating files;
    # Linux reports it in /proc instead.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system lets a directory be synced
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
