"""Property values: HubSpot's string-only wire values, time formats and per-type validation.

* All property values are strings on the wire, numbers and booleans included (apis.md §2.2).
* Datetimes are written as epoch milliseconds or ISO-8601 and read back as ISO-8601 with
  milliseconds and ``Z`` (``2019-10-30T03:30:17.883Z``, the spec's ``SimplePublicObject`` example);
  date filters take either form (apis.md §2.3).
* Invalid values give one failure item per property in the shape HubSpot embeds in its 400 message
  (``isValid``, ``message``, ``error``, ``name``: issue reports quoted in apis.md and
  ``emulator_errors.invalid_property_values``).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from typing import Any

from connectors.hubspot.emulator_schema import PropertyDefinition

# HubSpot rejects malformed addresses with INVALID_EMAIL ("Email address x is invalid",
# seen in issue reports).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def iso_from_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=1 << 16)
def ms_from_value(value: str) -> int | None:
    """Epoch ms from an epoch-ms string, an ISO datetime or an ISO date; None if neither."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def wire_string(raw: Any) -> str:
    """A JSON value as HubSpot stores it: strings as-is, booleans lower-case, null as empty."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _failure(name: str, error: str, message: str, portal_id: int) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
        "portalId": portal_id,
    }


def unknown_property(name: str, portal_id: int) -> dict[str, Any]:
    return _failure(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist', portal_id)


def normalise_value(
    definition: PropertyDefinition, raw: Any, portal_id: int
) -> tuple[str, dict[str, Any] | None]:
    """The stored form of a written value, or a failure item explaining why it is invalid."""
    name = definition.name
    if definition.read_only_value:
        message = f'Property "{name}" is a read only property; its value cannot be set.'
        return "", _failure(name, "READ_ONLY_VALUE", message, portal_id)
    value = wire_string(raw)
    if value == "":
        return "", None  # an empty string clears the property (apis.md §2.2)
    if name == "email":
        if not _EMAIL.match(value):
            return "", _failure(
                name, "INVALID_EMAIL", f"Email address {value} is invalid", portal_id
            )
        return value.lower(), None  # HubSpot keeps contact emails lower-case [K]
    kind = definition.type
    if kind == "number":
        try:
            float(value)
        except ValueError:
            message = f"{value} was not a valid number."
            return "", _failure(name, "INVALID_FLOAT", message, portal_id)
        return value, None
    if kind in ("datetime", "date"):
        ms = ms_from_value(value)
        if ms is None:
            message = f"{value} was not a valid long or ISO 8601 date."
            return "", _failure(name, "INVALID_DATE", message, portal_id)
        if kind == "date":
            ms -= ms % 86_400_000  # dates are stored at midnight UTC
        return iso_from_ms(ms), None
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            message = f"{value} is not a valid boolean."
            return "", _failure(name, "INVALID_BOOLEAN", message, portal_id)
        return value.lower(), None
    if kind == "enumeration" and definition.options and not definition.external_options:
        for choice in value.split(";"):
            if choice not in definition.options:
                allowed = ", ".join(definition.options)
                message = f"{choice} was not one of the allowed options: [{allowed}]"
                return "", _failure(name, "INVALID_OPTION", message, portal_id)
    return value, None


def sortable(definition: PropertyDefinition | None, value: str) -> tuple[int, float, str]:
    """A key that orders values the way their type does (numbers and times numerically)."""
    if definition is not None and definition.type in ("number", "datetime", "date"):
        number: float | None
        if definition.type == "number":
            try:
                number = float(value)
            except ValueError:
                number = None
        else:
            ms = ms_from_value(value)
            number = float(ms) if ms is not None else None
        if number is not None:
            return (0, number, "")
    return (1, 0.0, value.lower())
