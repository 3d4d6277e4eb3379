"""Parse the timestamps spreadsheets write into a modified-at column.

Kept local and small on purpose: ISO 8601 (with ``Z`` or an offset) and the forms Excel shows,
``2024-01-05 13:45:00``, ``2024/1/5 13:45`` and a bare date. A value without an offset is taken in
the object's time zone (Chinese Excel writes local time, so Asia/Shanghai by default).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_EXCEL_LIKE = re.compile(
    r"""^(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})
        (?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})
           (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?
        )?
        \s*(?P<offset>Z|[+-]\d{2}:?\d{2})?$""",
    re.VERBOSE | re.IGNORECASE,
)


def _plain_form(text: str) -> bool:
    """``YYYY-MM-DD HH:MM:SS`` (or with ``T``), digits only around the separators: the form most
    exports write, which ``datetime.fromisoformat`` reads as the pattern below would, in C."""
    return (
        len(text) == 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] in " T"
        and text[13] == ":"
        and text[16] == ":"
        and (text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:]).isdigit()
        and text.isascii()
    )


def parse_timestamp(value: str, default_zone: tzinfo) -> datetime | None:
    """The instant ``value`` names, in UTC; ``None`` when it is not a timestamp we understand."""
    text = value.strip()
    if _plain_form(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None  # 2024-02-30 and the like
        return moment.replace(tzinfo=default_zone).astimezone(UTC)
    match = _EXCEL_LIKE.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    fraction = (parts["fraction"] or "0")[:6].ljust(6, "0")
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction),
        )
    except ValueError:
        return None  # 2024-02-30 and the like
    zone = _offset(parts["offset"]) or default_zone
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(delta if text[0] == "+" else -delta)
