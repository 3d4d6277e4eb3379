"""Numbers and booleans from text as spreadsheets and Chinese systems write them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from hub.normalize._base import clean, invalid

_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?")
# Thousands grouping with comma, space, apostrophe (Swiss), underscore or dot (European).
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:([,' _.])\d{3})(?:\1\d{3})*")
_CURRENCY = re.compile(
    r"^(?:[¥$€£]|rmb|cny|usd|eur|hkd|gbp|jpy)\s*|\s*(?:[¥$€£元]|rmb|cny|usd|eur|hkd|gbp|jpy)$"
)
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")

_TRUE = frozenset({"true", "t", "yes", "y", "1", "on", "是", "真", "对", "對", "有", "√", "✓", "x"})
_FALSE = frozenset(
    {"false", "f", "no", "n", "0", "off", "否", "假", "错", "錯", "无", "無", "×", "✗"}
)


def parse_int(value: str | int | float | Decimal | None) -> int | None:
    """``'1,234'`` / ``'１２３４'`` / ``'1234.0'`` / ``1234.0`` → ``1234``; empty → None.

    A fraction (``'12.5'``) or anything else raises ``InvalidValue``: an integer field never rounds.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid(value, "an integer (a boolean was given)")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if not _is_whole(value):
            raise invalid(value, "an integer")
        return int(value)
    if not isinstance(value, str):
        raise invalid(value, "an integer")
    text = clean(value).replace("\u2212", "-")  # U+2212 MINUS SIGN, as typeset documents write it
    if not text:
        return None
    return _parse_int(text, value)


@lru_cache(maxsize=4096)
def _parse_int(text: str, original: str) -> int:
    compact = _ungroup(text)
    if not _INTEGER.fullmatch(compact):
        raise invalid(original, "an integer")
    return int(compact.split(".", 1)[0])


def _is_whole(number: float | Decimal) -> bool:
    try:
        return (
            bool(number == number.to_integral_value())
            if isinstance(number, Decimal)
            else number.is_integer()
        )
    except InvalidOperation:
        return False


def _ungroup(text: str) -> str:
    """``1,234,567`` / ``1 234 567`` / ``1'234'567`` → ``1234567`` when the grouping is regular."""
    found = _GROUPED.match(text)
    if found and found.group(1):
        grouped, rest = text[: found.end()], text[found.end() :]
        separator = found.group(1)
        if separator == "." and grouped.count(".") == 1 and rest[:1] != ",":
            return text  # 1.234 alone is a decimal; 1.234.567 and 1.234,5 are grouped
        if separator == "," and rest[:1] == ",":
            return text
        return grouped.replace(separator, "") + rest
    return text


def parse_decimal(value: str | int | float | Decimal | None) -> Decimal | None:
    """``'¥1,234.50'`` / ``'1.234,50'`` / ``'1 234,5'`` / ``'(12.00)'`` → ``Decimal``; empty → None.

    Decimal separator: with both ``,`` and ``.`` the rightmost is the decimal one; a comma alone is
    a thousands separator when it groups by three (``1,234`` = 1234) and a decimal comma otherwise
    (``1,5`` = 1.5). A leading or trailing currency (``¥ $ € £ 元 CNY RMB USD ...``) is dropped;
    accounting brackets mean negative. Floats go through ``repr`` so ``0.1`` stays
    ``Decimal('0.1')``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid(value, "a number (a boolean was given)")
    if isinstance(value, Decimal | int | float):
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
        if not number.is_finite():
            raise invalid(value, "a finite number")
        return number
    if not isinstance(value, str):
        raise invalid(value, "a number")
    text = clean(value).replace("\u2212", "-")
    if not text:
        return None
    return _parse_decimal(text, value)


@lru_cache(maxsize=4096)
def _parse_decimal(text: str, original: str) -> Decimal:
    lowered = _CURRENCY.sub("", text.lower()).strip()
    negative = lowered.startswith("(") and lowered.endswith(")")
    if negative:
        lowered = lowered[1:-1].strip()
    compact = _decimal_point(_ungroup(lowered))
    if not _PLAIN_DECIMAL.fullmatch(compact):
        raise invalid(original, "a number")
    number = Decimal(compact)
    return -number if negative else number


def _decimal_point(text: str) -> str:
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):  # 1.234,56
            return text.replace(".", "").replace(",", ".")
        return text.replace(",", "")
    if text.count(",") == 1:  # 1,5: the grouped case was taken by _ungroup
        return text.replace(",", ".")
    return text


def parse_bool(value: str | int | bool | None) -> bool | None:
    """true/false, yes/no, y/n, t/f, 1/0, on/off, 是/否, 真/假, 对/错, 有/无, ✓/× and ``X`` (a
    ticked box in SAP and spreadsheet exports), case-insensitive; empty → None; anything else →
    ``InvalidValue``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        raise invalid(value, "a yes/no value")
    text = clean(value).lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise invalid(value, "a yes/no value (true/false, yes/no, 1/0, 是/否)")
