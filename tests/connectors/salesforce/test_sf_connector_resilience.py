"""Failures Salesforce really produces, through the connector: concurrency refusals, 5xx, timeouts,
dropped connections, the daily allowance, expired sessions and refused logins."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from pydantic import SecretStr

from connectors.emulation import FaultPlan
from connectors.salesforce.emulator import RunningSalesforce
from connectors.salesforce.org import Org
from connectors.salesforce.pacing import BudgetExhausted
from connectors.salesforce.testing import connector_for
from hub.errors import AuthError, FatalError, RetriableError
from hub.ports import SourceRecord, Write, WriteOp


def logins(org: Org) -> int:
    return sum(
        1 for e in org.request_log if e.path in ("/services/oauth2/token",) or "/Soap/" in e.path
    )


def data_requests(org: Org) -> int:
    return sum(1 for e in org.request_log if e.path.startswith("/services/data/"))


def test_concurrency_refusal_503_and_timeout_are_retried_with_backoff(
    running: RunningSalesforce,
) -> None:
    org = running.org
    for n in range(30):
        org.seed("Account", {"Name": f"A{n}"})
    waits: list[float] = []
    connector = connector_for(running, retry_waits=True, timeout_seconds=1.0, sleep=waits.append)
    connector.check()  # logged in before the faults start
    running.faults.timeout_seconds = 2.0
    running.faults.script.extend(["429", "503", "timeout"])  # "429": Salesforce's 403 for this

    records = list(connector.read("Account", None))

    assert len(records) == 30
    assert running.faults.injected == 3
    waits = [w for w in waits if w > 0]
    assert len(waits) == 3
    # Exponential with jitter: ~1 s, ~2 s, ~4 s (each plus up to 1 s of jitter).
    assert 1 <= waits[0] <= 2
    assert 2 <= waits[1] <= 3
    assert 4 <= waits[2] <= 5


def test_writes_survive_faults_without_duplicates(running: RunningSalesforce) -> None:
    org = running.org
    connector = connector_for(running)
    connector.check()
    running.faults.script.extend(["503", "drop", None, "500", "429"])
    writes = [
        Write(WriteOp.UPSERT, "Contact", f"per_{n:026d}", {"LastName": f"P{n}"}) for n in range(450)
    ]

    results = connector.write("Contact", writes)

    assert all(r.ok for r in results)
    assert len(org.records("Contact")) == 450
    assert len({r["Huitong_Id__c"] for r in org.records("Contact")}) == 450


def test_retries_stop_at_the_cap(running: RunningSalesforce) -> None:
    connector = connector_for(running, retry_max_attempts=3)
    connector.check()
    running.faults.script.extend(["503"] * 10)

    with pytest.raises(RetriableError, match="HTTP 503 SERVER_UNAVAILABLE"):
        list(connector.read("Account", None))

    assert running.faults.injected == 3


def test_the_daily_limit_stops_with_a_clear_fatal_error(running: RunningSalesforce) -> None:
    org = running.org
    connector = connector_for(running)
    org.api_limit = 1000
    org.api_used = 1000
    before = data_requests(org)

    with pytest.raises(FatalError) as caught:
        list(connector.read("Account", None))

    message = str(caught.value)
    assert "daily API allowance is spent" in message
    assert "TotalRequests Limit exceeded." in message
    assert "UTC" in message  # the latest time calls resume
    assert not isinstance(caught.value, RetriableError)
    assert data_requests(org) - before == 1  # never retried


def test_the_pacer_keeps_the_reserve(running: RunningSalesforce) -> None:
    org = running.org
    org.api_limit = 100
    org.api_used = 85
    connector = connector_for(running, daily_reserve=0.1)

    for _ in range(5):
        list(connector.read("Account", None))
    with pytest.raises(BudgetExhausted, match="90 of 100 calls used"):
        list(connector.read("Account", None))

    assert org.api_used == 90  # stopped at the reserve, before Salesforce had to refuse
    assert connector.limits.daily_quota == 100
    assert connector.limits.batch_size == 200


def test_an_expired_session_is_refreshed_once(running: RunningSalesforce) -> None:
    org = running.org
    org.seed("Account", {"Name": "Acme"})
    connector = connector_for(running)
    assert len(list(connector.read("Account", None))) == 1
    assert logins(org) == 1

    org.expire_sessions()
    records = list(connector.read("Account", None))

    assert len(records) == 1
    assert logins(org) == 2


def test_a_session_refused_after_every_login_is_an_auth_error(running: RunningSalesforce) -> None:
    org = running.org
    org.session_timeout = timedelta(seconds=-1)  # e.g. a session policy that rejects this client

    with pytest.raises(AuthError, match="Session expired or invalid"):
        list(connector_for(running).read("Account", None))

    # One login and four re-logins by simple-salesforce (it checks its bound of 3 retries after
    # logging in again), then our one refresh and its four: then it stops.
    assert logins(org) == 10


def test_a_given_session_cannot_be_refreshed(running: RunningSalesforce) -> None:
    org = running.org
    token = org.open_session(org.admin_id).token
    connector = connector_for(
        running,
        auth="session",
        secrets={"session_id": SecretStr(token)},
        instance_url=org.instance_url,
    )
    assert list(connector.read("Account", None)) == []
    org.expire_sessions()

    with pytest.raises(AuthError, match="give a new session_id") as caught:
        list(connector.read("Account", None))

    assert token not in str(caught.value)


def test_a_refused_login_is_an_auth_error_that_names_no_secret(
    running: RunningSalesforce, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-Passw0rd-123"
    token = running.org.credentials.security_token
    connector = connector_for(
        running,
        auth="soap",
        secrets={"password": SecretStr(wrong), "security_token": SecretStr(token)},
    )

    with pytest.raises(AuthError) as caught:
        list(connector.read("Account", None))
    result = connector.check()

    assert "INVALID_LOGIN" in str(caught.value)
    assert not result.ok
    assert result.detail == "failed: login"
    assert "INVALID_LOGIN" in result.checks[0][2]
    shown = " ".join(
        [str(caught.value), repr(connector), repr(connector.settings), repr(connector.client)]
        + [text for _, _, text in result.checks]
        + [caplog.text]
    )
    assert wrong not in shown
    assert token not in shown


def test_login_works_with_every_flow(running: RunningSalesforce) -> None:
    running.org.seed("Contact", {"LastName": "Li"})
    for auth in ("client_credentials", "password", "soap"):
        records = list(connector_for(running, auth=auth).read("Contact", None))
        assert [r.fields["LastName"] for r in records if isinstance(r, SourceRecord)] == ["Li"]


@pytest.mark.parametrize("auth", ["client_credentials", "soap"])
def test_a_failing_login_endpoint_is_retried(running: RunningSalesforce, auth: str) -> None:
    running.org.seed("Account", {"Name": "Acme"})
    running.faults.script.extend(["429", "503", "drop"])  # the first three requests: logins

    records = list(connector_for(running, auth=auth).read("Account", None))

    assert len(records) == 1
    assert running.faults.injected == 3


def test_a_fifth_of_all_calls_failing_still_syncs_everything_once(
    running: RunningSalesforce,
) -> None:
    org = running.org
    start = org.now() - timedelta(hours=1)
    seeded = {org.seed("Account", {"Name": f"A{n}"}, at=start) for n in range(2100)}
    # Timeouts are left to the scripted test: here the client's timeout stays generous, so a slow
    # machine never turns a legitimate answer into a failure.
    faults = FaultPlan(rate=0.2, kinds=("429", "500", "503", "drop"), seed=4)
    running.emulator.reset(org, faults)
    connector = connector_for(running, retry_max_attempts=12)
    writes = [
        Write(WriteOp.UPSERT, "Contact", f"per_{n:026d}", {"LastName": f"P{n}"}) for n in range(600)
    ]

    results = connector.write("Contact", writes)
    read = [r.external_id for r in connector.read("Account", None) if isinstance(r, SourceRecord)]

    assert running.faults.injected > 0  # the seed makes this run deterministic
    assert all(r.ok for r in results)
    assert len(org.records("Contact")) == 600
    assert sorted(read) == sorted(seeded)


def test_a_batch_cut_short_reports_what_landed(running: RunningSalesforce) -> None:
    org = running.org
    connector = connector_for(running, retry_max_attempts=2)
    connector.check()
    running.faults.script.extend([None, "503", "503", "503"])
    writes = [
        Write(WriteOp.UPSERT, "Contact", f"per_{n:026d}", {"LastName": f"P{n}"}) for n in range(450)
    ]

    results = connector.write("Contact", writes)

    assert all(r.ok for r in results[:200])
    assert not any(r.ok for r in results[200:])
    assert all(r.retriable for r in results[200:])
    assert "HTTP 503" in str(results[300].error)
    assert len(org.records("Contact")) == 200
    # Sent again, the whole batch lands once.
    assert all(r.ok for r in connector.write("Contact", writes))
    assert len(org.records("Contact")) == 450
