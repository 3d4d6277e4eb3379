"""Salesforce record ids: 15-character case-sensitive, 18-character case-safe.

apis.md §1.11 [K]: the 18-character form appends three characters, one per block of five, each
encoding (bits read in reverse) which letters of the block are uppercase, mapped into
``ABCDEFGHIJKLMNOPQRSTUVWXYZ012345``. The first three characters are the key prefix naming the
object (Account ``001``, Contact ``003``, User ``005``, Organization ``00D``).
"""

from __future__ import annotations

import itertools
import string

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ALNUM = frozenset(string.ascii_letters + string.digits)


def checksum_suffix(id15: str) -> str:
    """The three case-safety characters for a 15-character id."""
    suffix = []
    for block in range(3):
        chunk = id15[block * 5 : block * 5 + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to_18(id15: str) -> str:
    return id15 + checksum_suffix(id15)


def normalize_id(raw: str) -> str | None:
    """The canonical 18-character id for ``raw``, or None when ``raw`` is not a well-formed id.

    A 15-character id is case-sensitive and gains its suffix. An 18-character id is case-safe: its
    suffix says which letters are uppercase, so a wrongly cased copy still names the same record
    (the reason the 18-character form exists); a suffix that cannot describe the id is malformed.
    """
    if not isinstance(raw, str) or len(raw) not in (15, 18) or not set(raw) <= _ALNUM:
        return None
    if len(raw) == 15:
        return to_18(raw)
    suffix = raw[15:].upper()
    if any(ch not in _SUFFIX_ALPHABET for ch in suffix):
        return None
    cased = []
    for block, code in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.index(code)
        for i, ch in enumerate(raw[block * 5 : block * 5 + 5]):
            upper = bool(bits >> i & 1)
            if upper and not ch.isalpha():
                return None
            cased.append(ch.upper() if upper else ch.lower())
    id15 = "".join(cased)
    return id15 + suffix


def key_prefix(record_id: str) -> str:
    return record_id[:3]


class IdFactory:
    """Mints ids for one org: prefix + pod marker + a base-62 counter, then the suffix.

    Mixed-case base-62 digits make the suffix meaningful, as in real ids (``0015g00000XyZ12AAB``).
    """

    def __init__(self, pod: str = "Hu") -> None:
        self._pod = pod
        self._counter = itertools.count(1)

    def new(self, prefix: str) -> str:
        n = next(self._counter)
        digits = []
        for _ in range(9):
            n, rem = divmod(n, 62)
            digits.append(_BASE62[rem])
        body = f"{prefix}{self._pod}0{''.join(reversed(digits))}"
        return to_18(body)
