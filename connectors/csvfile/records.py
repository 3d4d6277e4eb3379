"""Split decoded lines into CSV records (RFC 4180 quoting), each knowing the lines it came from.

``csv.reader`` runs in strict mode so a malformed quote is an error, not silently glued text. When a
record breaks, only its first line is rejected and the lines the broken quote swallowed are parsed
again: one stray quote must not take the rest of the file with it. ``csv.reader`` resets its state
at the start of every ``next()``, so it can go on after an error.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from .lines import DecodedLine


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One parsed record; ``first_line`` is the physical line where it starts."""

    first_line: int
    last_line: int
    fields: list[str]
    decode_errors: tuple[str, ...] = ()

    @property
    def is_blank(self) -> bool:
        # Every cell blank: the cells together are whitespace only (one C call per row).
        return not "".join(self.fields).strip()


@dataclass(frozen=True, slots=True)
class BrokenRecord:
    """A record whose quoting could not be parsed; ``line`` is where it starts."""

    line: int
    reason: str
    raw: list[str]


class _LineSource:
    """Feeds ``csv.reader`` one line at a time and remembers the lines of the current record."""

    def __init__(self, lines: Iterator[DecodedLine]) -> None:
        self._lines = lines
        self._pushed_back: deque[DecodedLine] = deque()
        self.taken: list[DecodedLine] = []

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        line = self._pushed_back.popleft() if self._pushed_back else next(self._lines)
        self.taken.append(line)
        return line.text

    def start_record(self) -> None:
        self.taken = []

    def push_back(self, lines: list[DecodedLine]) -> None:
        self._pushed_back.extendleft(reversed(lines))


def iter_records(
    lines: Iterator[DecodedLine], delimiter: str
) -> Iterator[CsvRecord | BrokenRecord]:
    source = _LineSource(lines)
    reader = csv.reader(source, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
    while True:
        source.start_record()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            taken = source.taken
            if not taken:
                return
            yield BrokenRecord(
                taken[0].number, _explain(exc, taken), [taken[0].text.rstrip("\r\n")]
            )
            source.push_back(taken[1:])
            continue
        taken = source.taken
        errors = tuple(f"line {line.number}: {line.error}" for line in taken if line.error)
        yield CsvRecord(taken[0].number, taken[-1].number, fields, errors)


def _explain(error: csv.Error, taken: list[DecodedLine]) -> str:
    start, end = taken[0].number, taken[-1].number
    message = str(error)
    if "unexpected end of data" in message:
        return (
            f"quoted field opened on line {start} is never closed (reached the end of the file); "
            f"the lines after it were read as rows of their own"
        )
    if "expected after" in message:
        return (
            f"unexpected character after a closing quote on line {end} (a quote inside a quoted "
            f'field must be doubled: "")'
        )
    if "field larger than field limit" in message:
        return (
            f"quoted field opened on line {start} runs past {csv.field_size_limit()} characters "
            f"(to line {end}); probably an unbalanced quote"
        )
    return f"cannot parse the record starting on line {start}: {message}"
