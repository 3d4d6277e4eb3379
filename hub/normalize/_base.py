"""Shared pieces of the normalisers: the error type and the text clean-up the other modules use."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

_MAX_SHOWN = 80


class InvalidValue(ValueError):
    """A value that cannot be normalised. The message names the value and what was expected.

    A ``ValueError`` so pydantic validators turn it into a validation error of the field, and
    mapping code can reject one value (or one record) and go on.
    """

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value

    def naming(self, raw: object, *, seen: str) -> InvalidValue:
        """The same error naming ``raw``, the value as the source held it, instead of ``seen``, the
        cleaned text the (cached) check was given: the user must find the value in their data.
        Errors about another value (a time zone, a country given alongside) are left alone."""
        if self.value != seen or raw == seen:
            return self
        message, shown_seen = str(self), shown(seen)
        if message.startswith(shown_seen):
            message = shown(raw) + message[len(shown_seen) :]
        return InvalidValue(message, value=raw)


def shown(value: object) -> str:
    """The value as it appears in an error message: quoted, cut when very long."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 4] + "...'"


def invalid(value: object, expected: str) -> InvalidValue:
    """``'abc@' is not a valid email address (no domain after '@')``."""
    return InvalidValue(f"{shown(value)} is not {expected}", value=value)


# Characters that never carry meaning in a field value: zero-width space, word joiner, BOM, soft
# hyphen (all common in text pasted from web pages and Excel); C0/C1 controls become spaces.
_CLEANUP = {cp: None for cp in (0x200B, 0x2060, 0xFEFF, 0x00AD)}
_CLEANUP.update({cp: " " for cp in (*range(0x00, 0x20), *range(0x7F, 0xA0))})


def word_set(text: str) -> frozenset[str]:
    """The words of one whitespace-separated string (long vocabularies read better so)."""
    return frozenset(text.split())


def nfkc(value: str) -> str:
    """NFKC: full-width ＡＢＣ１２３＠ → ABC123@, ideographic space → space. ASCII is unchanged."""
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def clean(value: str) -> str:
    """NFKC, invisible characters dropped, whitespace collapsed to single spaces, trimmed."""
    return " ".join(nfkc(value).translate(_CLEANUP).split())


def as_text(value: Any, expected: str) -> str | None:
    """The raw input as a ``str``; None stays None. Numbers are accepted (CSV and JSON sources send
    ids and codes as numbers); anything else is an error naming what was expected."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise invalid(value, expected)
    return str(value)


def cleaned_text(value: Any, expected: str) -> str | None:
    """The input cleaned (``clean``), or None when nothing is left: None, "", spaces, a lone BOM."""
    text = as_text(value, expected)
    return (clean(text) or None) if text is not None else None


def is_cjk(char: str) -> bool:
    """Han ideographs (incl. extensions and compatibility), kana and Hangul: the scripts whose names
    are written without spaces, family name first."""
    cp = ord(char)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x3040 <= cp <= 0x30FF
        or 0xAC00 <= cp <= 0xD7AF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
        or 0x1100 <= cp <= 0x11FF
    )


def has_cjk(value: str) -> bool:
    return not value.isascii() and any(is_cjk(c) for c in value)


def normalize_text(value: str | None) -> str | None:
    """Free text for comparison and storage: NFKC, invisible characters removed, whitespace
    collapsed, trimmed. CJK is kept as written: no conversion between simplified and traditional
    characters (a customer's own spelling of their name is data; the matcher compares through pinyin
    instead).

    >>> normalize_text("  Ｈｕａｗｅｉ\u3000技术  ")
    'Huawei 技术'
    """
    if type(value) is str:
        return _normalize_str(value)
    return cleaned_text(value, "text")


@lru_cache(maxsize=1 << 14)
def _normalize_str(value: str) -> str | None:
    # Cities, titles, company names: the same few texts on record after record.
    return clean(value) or None


# Latin letters that carry no combining mark to strip but still differ from their ASCII spelling.
_LATIN_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "æ": "ae", "Æ": "AE", "œ": "oe",
     "Œ": "OE", "ß": "ss", "þ": "th", "ı": "i"}
)  # fmt: skip


def strip_accents(value: str) -> str:
    """``José Müller Øresund`` → ``Jose Muller Oresund``: marks are dropped from Latin letters only,
    so Japanese voiced kana (ガ) and Hangul keep their form."""
    if value.isascii():
        return value
    kept: list[str] = []
    after_latin = False
    for char in unicodedata.normalize("NFD", value.translate(_LATIN_LETTERS)):
        if unicodedata.combining(char):
            if after_latin:
                continue
        else:
            after_latin = char < "\u0250" or "\u1e00" <= char <= "\u1eff"
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


# Scripts written without spaces between words; the class for regular expressions.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_SPACE_IN_CJK = re.compile(f"(?<=[{CJK_CLASS}·]) (?=[{CJK_CLASS}·])")


def join_cjk(text: str) -> str:
    """Spaces between two CJK characters removed (``华为 技术`` → ``华为技术``); others kept."""
    return _SPACE_IN_CJK.sub("", text) if " " in text else text


@lru_cache(maxsize=1)
def _lazy_pinyin() -> Callable[[str], list[str]]:
    """``pypinyin.lazy_pinyin`` (tone-less), imported on first use: it takes ~0.25 s to load."""
    from pypinyin import lazy_pinyin

    return lazy_pinyin


def to_pinyin(text: str) -> list[str]:
    """Tone-less pinyin syllables of the Han characters (``张伟`` → ``['zhang', 'wei']``); runs of
    other characters come back as their own words."""
    return [word for chunk in _lazy_pinyin()(text) for word in chunk.split()]
