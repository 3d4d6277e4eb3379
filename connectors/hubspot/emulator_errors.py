"""HubSpot's error bodies, as the emulator answers them.

Shape (official spec ``Error``: required ``category``, ``correlationId`` (uuid), ``message``;
optional ``subCategory``, ``context``, ``links``, ``errors``) plus ``"status":"error"``, which real
responses carry (apis.md §2.8, [V] from issue reports). Categories per apis.md §2.8 and the
changelog "Upcoming: Changes to error responses" (category ``RATE_LIMITS`` for rate-limit errors,
``VALIDATION_ERROR`` for bad data; ``requestId`` removed since January 2020).

Batch endpoints report per-input failures as ``StandardError`` items (all six keys required by the
spec: ``status, category, message, errors, context, links``), apis.md §2.4.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

JSON_CONTENT_TYPE = "application/json;charset=utf-8"


class HubSpotError(Exception):
    """An error the emulator answers with HubSpot's error body."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        context: dict[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
        links: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context = context
        self.errors = errors
        self.links = links
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.context is not None:
            body["context"] = self.context
        if self.errors is not None:
            body["errors"] = self.errors
        if self.links is not None:
            body["links"] = self.links
        body.update(self.extra)
        return body


def validation_error(message: str, **kwargs: Any) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, **kwargs)


def not_found(message: str = "resource not found") -> HubSpotError:
    # 404 body: apis.md §2.2 quotes {"status":"error","message":"resource not found",...} [K];
    # ``category`` is added because the spec's Error schema requires it.
    return HubSpotError(404, "OBJECT_NOT_FOUND", message)


def conflict(message: str) -> HubSpotError:
    return HubSpotError(409, "CONFLICT", message)


def invalid_property_values(failures: list[dict[str, Any]]) -> HubSpotError:
    """400 for bad property values: HubSpot embeds the per-property results as JSON in the message.

    Seen verbatim in issue reports: ``Property values were not valid: [{"isValid":false,"message":
    "Property \\"foo\\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"foo",...}]``.
    """
    detail = json.dumps(failures, separators=(",", ":"))
    return validation_error(f"Property values were not valid: {detail}")


def standard_error(
    category: str,
    message: str,
    context: dict[str, list[str]] | None = None,
    status: str = "error",
) -> dict[str, Any]:
    """One item of a 207 ``errors`` array (spec ``StandardError``: every key present)."""
    return {
        "status": status,
        "category": category,
        "message": message,
        "context": context or {},
        "errors": [],
        "links": {},
    }


def rate_limit_body(policy: str, portal_id: int) -> dict[str, Any]:
    """429 body: the fields issue reports show verbatim (errorType, policyName, groupName) plus
    ``category: RATE_LIMITS`` announced in the changelog "Upcoming: Changes to error responses"."""
    policy_words = {
        "TEN_SECONDLY_ROLLING": "ten_secondly_rolling",
        "SECONDLY": "secondly",
        "DAILY": "daily",
    }
    groups = {
        "TEN_SECONDLY_ROLLING": f"publicapi:private-app-api-calls-ten-secondly:{portal_id}",
        "SECONDLY": f"publicapi:crm-search-secondly:{portal_id}",
        "DAILY": f"publicapi:private-app-api-calls-daily:{portal_id}",
    }
    return {
        "status": "error",
        "message": f"You have reached your {policy_words[policy]} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "groupName": groups[policy],
        "category": "RATE_LIMITS",
    }


def server_error_body(status: int) -> dict[str, Any]:
    # HubSpot's 5xx bodies are not documented [K]; the emulator keeps the common error shape so a
    # client that parses errors keeps working.
    messages = {
        500: "internal error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return {
        "status": "error",
        "message": messages.get(status, "internal error"),
        "correlationId": str(uuid.uuid4()),
        "category": "INTERNAL_ERROR",
    }
