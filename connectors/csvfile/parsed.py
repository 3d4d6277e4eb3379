"""Open one CSV file for streaming: detect its encoding and delimiter, then yield its records."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .dialect import DelimiterChoice, detect_delimiter
from .encoding import SAMPLE_BYTES, EncodingChoice, detect_encoding
from .lines import CHUNK_BYTES, DecodedLine, HashingReader, LineDecoder, decoded_lines
from .records import BrokenRecord, CsvRecord, iter_records
from .settings import CsvObjectSettings


@dataclass(slots=True)
class ParsedFile:
    """A file being read. ``reader`` holds the size and SHA-256 of the bytes read so far, which
    cover the whole file once ``records`` is exhausted."""

    path: Path
    mtime_ns: int
    encoding: EncodingChoice
    decoder: LineDecoder
    delimiter: DelimiterChoice
    reader: HashingReader
    records: Iterator[CsvRecord | BrokenRecord]

    def drain(self) -> None:
        """Read (and hash) whatever the parser left, e.g. after a header that stopped the file."""
        while self.reader.read(CHUNK_BYTES):
            pass

    def describe(self) -> str:
        delimiter = "tab" if self.delimiter.delimiter == "\t" else repr(self.delimiter.delimiter)
        return f"{self.decoder.name} ({self.encoding.how}), delimiter {delimiter}"


@contextlib.contextmanager
def open_csv(path: Path, settings: CsvObjectSettings) -> Iterator[ParsedFile]:
    with path.open("rb") as stream:
        mtime_ns = os.fstat(stream.fileno()).st_mtime_ns
        sample = stream.read(SAMPLE_BYTES)
        configured = None if settings.is_auto_encoding else settings.encoding
        encoding = detect_encoding(
            sample, whole_file=len(sample) < SAMPLE_BYTES, configured=configured
        )
        delimiter = _delimiter(sample, encoding, settings)
        del sample  # not kept alive for the whole read
        stream.seek(0)
        reader = HashingReader(stream)
        decoder = LineDecoder(encoding)
        lines = decoded_lines(reader, encoding, decoder)
        if delimiter.skip_first_line:
            lines = _without_sep_line(lines)
        records = iter_records(lines, delimiter.delimiter)
        yield ParsedFile(path, mtime_ns, encoding, decoder, delimiter, reader, records)


def _delimiter(
    sample: bytes, encoding: EncodingChoice, settings: CsvObjectSettings
) -> DelimiterChoice:
    if not settings.is_auto_delimiter:
        return DelimiterChoice(settings.delimiter, "configured")
    body = sample[len(encoding.bom) :]
    body = body[: len(body) - len(body) % encoding.unit]
    text = body.decode(encoding.codec, errors="replace")
    if encoding.newline == "\r".encode(encoding.codec):
        text = text.replace("\r", "\n")
    return detect_delimiter(text)


def _without_sep_line(lines: Iterator[DecodedLine]) -> Iterator[DecodedLine]:
    for line in lines:
        if line.text.strip():
            break  # the first non-blank line is Excel's "sep=" line, not data
    yield from lines
