"""The files behind an object, and the cursor: a fingerprint of exactly what was read.

A cursor lists, per file, its path (relative to the system's directory), size, mtime and SHA-256.
A later read skips a file whose fingerprint still matches: same size and mtime is taken as unchanged
without hashing (the make/rsync rule); same size with a new mtime is hashed, so an identical
re-export is still skipped; a new size is read again. The cursor is only a fast path: the hub
fingerprints every record, so reading a file twice changes nothing either way.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

_CURSOR_VERSION = 1
_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    path: str
    size: int
    mtime_ns: int
    sha256: str


def is_pattern(file: str) -> bool:
    return glob.has_magic(file)


def resolve(directory: Path, file: str) -> Path:
    path = Path(file).expanduser()
    return path if path.is_absolute() else directory / path


def matching_files(directory: Path, file: str) -> list[Path]:
    """The files an object's ``file`` setting names, sorted; hidden and temporary files are left
    out so the hub's own half-written output (``.name.xxxx.tmp``) is never read."""
    target = resolve(directory, file)
    if not is_pattern(file):
        return [target] if target.is_file() else []
    found = (Path(name) for name in glob.glob(str(target)))
    return sorted(path for path in found if path.is_file() and not path.name.startswith("."))


def label(directory: Path, path: Path) -> str:
    """How a file is named in locations and cursors: relative to the directory when inside it."""
    try:
        return path.relative_to(directory).as_posix()
    except ValueError:
        return path.as_posix()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(directory: Path, path: Path) -> FileFingerprint:
    stat = path.stat()
    return FileFingerprint(label(directory, path), stat.st_size, stat.st_mtime_ns, sha256_of(path))


def unchanged_since(
    directory: Path, path: Path, previous: FileFingerprint | None
) -> FileFingerprint | None:
    """The file's current fingerprint if its content is what ``previous`` saw, else ``None``."""
    if previous is None:
        return None
    stat = path.stat()
    if stat.st_size != previous.size:
        return None
    if stat.st_mtime_ns == previous.mtime_ns:
        return previous
    if sha256_of(path) != previous.sha256:
        return None
    return FileFingerprint(previous.path, stat.st_size, stat.st_mtime_ns, previous.sha256)


def encode_cursor(prints: list[FileFingerprint]) -> str:
    files = [asdict(item) for item in sorted(prints, key=lambda item: item.path)]
    return json.dumps({"v": _CURSOR_VERSION, "files": files}, separators=(",", ":"))


def decode_cursor(cursor: str | None) -> dict[str, FileFingerprint]:
    """The fingerprints in a cursor by path; empty (read all) when it is missing or foreign."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        if data.get("v") != _CURSOR_VERSION:
            return {}
        prints = [FileFingerprint(**item) for item in data["files"]]
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}
    return {item.path: item for item in prints}
