"""Failures the real HubSpot produces, met through the connector and the real client: 429s, 5xx,
timeouts and dropped connections retried; the pacer keeping under the rate limit; bad, expired and
under-scoped tokens; secrets kept out of every message."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.emulation import FaultPlan
from connectors.hubspot import testing
from connectors.hubspot.client import retry_after_from as retry_after_of
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_ratelimit import RateLimitConfig
from connectors.hubspot.factory import create
from connectors.hubspot.pacing import LocalPacer
from hub.errors import AuthError, ConfigError, FatalError, RateLimited
from hub.ports import Connector, SourceRecord, Write, WriteOp

LIMIT = RateLimitConfig(burst_max=4, interval_ms=300)
SECRET = "pat-na1-99999999-8888-7777-6666-555555555555"


def connector_for(emulator: HubSpotEmulator, **options: Any) -> HubSpotConnector:
    return testing.connector_for(emulator, "hubspot-test", **options)


def people(count: int, company: str | None = None) -> list[Write]:
    extra = {"associatedcompanyid": company} if company else {}
    return [
        Write(
            WriteOp.UPSERT,
            "contacts",
            f"per_{n:026d}",
            {"email": f"p{n}@example.com", "lastname": f"L{n}", **extra},
        )
        for n in range(count)
    ]


def test_429s_and_5xx_are_retried_until_the_writes_land(make_emulator: Any) -> None:
    plan = FaultPlan(
        script=deque(["429", "500", None, "503", "502"]),
        path_prefix="/crm/v3/objects/contacts/batch/upsert",
    )
    emulator = make_emulator(faults=plan)
    connector = connector_for(emulator)
    results = connector.write("contacts", people(150))
    assert all(r.ok for r in results)
    assert emulator.portal.count("contacts") == 150
    assert plan.injected == 4
    assert connector.client.operations["batch upsert contacts"] == 2 + 4
    waits = connector.client.retry_waits
    # The 429 named a 10-second window (no Retry-After): the retry waited it out; the 5xx ones
    # backed off exponentially with jitter, each capped.
    assert waits[0] >= 10.0
    assert all(0 <= w <= 30.0 for w in waits[1:])
    assert len(waits) == 4


def test_timeouts_and_dropped_connections_on_reads_are_retried(make_emulator: Any) -> None:
    plan = FaultPlan(script=deque(), timeout_seconds=1.0)
    emulator = make_emulator(faults=plan)
    for n in range(120):
        emulator.portal.create("contacts", {"email": f"r{n}@example.com"})
    connector = connector_for(emulator, timeout_seconds=0.3)
    plan.script.extend(["timeout", None, "drop", None, "500"])
    got = [r for r in connector.read("contacts", None) if isinstance(r, SourceRecord)]
    assert len(got) == 120
    assert plan.injected == 3


def test_a_run_with_a_fifth_of_calls_failing_writes_and_reads_each_record_exactly_once(
    make_emulator: Any,
) -> None:
    plan = FaultPlan(
        rate=0.2, kinds=("429", "500", "503", "timeout", "drop"), timeout_seconds=0.5, seed=7
    )
    emulator = make_emulator(faults=plan)
    connector = connector_for(emulator, timeout_seconds=0.2)
    [company] = connector.write(
        "companies", [Write(WriteOp.UPSERT, "companies", "cmp_" + "0" * 26, {"name": "Acme"})]
    )
    writes = people(500, company=company.external_id)
    results = [
        r for s in range(0, 500, 100) for r in connector.write("contacts", writes[s : s + 100])
    ]
    results += connector.write("contacts", writes[:100])  # a replayed batch
    assert all(r.ok for r in results)
    stored = emulator.portal.live_objects("contacts")
    assert sorted(o.properties["huitong_id"] for o in stored) == sorted(
        w.canonical_id for w in writes
    )
    read = [r for r in connector.read("contacts", None) if isinstance(r, SourceRecord)]
    assert sorted(r.external_id for r in read) == sorted(o.id for o in stored)
    assert {r.fields["associatedcompanyid"] for r in read} == {company.external_id}
    assert plan.injected >= 3


def test_retries_stop_at_the_attempt_cap_and_the_batch_is_reported_retriable(
    make_emulator: Any,
) -> None:
    plan = FaultPlan(rate=1.0, kinds=("503",), seed=1, path_prefix="/crm/v3/objects/contacts/batch")
    emulator = make_emulator(faults=plan)
    connector = connector_for(emulator, retry_max_attempts=3)
    results = connector.write("contacts", people(5))
    assert connector.client.operations["batch upsert contacts"] == 3
    assert all(not r.ok and r.retriable for r in results)
    assert all("503" in (r.error or "") for r in results)


def test_the_daily_limit_is_not_retried_for_hours(make_emulator: Any) -> None:
    emulator = make_emulator(rate_limits=RateLimitConfig(daily_max=2))
    connector = connector_for(emulator)
    for n in range(2):
        emulator.portal.create("contacts", {"email": f"d{n}@example.com"})
    list(connector.read("contacts", None))  # the two calls of the day: the page and tombstones
    with pytest.raises(RateLimited) as caught:
        list(connector.read("contacts", None))
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 60
    assert emulator.portal.call_count(status=429) <= 1


def test_the_pacer_keeps_a_1000_write_run_free_of_429s() -> None:
    # A tight limit (4 requests per 0.3 s) that a 1,000-write run with associations exceeds
    # unless it is paced. The connector starts from HubSpot's default tier and
    # learns the real limit from the X-HubSpot-RateLimit-* headers of the first answer.
    # (Served without the spec recorder: the write tests validate these responses already.)
    with HubSpotEmulator(rate_limits=LIMIT).serve() as emulator:
        connector = connector_for(emulator, retry_waits=True)
        [company] = connector.write(
            "companies", [Write(WriteOp.UPSERT, "companies", "cmp_" + "0" * 26, {"name": "Acme"})]
        )
        results = connector.write("contacts", people(1000, company=company.external_id))
    assert all(r.ok for r in results)
    assert emulator.portal.count("contacts") == 1000
    assert emulator.portal.call_count(status=429) == 0
    assert connector.client.retry_waits == []
    pacer = connector.client.pacer
    assert isinstance(pacer, LocalPacer)
    # It adopted the announced limit, less 10% headroom (how long it waited depends on how fast
    # this machine answers, so that is not asserted).
    assert (pacer.burst.limit, pacer.burst.seconds) == (3, 0.3)


def test_local_pacer_never_lets_more_than_the_limit_into_any_window() -> None:
    now = [0.0]
    pacer = LocalPacer(
        10,
        1.0,
        4,
        10**6,
        headroom=1.0,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    starts: list[float] = []
    for n in range(60):
        with pacer.slot(search=n % 3 == 0):
            starts.append(now[0])
            now[0] += 0.01  # each call takes 10 ms
    for i, start in enumerate(starts):
        in_window = [s for s in starts[i:] if s < start + 1.0]
        assert len(in_window) <= 10
    assert starts[-1] >= 5.0  # 60 calls at 10 per second
    pacer.observe(
        {"X-HubSpot-RateLimit-Max": "20", "X-HubSpot-RateLimit-Interval-Milliseconds": "2000"}
    )
    assert (pacer.burst.limit, pacer.burst.seconds) == (20, 2.0)


def test_check_passes_with_a_good_token_and_names_each_object(emulator: HubSpotEmulator) -> None:
    result = connector_for(emulator).check()
    assert result.ok, result.detail
    assert {name for name, _, _ in result.checks} == {
        "contacts: read",
        "contacts: write",
        "contacts: huitong_id",
        "companies: read",
        "companies: write",
        "companies: huitong_id",
    }
    assert emulator.portal.count("contacts") == 0  # nothing was changed


def test_check_with_a_bad_token_fails_without_raising_or_showing_it(
    emulator: HubSpotEmulator,
) -> None:
    connector = connector_for(emulator, token=SECRET)
    result = connector.check()
    assert not result.ok
    assert "401" in result.detail
    assert "INVALID_AUTHENTICATION" in result.detail
    assert "cannot be refreshed" in result.detail
    assert SECRET not in repr(result)
    assert SECRET not in repr(connector)
    assert SECRET not in repr(connector.settings)
    assert SECRET not in str(connector.settings)


def test_check_names_a_missing_write_scope(emulator: HubSpotEmulator) -> None:
    emulator.portal.add_token(
        SECRET, scopes=["crm.objects.contacts.read", "crm.objects.companies.read"]
    )
    result = connector_for(emulator, token=SECRET).check()
    assert not result.ok
    assert ("contacts: read", True, "readable") in result.checks
    assert "MISSING_SCOPES" in result.detail


def test_writes_stop_at_once_when_the_id_property_is_missing_or_not_unique(
    emulator: HubSpotEmulator,
) -> None:
    del emulator.portal.types["contacts"].properties["huitong_id"]
    with pytest.raises(FatalError, match=r"no property 'huitong_id'.*unique-value"):
        connector_for(emulator).write("contacts", people(3))
    plain = dataclasses.replace(
        emulator.portal.types["companies"].properties["huitong_id"], has_unique_value=False
    )
    emulator.portal.define_property("companies", plain)
    company = Write(WriteOp.UPSERT, "companies", "cmp_" + "0" * 26, {"name": "Acme"})
    with pytest.raises(FatalError, match="does not require unique values"):
        connector_for(emulator).write("companies", [company])
    assert emulator.portal.call_count("POST") == 0  # no batch was sent, let alone split
    assert not connector_for(emulator).check().ok


def test_an_expired_token_stops_the_read_with_an_auth_error(emulator: HubSpotEmulator) -> None:
    emulator.portal.add_token(SECRET, expires_at_ms=emulator.portal.clock() - 5_000)
    connector = connector_for(emulator, token=SECRET)
    with pytest.raises(AuthError) as caught:
        list(connector.read("contacts", None))
    assert "EXPIRED_AUTHENTICATION" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert connector.client.operations["list contacts"] == 1  # an auth failure is not retried


def test_the_factory_builds_a_connector_from_options_and_the_token_secret(tmp_path: Any) -> None:
    connector = create(
        "hubspot-prod",
        {"base_url": "http://127.0.0.1:9/", "index_lag_seconds": 30},
        {"token": SecretStr(SECRET)},
        tmp_path,
    )
    assert isinstance(connector, Connector)
    assert connector.kind == "hubspot"
    assert connector.settings.base_url == "http://127.0.0.1:9"
    assert connector.limits.batch_size == 100
    assert list(connector.objects()) == ["contacts", "companies"]
    assert SECRET not in repr(connector)


@pytest.mark.parametrize(
    ("options", "secrets", "expected"),
    [
        ({}, {}, "secrets.token"),
        ({"token": SECRET}, {"token": SecretStr(SECRET)}, "never under options"),
        ({"base_url": "ftp://x"}, {"token": SecretStr(SECRET)}, "base_url"),
        ({"search_page_size": 500}, {"token": SecretStr(SECRET)}, "search_page_size"),
        (
            {"objects": {"contacts": {"associations": {"companies": "associatedcompanyid"}}}},
            {"token": SecretStr(SECRET)},
            "association_type_ids",
        ),
    ],
)
def test_the_factory_reports_bad_configuration_without_the_token(
    tmp_path: Any, options: dict[str, Any], secrets: dict[str, SecretStr], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        create("hubspot-prod", options, secrets, tmp_path)
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "3"}, {"policyName": "TEN_SECONDLY_ROLLING"}, 3.0),
        ({}, {"policyName": "SECONDLY"}, 1.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, {}, 10.0),
        ({"x-hubspot-ratelimit-interval-milliseconds": "2500"}, {"policyName": "X"}, 2.5),
    ],
)
def test_a_429_waits_for_retry_after_or_the_window_of_its_policy(
    headers: dict[str, str], body: dict[str, str], expected: float
) -> None:
    assert retry_after_of(headers, body) == expected


def test_a_daily_429_waits_until_midnight() -> None:
    assert 0 < retry_after_of({}, {"policyName": "DAILY"}) <= 86_400
