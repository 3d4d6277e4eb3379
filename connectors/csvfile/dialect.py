"""Which delimiter a file uses: Excel's ``sep=`` line, ``csv.Sniffer``, else a header count."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

CANDIDATES = (",", ";", "\t", "|")
_SNIFF_LINES = 50
# Excel writes and honours a first line "sep=;" naming the delimiter; it is not part of the data.
_SEP_LINE = re.compile(r"^sep=(.)$")


@dataclass(frozen=True, slots=True)
class DelimiterChoice:
    delimiter: str
    how: str
    skip_first_line: bool = False


def detect_delimiter(sample_text: str) -> DelimiterChoice:
    lines = [line.rstrip("\r") for line in sample_text.split("\n")[:_SNIFF_LINES]]
    lines = [line.replace("\ufeff", "") for line in lines]
    first = next((line for line in lines if line.strip()), "")
    sep_line = _SEP_LINE.match(first.strip())
    if sep_line is not None:
        return DelimiterChoice(sep_line.group(1), "sep= line", skip_first_line=True)
    counts = _counts_outside_quotes(first)
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(CANDIDATES)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in CANDIDATES and counts[sniffed] > 0:
        return DelimiterChoice(sniffed, "sniffed")
    best = max(CANDIDATES, key=lambda candidate: counts[candidate])  # first wins a tie
    if counts[best] > 0:
        return DelimiterChoice(best, "count in header")
    return DelimiterChoice(",", "default (one column)")


def _counts_outside_quotes(line: str) -> dict[str, int]:
    counts = dict.fromkeys(CANDIDATES, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted  # a doubled quote flips twice: still inside
        elif not quoted and char in counts:
            counts[char] += 1
    return counts
