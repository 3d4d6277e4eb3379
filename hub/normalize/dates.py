"""Dates and moments from the spellings source systems use.

Accepted: ISO 8601 (``2024-01-05T10:00:00+08:00``, ``Z``, basic ``20240105``), ``YYYY-M-D`` /
``YYYY/MM/DD`` / ``YYYY.MM.DD`` with an optional time (``HH:MM[:SS[.fff]]``, am/pm, 上午/下午, an
offset), Chinese ``2024年1月5日 14时30分``, ``DD.MM.YYYY`` (day first: dots are never month-first),
English month names (``5 Jan 2024``, ``Jan 5, 2024``, ``05-Jan-2024``, RFC 2822 with a weekday),
compact ``YYYYMMDDHHMMSS`` (ERP exports), and epoch numbers.

Epoch numbers (int, float or a digit string other than 8 or 14 digits) are told apart by size: below
1e11 they are seconds (up to the year 5138), below 1e14 milliseconds (from 1973 on; HubSpot,
DingTalk and Feishu send milliseconds), anything larger is refused. Excel serial day numbers (45296
= 2024-01-05) are not accepted: they cannot be told from epoch seconds, and an Excel export read as
text (the CSV connector does) shows the formatted date anyway; a mapping that really receives
serials converts them with an explicit transform.

``D/M/YYYY`` against ``M/D/YYYY``: refused as ambiguous (``01/02/2024``) unless a part is above 12,
both parts are equal, or the caller says ``day_first``; a wrong guess would move a birthday
silently. Two-digit years are refused for the same reason.

Naive values are read in ``default_tz`` (IANA name, ``zoneinfo``); results of ``parse_datetime`` are
aware and in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.normalize._base import InvalidValue, clean, invalid

_DATETIME = "a date and time"
_DATE = "a date"
_SECONDS_LIMIT = Decimal("1e11")
_MILLISECONDS_LIMIT = Decimal("1e14")

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_WEEKDAY = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*")
_YEAR_FIRST = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_YEAR_LAST = re.compile(r"(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{2,4})(?!\d)")
_DAY_MONTH_NAME = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*([a-z]{3,9})\.?[\s\-/.,]+(\d{2,4})(?!\d)"
)
_MONTH_NAME_DAY = re.compile(
    r"([a-z]{3,9})\.?[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?(?:\s*,\s*|\s+)(\d{2,4})(?!\d)"
)
_TIME = re.compile(
    r"(?:t|\s)*(上午|下午|晚上|凌晨|中午)?\s*(\d{1,2})\s*[:时時点點]\s*(\d{1,2})?\s*分?"
    r"(?:\s*[:]?\s*(\d{1,2})(?:[.,](\d{1,9}))?\s*秒?)?\s*(am|pm|a\.m\.|p\.m\.)?"
    r"\s*(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_AFTERNOON = frozenset({"下午", "晚上", "pm", "p.m."})
_MORNING = frozenset({"上午", "凌晨", "am", "a.m."})
_EPOCH_TEXT = re.compile(r"[+-]?\d+(?:\.\d+)?")


def parse_datetime(
    value: str | int | float | datetime | None,
    default_tz: str = "Asia/Shanghai",
    *,
    day_first: bool | None = None,
) -> datetime | None:
    """A moment as an aware UTC ``datetime``; empty → None; unreadable → ``InvalidValue``.

    >>> parse_datetime("2024年1月5日 14:30")
    datetime.datetime(2024, 1, 5, 6, 30, tzinfo=datetime.timezone.utc)
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _to_utc(value, default_tz)
    if isinstance(value, date):
        return _to_utc(datetime.combine(value, time()), default_tz)
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise invalid(value, _DATETIME)
    if not isinstance(value, str):
        return _from_epoch(value, value)
    text = clean(value)
    if not text:
        return None
    try:
        return _parse_datetime_text(text, default_tz, day_first)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 14)
def _parse_datetime_text(text: str, default_tz: str, day_first: bool | None) -> datetime:
    return _to_utc(_read_text(text, day_first, _DATETIME), default_tz)


def parse_date(
    value: str | int | float | date | None, *, day_first: bool | None = None
) -> date | None:
    """A calendar date (birth date, founding date); empty → None; unreadable or ambiguous →
    ``InvalidValue``.

    A moment with a time keeps the date as written (``1990-05-01T00:00:00+08:00`` → 1990-05-01), and
    epoch numbers are read as UTC dates (HubSpot and Salesforce send date-only values as midnight
    UTC).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise invalid(value, _DATE)
    if not isinstance(value, str):
        return _from_epoch(value, value).date()
    text = clean(value)
    if not text:
        return None
    try:
        return _parse_date_text(text, day_first)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 14)
def _parse_date_text(text: str, day_first: bool | None) -> date:
    return _read_text(text, day_first, _DATE).date()


def _read_text(text: str, day_first: bool | None, expected: str) -> datetime:
    """A datetime, naive unless the text carries an offset (or is an epoch number: UTC)."""
    cleaned = text
    if _EPOCH_TEXT.fullmatch(cleaned):
        digits = cleaned.lstrip("+-")
        if len(digits) == 8 and digits.isdigit():
            return _checked(text, expected, int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if len(digits) == 14 and digits.isdigit():
            day = _checked(text, expected, int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
            return _with_time(text, expected, day, digits[8:10], digits[10:12], digits[12:], None)
        return _from_epoch(Decimal(cleaned), text)
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        pass
    lowered = _WEEKDAY.sub("", cleaned.lower())
    day, rest = _read_date_part(text, lowered, day_first, expected)
    if not rest.strip(" ,t"):
        return day
    found = _TIME.fullmatch(rest)
    if not found:
        raise invalid(text, f"{expected} (cannot read the time {rest.strip()!r})")
    period, hour, minute, second, fraction, meridiem, offset = found.groups()
    hours = _twelve_hour(text, expected, int(hour), period or meridiem)
    return _with_time(
        text, expected, day, str(hours), minute or "0", second or "0", offset, fraction
    )


def _read_date_part(
    text: str, lowered: str, day_first: bool | None, expected: str
) -> tuple[datetime, str]:
    if found := _YEAR_FIRST.match(lowered):
        year, month, day = (int(g) for g in found.groups())
        return _checked(text, expected, year, month, day), lowered[found.end() :]
    if found := _YEAR_LAST.match(lowered):
        first, separator, second, year_text = found.groups()
        year = _full_year(text, expected, year_text)
        day, month = _day_and_month(text, expected, int(first), int(second), separator, day_first)
        return _checked(text, expected, year, month, day), lowered[found.end() :]
    if (found := _DAY_MONTH_NAME.match(lowered)) and found.group(2) in _MONTHS:
        day_text, month_name, year_text = found.groups()
        year = _full_year(text, expected, year_text)
        return _checked(text, expected, year, _MONTHS[month_name], int(day_text)), lowered[
            found.end() :
        ]
    if (found := _MONTH_NAME_DAY.match(lowered)) and found.group(1) in _MONTHS:
        month_name, day_text, year_text = found.groups()
        year = _full_year(text, expected, year_text)
        return _checked(text, expected, year, _MONTHS[month_name], int(day_text)), lowered[
            found.end() :
        ]
    raise invalid(
        text, f"{expected} (expected e.g. 2024-01-05, 2024/1/5, 2024年1月5日 or 05.01.2024)"
    )


def _day_and_month(
    text: str, expected: str, first: int, second: int, separator: str, day_first: bool | None
) -> tuple[int, int]:
    if separator == "." or day_first is True:
        return first, second
    if day_first is False:
        return second, first
    if first > 12 >= second:
        return first, second
    if second > 12 >= first or first == second:
        return second, first
    raise invalid(
        text,
        f"{expected}: it is ambiguous whether day or month comes first; write it as YYYY-MM-DD",
    )


def _full_year(text: str, expected: str, year_text: str) -> int:
    if len(year_text) != 4:
        raise invalid(text, f"{expected} (a two-digit year is ambiguous; write the full year)")
    return int(year_text)


def _twelve_hour(text: str, expected: str, hour: int, period: str | None) -> int:
    if period is None or period == "中午":
        return hour
    if hour > 12:
        raise invalid(text, f"{expected} (hour {hour} with {period!r})")
    if period in _AFTERNOON:
        return hour if hour == 12 else hour + 12
    return 0 if hour == 12 and period in _MORNING else hour


def _checked(text: str, expected: str, year: int, month: int, day: int) -> datetime:
    try:
        return datetime(year, month, day)
    except ValueError as exc:
        raise invalid(text, f"{expected} ({exc})") from exc


def _with_time(
    text: str,
    expected: str,
    day: datetime,
    hour: str,
    minute: str,
    second: str,
    offset: str | None,
    fraction: str | None = None,
) -> datetime:
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = day.replace(
            hour=int(hour), minute=int(minute), second=int(second), microsecond=micro
        )
    except ValueError as exc:
        raise invalid(text, f"{expected} ({exc})") from exc
    if offset is None:
        return moment
    return moment.replace(tzinfo=_offset(offset))


def _offset(offset: str) -> timezone:
    if offset in ("z", "utc", "gmt"):
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timezone(sign * timedelta(minutes=minutes))


def _from_epoch(number: int | float | Decimal, original: object) -> datetime:
    seconds = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    if not seconds.is_finite():
        raise invalid(original, "a date and time (not a finite number)")
    magnitude = abs(seconds)
    if magnitude >= _MILLISECONDS_LIMIT:
        raise invalid(original, "a date and time (too large for epoch seconds or milliseconds)")
    if magnitude >= _SECONDS_LIMIT:
        seconds /= 1000
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=float(seconds))
    except OverflowError as exc:
        raise invalid(original, f"a date and time ({exc})") from exc


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid(name, "a known IANA time zone (e.g. 'Asia/Shanghai')") from exc


def _to_utc(moment: datetime, default_tz: str) -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        moment = moment.replace(tzinfo=_zone(default_tz))
    return moment.astimezone(UTC)
