"""Authentication, error bodies, rate limits and their headers, injected faults (real client)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import httpx
import pytest
import urllib3
from hubspot.crm.contacts import ApiException, SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import (
    ForbiddenException,
    ServiceException,
    UnauthorizedException,
)
from urllib3.util.retry import Retry

from connectors.emulation import FaultPlan
from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_ratelimit import RateLimitConfig

RATE_HEADERS = (
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Secondly",
    "X-HubSpot-RateLimit-Secondly-Remaining",
)


def _create(client: Any, **props: Any) -> Any:
    return client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties=props, associations=[])
    )


def _body(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def test_missing_and_unknown_tokens_are_401_invalid_authentication(
    emulator: HubSpotEmulator,
) -> None:
    bare = httpx.get(f"{emulator.url}/crm/v3/objects/contacts")
    assert bare.status_code == 401
    assert bare.json()["category"] == "INVALID_AUTHENTICATION"
    assert bare.json()["message"].startswith("Authentication credentials not found")
    with pytest.raises(UnauthorizedException) as caught:
        emulator.client(access_token="pat-na1-not-a-real-token").crm.contacts.basic_api.get_page()
    assert caught.value.status == 401
    body = _body(caught.value)
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]


def test_expired_token_and_missing_scopes(emulator: HubSpotEmulator) -> None:
    now = emulator.portal.clock()
    emulator.portal.add_token("expired-oauth-token", expires_at_ms=now - 5_000)
    with pytest.raises(UnauthorizedException) as caught:
        emulator.client(access_token="expired-oauth-token").crm.contacts.basic_api.get_page()
    body = _body(caught.value)
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"].startswith("The OAuth token used to make this call expired")
    emulator.portal.add_token("pat-read-only", scopes=["crm.objects.contacts.read"])
    reader = emulator.client(access_token="pat-read-only")
    assert reader.crm.contacts.basic_api.get_page().results == []
    with pytest.raises(ForbiddenException) as denied:
        _create(reader, email="x@example.com")
    assert _body(denied.value)["category"] == "MISSING_SCOPES"
    assert _body(denied.value)["errors"][0]["context"] == {
        "requiredGranularScopes": ["crm.objects.contacts.write"]
    }


@pytest.mark.parametrize(
    ("props", "error"),
    [
        ({"favourite_colour": "red"}, "PROPERTY_DOESNT_EXIST"),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
        ({"lifecyclestage": "king"}, "INVALID_OPTION"),
        ({"email": "not-an-email"}, "INVALID_EMAIL"),
    ],
)
def test_invalid_properties_are_400_validation_error(
    client: Any, props: dict[str, str], error: str
) -> None:
    with pytest.raises(ApiException) as caught:
        _create(client, **props)
    assert caught.value.status == 400
    body = _body(caught.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    [failure] = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert failure["error"] == error
    assert failure["name"] == next(iter(props))


def test_duplicate_email_is_409_conflict(client: Any) -> None:
    first = _create(client, email="dup@example.com")
    with pytest.raises(ApiException) as caught:
        _create(client, email="DUP@example.com")
    assert caught.value.status == 409
    body = _body(caught.value)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first.id}"


def test_every_counted_response_carries_rate_limit_headers(
    emulator: HubSpotEmulator, client: Any
) -> None:
    _, status, headers = client.crm.contacts.basic_api.get_page_with_http_info()
    assert status == 200
    for name in RATE_HEADERS:
        assert name in headers, name
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert int(headers["X-HubSpot-RateLimit-Remaining"]) == 189
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_by_id("31337")
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "188"
    assert emulator.portal.call_count("GET", "/crm/v3/objects/contacts") == 2
    assert emulator.portal.call_count(status=404) == 1


def test_rolling_window_limit_answers_429_then_recovers(make_emulator: Any) -> None:
    now = [100.0]
    emulator = make_emulator(
        rate_limits=RateLimitConfig(burst_max=3, interval_ms=10_000), limiter_clock=lambda: now[0]
    )
    client = emulator.client()
    for _ in range(3):
        client.crm.contacts.basic_api.get_page()
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page()
    assert caught.value.status == 429
    body = _body(caught.value)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["category"] == "RATE_LIMITS"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert caught.value.headers["X-HubSpot-RateLimit-Max"] == "3"
    # Another token has its own window.
    emulator.portal.add_token("pat-na1-second-app")
    assert (
        emulator.client(access_token="pat-na1-second-app").crm.contacts.basic_api.get_page().results
        == []
    )
    now[0] += 9.9
    with pytest.raises(ApiException):
        client.crm.contacts.basic_api.get_page()
    now[0] += 0.1  # the oldest requests leave the 10-second window
    assert client.crm.contacts.basic_api.get_page().results == []


def test_daily_limit(make_emulator: Any) -> None:
    emulator = make_emulator(rate_limits=RateLimitConfig(daily_max=2))
    client = emulator.client()
    client.crm.contacts.basic_api.get_page()
    _, _, headers = client.crm.contacts.basic_api.get_page_with_http_info()
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page()
    assert _body(caught.value)["policyName"] == "DAILY"


def test_fault_plan_answers_hubspot_429_and_5xx_bodies(make_emulator: Any) -> None:
    plan = FaultPlan(script=deque(["429", "503", "500", None]))
    emulator = make_emulator(faults=plan)
    client = emulator.client()
    with pytest.raises(ApiException) as limited:
        client.crm.contacts.basic_api.get_page()
    assert limited.value.status == 429
    assert _body(limited.value)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    for status in (503, 500):
        with pytest.raises(ServiceException) as failed:
            client.crm.contacts.basic_api.get_page()
        assert failed.value.status == status
        assert _body(failed.value)["status"] == "error"
    assert client.crm.contacts.basic_api.get_page().results == []
    assert plan.injected == 3
    assert emulator.portal.call_count() == 1  # injected faults never reached the portal


def test_client_retry_rides_through_injected_429(make_emulator: Any) -> None:
    emulator = make_emulator(faults=FaultPlan(script=deque(["429", "429"])))
    client = emulator.client(
        retry=Retry(total=3, status_forcelist=[429], backoff_factor=0, allowed_methods=None)
    )
    created = _create(client, email="retry@example.com")
    assert created.properties["email"] == "retry@example.com"
    assert emulator.faults.injected == 2
    assert emulator.portal.count("contacts") == 1


def test_fault_plan_timeouts_and_dropped_connections_reach_the_client(make_emulator: Any) -> None:
    plan = FaultPlan(script=deque(["timeout", "drop"]), timeout_seconds=0.3)
    emulator = make_emulator(faults=plan)
    client = emulator.client(retry=False)  # surface each failure instead of urllib3's retries
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        client.crm.contacts.basic_api.get_page(_request_timeout=0.1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        client.crm.contacts.basic_api.get_page()
    assert client.crm.contacts.basic_api.get_page().results == []
    assert emulator.portal.call_count() == 1


def test_urllib3_default_retries_absorb_a_timeout_and_a_drop_on_get(make_emulator: Any) -> None:
    """Worth knowing for the connector: without ``retry=``, urllib3's default Retry(3) silently
    repeats a GET after a read timeout or a dropped connection."""
    emulator = make_emulator(
        faults=FaultPlan(script=deque(["timeout", "drop"]), timeout_seconds=0.3)
    )
    assert emulator.client().crm.contacts.basic_api.get_page(_request_timeout=0.1).results == []
    assert emulator.faults.injected == 2
