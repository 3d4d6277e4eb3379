# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""The daily allowance, ``Sforce-Limit-Info``, and injected faults as the client sees them."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)
from simple_salesforce.util import Usage

from connectors.emulation import FaultPlan
from connectors.salesforce.emulator import RunningSalesforce, SalesforceEmulator, connect_client
from connectors.salesforce.org import Org


def error_of(caught: pytest.ExceptionInfo[SalesforceError]) -> dict[str, Any]:
    """The single REST error ``[{"message", "errorCode", "fields"?}]`` a failed call carried."""
    content: Any = caught.value.content
    assert isinstance(content, list), content
    assert len(content) == 1
    return dict(content[0])


def test_every_response_reports_api_usage(sf: Salesforce, org: Org) -> None:
    org.api_limit = 15000
    accounts = sf.Account  # keep the SFType: its usage is per instance (apis.md §0.1)

    accounts.create({"Name": "Acme"})
    sf.query("SELECT Id FROM Account")

    assert accounts.api_usage == {"api-usage": Usage(used=1, total=15000)}
    assert sf.api_usage == {"api-usage": Usage(used=2, total=15000)}
    assert org.api_calls == 2


def test_limits_resource(sf: Salesforce, org: Org) -> None:
    org.api_limit = 500

    limits = sf.limits()

    assert limits["DailyApiRequests"] == {"Max": 500, "Remaining": 499}


def test_the_daily_limit_refuses_with_403_request_limit_exceeded(sf: Salesforce, org: Org) -> None:
    org.api_limit = 3
    for _ in range(3):
        sf.query("SELECT Id FROM Account")

    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Account")

    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    org.reset_api_usage()
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_scripted_server_errors(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    emulator.faults.script.extend(["503", "500", "502", None])

    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceGeneralError) as unknown:
        sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceGeneralError) as gateway:
        sf.query("SELECT Id FROM Account")

    assert unavailable.value.status == 503
    assert unavailable.value.content == [
        {"message": "Server Unavailable", "errorCode": "SERVER_UNAVAILABLE"}
    ]
    assert unknown.value.status == 500
    assert error_of(unknown)["errorCode"] == "UNKNOWN_EXCEPTION"
    assert gateway.value.status == 502
    assert sf.query("SELECT COUNT() FROM Account")["done"] is True
    assert emulator.faults.injected == 3


def test_rate_limit_fault_is_salesforce_s_concurrent_limit(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    emulator.faults.script.append("429")

    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.Account.create({"Name": "Acme"})

    assert caught.value.status == 403
    assert caught.value.content == [
        {
            "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]
    assert emulator.org.records("Account") == []  # refused before it ran


def test_dropped_connection_and_timeout(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    emulator.faults.timeout_seconds = 0.4
    emulator.faults.script.extend(["drop", "timeout"])

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sf.query("SELECT Id FROM Account")
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Account", timeout=0.1)

    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_a_fault_rate_fails_that_share_of_calls(running: RunningSalesforce) -> None:
    running.emulator.reset(Org(), FaultPlan(rate=0.5, kinds=("503",), seed=7))
    sf = connect_client(running, "session")
    outcomes = []
    statuses = set()
    for _ in range(40):
        try:
            sf.query("SELECT COUNT() FROM Account")
            outcomes.append(True)
        except SalesforceGeneralError as exc:
            statuses.add(exc.status)
            outcomes.append(False)

    assert statuses == {503}

    assert 10 <= outcomes.count(False) <= 30
    assert running.faults.injected == outcomes.count(False)
    assert running.org.api_calls == outcomes.count(True)  # faulted calls never reached the org
