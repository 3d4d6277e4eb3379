"""A file's bytes as numbered lines of text, decoded one line at a time.

Decoding per line (not the whole stream) is what lets one damaged line be rejected while the rest of
the file goes on. Splitting happens on the encoded newline at a code-unit boundary, so UTF-16 works
too; in every ASCII-compatible encoding used here the byte 0x0A never occurs inside a character
(GB18030 trail bytes are >= 0x30), so splitting on it is exact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .encoding import EncodingChoice, legacy_encoding

CHUNK_BYTES = 256 * 1024
MAX_LINE_BYTES = 4 * 1024 * 1024
_PREVIEW_BYTES = 200


@dataclass(frozen=True, slots=True)
class DecodedLine:
    """One physical line (newline included) and, when its bytes did not decode, why."""

    number: int
    text: str
    error: str | None = None


class HashingReader:
    """Reads a binary stream while keeping the SHA-256 and size of everything read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        self._sha256.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


class LineDecoder:
    """Decodes lines with the chosen encoding; a provisional (all-ASCII) choice is settled by the
    first non-ASCII line."""

    def __init__(self, choice: EncodingChoice) -> None:
        self.name = choice.name
        self._codec = choice.codec
        self._provisional = choice.provisional

    def decode(self, raw: bytes) -> tuple[str, str | None]:
        if self._provisional and not raw.isascii():
            self._settle(raw)
        try:
            return raw.decode(self._codec), None
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.end][:8].hex(" ")
            reason = (
                f"bytes [{bad}] at byte {exc.start + 1} of the line are not valid {self.name} "
                f"(the encoding chosen for this file)"
            )
            return raw.decode(self._codec, errors="replace"), reason

    def _settle(self, raw: bytes) -> None:
        self._provisional = False
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            self._codec, _ = legacy_encoding([raw], last_may_be_cut=False)
            self.name = self._codec


def split_lines(
    read: HashingReader, *, newline: bytes, unit: int, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(line, too_long)``; a line over ``max_line_bytes`` comes once, cut to a preview, and
    the rest of it is skipped, so memory stays bounded whatever the file holds."""
    buffer = bytearray()
    skipping = False
    while chunk := read.read(CHUNK_BYTES):
        buffer += chunk
        start = search = 0
        while (found := buffer.find(newline, search)) >= 0:
            if (found - start) % unit:
                search = found + 1  # a newline byte pattern straddling two code units
                continue
            end = found + len(newline)
            if skipping:
                skipping = False
            elif end - start > max_line_bytes:
                yield bytes(buffer[start : start + _PREVIEW_BYTES]), True
            else:
                yield bytes(buffer[start:end]), False
            start = search = end
        del buffer[:start]
        if len(buffer) > max_line_bytes:
            if not skipping:
                yield bytes(buffer[:_PREVIEW_BYTES]), True
                skipping = True
            keep = len(newline) - 1  # the start of a newline may end this chunk
            drop = len(buffer) - keep
            del buffer[: drop - drop % unit]
    if buffer and not skipping:
        yield bytes(buffer), False


def decoded_lines(
    read: HashingReader, choice: EncodingChoice, decoder: LineDecoder
) -> Iterator[DecodedLine]:
    """Number and decode every physical line of the stream, skipping the BOM."""
    bom = read.read(len(choice.bom)) if choice.bom else b""
    if bom != choice.bom:
        raise ValueError("file changed while it was read: its byte order mark is gone")
    number = 0
    for raw, too_long in split_lines(read, newline=choice.newline, unit=choice.unit):
        number += 1
        if too_long:
            preview, _ = decoder.decode(raw[: len(raw) - len(raw) % choice.unit])
            reason = (
                f"line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB "
                f"(it starts {preview[:60]!r})"
            )
            # The parser sees an empty line, so a quote in the cut-off preview cannot swallow
            # the lines after it; the record holding this line is rejected for the reason.
            yield DecodedLine(number, "\n", reason)
            continue
        text, error = decoder.decode(raw)
        yield DecodedLine(number, text, error)
