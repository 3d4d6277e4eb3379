"""Field values on the wire: datetimes, numbers and the ``attributes`` map of a record."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.salesforce.schema import FieldDef

_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def format_datetime(value: datetime) -> str:
    """``2013-05-20T20:49:32.000+0000``: milliseconds, ``+0000`` without colon (apis.md §1.2)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """Parse the ISO 8601 forms Salesforce accepts in bodies and parameters; naive means UTC."""
    match = _ISO_DATETIME.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        value -= sign * offset
    return value


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def json_value(field: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if field.type == "datetime" and isinstance(value, datetime):
        return format_datetime(value)
    if field.type == "date" and isinstance(value, date):
        return value.isoformat()
    return value


def attributes(object_name: str, record_id: str, version: str) -> dict[str, str]:
    return {
        "type": object_name,
        "url": f"/services/data/v{version}/sobjects/{object_name}/{record_id}",
    }
