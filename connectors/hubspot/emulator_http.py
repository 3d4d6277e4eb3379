"""Request parsing shared by the emulator's handlers.

Query encoding (apis.md §0.2, [V] captured from hubspot-api-client 12): array parameters arrive
repeated (``?properties=a&properties=b``, spec ``style: form, explode: true``) while HubSpot's prose
says comma-separated, so both are accepted; booleans arrive as Python's ``True``/``False`` and are
parsed case-insensitively; path parameters arrive percent-encoded (Starlette decodes them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from connectors.hubspot.emulator_errors import validation_error
from connectors.hubspot.emulator_portal import Portal


@dataclass
class Reply:
    status: int
    body: Any = None  # None: no body (204)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    request: Request
    portal: Portal
    raw_body: bytes

    @property
    def params(self) -> dict[str, str]:
        return dict(self.request.path_params)

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def query_list(self, name: str) -> list[str]:
        values = self.request.query_params.getlist(name)
        return [item.strip() for v in values for item in v.split(",") if item.strip()]

    def query_bool(self, name: str, default: bool = False) -> bool:
        raw = self.query(name)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise validation_error(f"Invalid value for {name}: {raw}", context={name: [raw]})
        return lowered == "true"

    def query_int(self, name: str, default: int) -> int:
        raw = self.query(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise validation_error(
                f"Invalid value for {name}: {raw}", context={name: [raw]}
            ) from None

    def json(self) -> Any:
        if not self.raw_body:
            raise validation_error("Invalid input JSON: the request body is empty")
        try:
            return json.loads(self.raw_body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # Message modelled on HubSpot's "Invalid input JSON on line 1, column N" [K].
            position = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
            raise validation_error(
                f"Invalid input JSON on line {position[0]}, column {position[1]}: {exc}"
            ) from None

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected an object")
        return body

    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")


def inputs_of(
    body: dict[str, Any], limit: int = 100, history_limit: int | None = None
) -> list[Any]:
    """The ``inputs`` of a batch body, refusing more than the batch limit (apis.md §2.4).

    The 50-input message for property histories was seen verbatim; the 100 one is modelled on it.
    """
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error(
            "Invalid input JSON: inputs must be an array", context={"inputs": []}
        )
    if history_limit is not None and len(inputs) > history_limit:
        raise validation_error(
            "The maximum number of inputs supported in a batch request for property histories "
            f"is {history_limit}",
            context={"inputs": [str(len(inputs))]},
        )
    if len(inputs) > limit:
        raise validation_error(
            f"The maximum number of inputs supported in a batch request is {limit}",
            context={"inputs": [str(len(inputs))]},
        )
    return inputs
