"""Which encoding a CSV file is in, judged on a bounded sample of its first bytes.

Files come from Chinese Excel (GBK, which we always decode as its superset GB18030), Western Excel
(cp1252), modern tools (UTF-8, often with a BOM) and Excel's "Unicode text" (UTF-16 with a BOM).
A statistical detector alone is unreliable on the short files people export (charset-normalizer
calls a two-line GBK file Big5 and a cp1252 file cp1250), so the order is:

1. a byte order mark decides;
2. NULs on every other byte mean UTF-16 without a BOM;
3. strict UTF-8 on the sample (the commonest case; valid multi-byte UTF-8 rarely happens by chance);
4. GB18030 when most double-byte characters fall in the GB2312 block (both bytes >= 0xA1: the common
   hanzi), which Western text almost never produces since an accented letter is followed by ASCII;
5. charset-normalizer's guess, except that a Latin-script guess becomes cp1252 (Western Excel) when
   cp1252 decodes the sample;
6. cp1252, then whichever of GB18030 / cp1252 fails on fewer lines.

A sample with no byte above 0x7F proves nothing: UTF-8 is then provisional, and the first non-ASCII
line further on decides (see ``lines.LineDecoder``). Lines that do not decode under the chosen
encoding are rejected one by one by the reader; a few such lines in the sample do not change the
choice (``_tolerance``).
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes

SAMPLE_BYTES = 256 * 1024
_DETECTOR_BYTES = 64 * 1024

# (BOM, codec that decodes the lines after it, code unit width, name shown to people).
# UTF-32 LE must be tried before UTF-16 LE: its BOM starts with UTF-16 LE's.
_BOMS: tuple[tuple[bytes, str, int, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", 4, "utf-32 (BOM)"),
    (codecs.BOM_UTF32_BE, "utf-32-be", 4, "utf-32 (BOM)"),
    (codecs.BOM_UTF8, "utf-8", 1, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", 2, "utf-16 (BOM)"),
    (codecs.BOM_UTF16_BE, "utf-16-be", 2, "utf-16 (BOM)"),
)

# Every GB variant is decoded as GB18030: it is a strict superset of GB2312 and GBK.
_CHINESE_GB = {"gb2312", "gbk", "gb18030", "cp936", "euc_cn", "euccn"}


@dataclass(frozen=True, slots=True)
class EncodingChoice:
    """How to turn a file's bytes into lines of text.

    ``codec`` is stateless and decodes one line at a time; ``bom`` is skipped at the start;
    ``unit`` is the code unit width (a newline found at an odd offset in UTF-16 is not one);
    ``provisional`` means the sample was pure ASCII, so the first non-ASCII line decides.
    """

    name: str
    codec: str
    how: str
    bom: bytes = b""
    unit: int = 1
    newline: bytes = b"\n"
    provisional: bool = False

    def describe(self) -> str:
        return f"{self.name} ({self.how})"


def canonical_codec(name: str) -> str:
    """Python's canonical codec name, with every GB variant mapped to gb18030."""
    canonical = codecs.lookup(name).name
    return "gb18030" if canonical.replace("-", "_") in _CHINESE_GB else canonical


def detect_encoding(sample: bytes, *, whole_file: bool, configured: str | None) -> EncodingChoice:
    """Choose the encoding for a file whose first bytes are ``sample``.

    ``whole_file`` says the sample is the entire file (so its last line is not cut short);
    ``configured`` is the object's ``encoding`` setting, ``None`` for auto.
    """
    bom_choice = _by_bom(sample)
    if configured is not None:
        return _configured(configured, bom_choice, sample)
    if bom_choice is not None:
        return _with_newline(bom_choice, sample)
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        return _with_newline(utf16, sample)
    lines = sample_lines(sample, whole_file=whole_file)
    newline = _newline(sample, "ascii")
    if all(line.isascii() for line in lines):
        return EncodingChoice("utf-8", "utf-8", "ASCII so far", newline=newline, provisional=True)
    if _utf8_fits(lines, last_may_be_cut=not whole_file):
        return EncodingChoice("utf-8", "utf-8", "valid UTF-8", newline=newline)
    codec, how = legacy_encoding(lines, last_may_be_cut=not whole_file)
    return EncodingChoice(codec, codec, how, newline=newline)


def sample_lines(sample: bytes, *, whole_file: bool) -> list[bytes]:
    """The sample split into non-blank lines, without a last line that the sample cut short."""
    separator = b"\n" if b"\n" in sample or b"\r" not in sample else b"\r"
    pieces = sample.split(separator)
    if not whole_file and len(pieces) > 1:
        pieces.pop()  # may end in the middle of a multi-byte character
    return [piece for piece in pieces if piece.strip()]


def legacy_encoding(lines: Sequence[bytes], *, last_may_be_cut: bool) -> tuple[str, str]:
    """The best non-UTF-8 encoding for these lines, and why (steps 4-6 of the module doc)."""
    tolerance = _tolerance(lines)
    gb_bad = bad_line_count(lines, "gb18030", last_may_be_cut=last_may_be_cut)
    if gb_bad <= tolerance and _looks_like_gb2312_text(lines):
        return "gb18030", "GB2312 hanzi"
    guess = _detector_guess(lines)
    cp1252_bad = bad_line_count(lines, "cp1252", last_may_be_cut=last_may_be_cut)
    if guess is not None:
        if guess == "gb18030" and gb_bad <= tolerance:
            return "gb18030", "detector"
        if _is_single_byte(guess) and _mostly_latin(lines, guess):
            if cp1252_bad == 0:
                return "cp1252", "Latin text (Western Excel)"
            if bad_line_count(lines, guess, last_may_be_cut=last_may_be_cut) <= tolerance:
                return guess, "detector"
        elif bad_line_count(lines, guess, last_may_be_cut=last_may_be_cut) <= tolerance:
            return guess, "detector"
    if cp1252_bad == 0:
        return "cp1252", "fallback"
    if gb_bad <= cp1252_bad:
        return "gb18030", "fewest undecodable lines"
    return "cp1252", "fewest undecodable lines"


def bad_line_count(lines: Sequence[bytes], codec: str, *, last_may_be_cut: bool) -> int:
    bad = 0
    for index, line in enumerate(lines):
        final = not (last_may_be_cut and index == len(lines) - 1)
        try:
            codecs.getincrementaldecoder(codec)("strict").decode(line, final=final)
        except UnicodeDecodeError:
            bad += 1
    return bad


def _tolerance(lines: Sequence[bytes]) -> int:
    """Undecodable lines a sample may hold without ruling an encoding out: damage, not evidence."""
    return max(1, len(lines) // 100)


def _utf8_fits(lines: Sequence[bytes], *, last_may_be_cut: bool) -> bool:
    bad = bad_line_count(lines, "utf-8", last_may_be_cut=last_may_be_cut)
    if bad == 0:
        return True
    good_non_ascii = sum(1 for line in lines if not line.isascii()) - bad
    # Valid multi-byte UTF-8 rarely happens by chance, so several such lines outweigh a bad one;
    # one accented cp1252 line in an otherwise ASCII file must not be called damaged UTF-8.
    return good_non_ascii >= 3 * bad


def _looks_like_gb2312_text(lines: Sequence[bytes]) -> bool:
    double_byte = 0
    common = 0
    for line in lines:
        text = line.decode("gb18030", errors="ignore")
        for char in text:
            if char.isascii():
                continue
            encoded = char.encode("gb18030")
            if len(encoded) != 2:
                continue
            double_byte += 1
            common += encoded[0] >= 0xA1 and encoded[1] >= 0xA1
    return double_byte > 0 and common * 2 >= double_byte


def _detector_guess(lines: Sequence[bytes]) -> str | None:
    payload = b"\n".join(lines)[:_DETECTOR_BYTES]
    best = from_bytes(payload).best()
    if best is None:
        return None
    try:
        return canonical_codec(best.encoding)
    except LookupError:
        return None


def _is_single_byte(codec: str) -> bool:
    return len(bytes(range(0x80, 0x100)).decode(codec, errors="replace")) == 0x80


def _mostly_latin(lines: Sequence[bytes], codec: str) -> bool:
    letters = latin = 0
    for line in lines:
        for char in line.decode(codec, errors="ignore"):
            if char.isascii() or not char.isalpha():
                continue
            letters += 1
            latin += unicodedata.name(char, "").startswith("LATIN")
    return letters == 0 or latin * 2 >= letters


def _by_bom(sample: bytes) -> EncodingChoice | None:
    for bom, codec, unit, name in _BOMS:
        if sample.startswith(bom):
            return EncodingChoice(name, codec, "byte order mark", bom=bom, unit=unit)
    return None


def _utf16_without_bom(sample: bytes) -> EncodingChoice | None:
    """UTF-16 without a BOM (some database export tools): ASCII text with NULs interleaved."""
    head = sample[: 4096 - 4096 % 2]
    if len(head) < 4:
        return None
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    half = len(head) // 2
    if odd_nuls >= half * 0.4 and even_nuls <= half * 0.05:
        return EncodingChoice("utf-16-le", "utf-16-le", "NUL pattern", unit=2)
    if even_nuls >= half * 0.4 and odd_nuls <= half * 0.05:
        return EncodingChoice("utf-16-be", "utf-16-be", "NUL pattern", unit=2)
    return None


def _configured(
    configured: str, bom_choice: EncodingChoice | None, sample: bytes
) -> EncodingChoice:
    # A BOM is unambiguous and outranks a setting that may predate the latest export.
    if bom_choice is not None:
        return _with_newline(bom_choice, sample)
    codec = canonical_codec(configured)
    # Without a BOM these codecs mean plain UTF-8 / little-endian (what Python's decoders assume).
    codec = {"utf-8-sig": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(codec, codec)
    unit = 4 if codec.startswith("utf-32") else 2 if codec.startswith("utf-16") else 1
    return _with_newline(EncodingChoice(codec, codec, "configured", unit=unit), sample)


def _with_newline(choice: EncodingChoice, sample: bytes) -> EncodingChoice:
    newline = _newline(sample[len(choice.bom) :], choice.codec)
    return EncodingChoice(
        choice.name,
        choice.codec,
        choice.how,
        bom=choice.bom,
        unit=choice.unit,
        newline=newline,
        provisional=choice.provisional,
    )


def _newline(sample: bytes, codec: str) -> bytes:
    """LF, or CR alone for files from old Mac Excel ("CSV (Macintosh)") that have no LF at all."""
    line_feed = "\n".encode(codec)
    carriage_return = "\r".encode(codec)
    if line_feed not in sample and carriage_return in sample:
        return carriage_return
    return line_feed
