"""Settings and factory, check(), the pacer on its own, and the default mappings on real reads."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.cursor import ReadCursor, pair_digest, parse_timestamp
from connectors.salesforce.emulator import RunningSalesforce
from connectors.salesforce.factory import create, settings_from
from connectors.salesforce.pacing import BudgetExhausted, LocalBudget, Pacer
from connectors.salesforce.testing import connector_for
from hub.errors import ConfigError
from hub.model import Candidate, EntityType
from hub.ports import Connector, SourceRecord
from mappings.mapper import Mapper
from mappings.spec import load_spec

SECRETS = {
    "consumer_key": SecretStr("3MVG9-key"),
    "consumer_secret": SecretStr("consumer-secret-value"),
}


def test_create_builds_a_connector_without_calling_salesforce(tmp_path: Path) -> None:
    connector = create(
        "sf-prod",
        {"auth": "client_credentials", "domain": "acme.my.salesforce.com"},
        SECRETS,
        tmp_path,
    )
    assert isinstance(connector, SalesforceConnector)
    assert isinstance(connector, Connector)
    assert connector.kind == "salesforce"
    assert connector.settings.domain == "acme.my"
    assert connector.objects() == ["Account", "Contact"]
    assert connector.limits.batch_size == 200
    assert connector.client.logins == 0
    assert "consumer-secret-value" not in repr(connector) + repr(connector.settings)


@pytest.mark.parametrize(
    ("options", "secrets", "problem"),
    [
        ({"auth": "client_credentials", "domain": "login"}, SECRETS, "My Domain"),
        ({"auth": "password", "username": "u@x.com"}, SECRETS, "needs password"),
        (
            {"auth": "soap", "username": "u", "api_version": "65.0"},
            {"password": SecretStr("Passw0rd-x")},
            "65.0",
        ),
        ({"auth": "client_credentials", "domain": "a.my", "api_version": "45.0"}, SECRETS, "46.0"),
        ({"auth": "client_credentials", "domain": "a.my", "password": "x"}, SECRETS, "a secret"),
        ({"auth": "client_credentials", "domain": "a.my", "bogus": 1}, SECRETS, "bogus"),
        ({"auth": "session"}, {"session_id": SecretStr("tok")}, "instance_url"),
        ({"auth": "client_credentials", "domain": "a.my"}, {"token": SecretStr("x")}, "token"),
        (
            {
                "auth": "client_credentials",
                "domain": "a.my",
                "objects": {"Lead": {"fields": ["a b"]}},
            },
            SECRETS,
            "not Salesforce field names",
        ),
    ],
)
def test_bad_configuration_is_a_config_error(
    options: dict[str, object], secrets: dict[str, SecretStr], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        settings_from(options, secrets)
    for secret in secrets.values():
        assert secret.get_secret_value() not in str(caught.value)


def test_check_passes_on_a_well_configured_org(running: RunningSalesforce) -> None:
    result = connector_for(running).check()

    assert result.ok, result
    names = [name for name, _, _ in result.checks]
    assert names == ["login", "object Account", "object Contact", "api usage"]


def test_check_names_a_missing_external_id_field_and_field(running: RunningSalesforce) -> None:
    connector = connector_for(
        running,
        external_id_field="Erp_Id__c",
        objects={"Contact": {"fields": ["LastName", "Fax__c", "Owner.Email"]}},
    )

    result = connector.check()

    assert not result.ok
    (obj_check,) = [c for c in result.checks if c[0] == "object Contact"]
    assert "Fax__c" in obj_check[2]
    connector = connector_for(running, external_id_field="Legacy_Id__c")
    result = connector.check()
    assert result.ok  # Legacy_Id__c is an External ID, though not unique
    assert "not Unique" in result.checks[1][2]
    result = connector_for(running, external_id_field="Name").check()
    assert not result.ok
    assert "not marked External ID" in result.checks[1][2]


def test_check_never_raises_when_salesforce_is_unreachable(running: RunningSalesforce) -> None:
    connector = connector_for(running, retry_max_attempts=1, timeout_seconds=0.2)
    running.faults.script.extend(["drop"])

    result = connector.check()

    assert not result.ok
    assert result.checks[0][0] == "login"


def test_the_pacer_caps_concurrent_requests() -> None:
    pacer = Pacer(LocalBudget(), max_concurrent=2)
    inside = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with pacer.slot():
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 2


def test_the_budget_counts_calls_between_observations() -> None:
    budget = LocalBudget(reserve=0.2)
    budget.spend(1000)  # nothing known yet: nothing refused
    budget.observe(used=70, limit=100)
    for _ in range(10):
        budget.spend()
    with pytest.raises(BudgetExhausted, match="80 of 100"):
        budget.spend()
    usage = budget.usage()
    assert usage is not None
    assert (usage.used, usage.limit) == (80, 100)


def test_cursor_round_trip() -> None:
    stamp = parse_timestamp("2024-05-01T10:00:00.123+0000")
    read_at = parse_timestamp("2024-05-01T10:30:00Z")
    pairs = frozenset({pair_digest("001A", stamp), pair_digest("001B", stamp)})
    cursor = ReadCursor(stamp, read_at, pairs)
    assert ReadCursor.decode(cursor.encode()) == cursor
    assert cursor.encode().startswith("2024-05-01T10:00:00.123Z;2024-05-01T10:30:00.000Z~")
    assert ReadCursor.decode(ReadCursor(stamp, None, pairs).encode()).delivered == pairs
    overlap = timedelta(minutes=5)
    assert cursor.lower_bound(overlap) == stamp  # read long after: nothing to look back for
    assert ReadCursor(stamp, stamp + timedelta(seconds=10)).lower_bound(overlap) == (
        stamp - timedelta(seconds=290)
    )
    assert ReadCursor.decode("2024-05-01T18:00:00+08:00").modstamp == parse_timestamp(
        "2024-05-01T10:00:00Z"
    )


def test_default_mappings_map_what_the_connector_reads(running: RunningSalesforce) -> None:
    org = running.org
    owner = org.add_user("wang@huitong.example", email="wang.wei@huitong.example", last_name="Wang")
    account = org.seed(
        "Account",
        {"Name": "Acme Ltd", "Website": "https://www.acme.example/cn", "BillingCity": "Shanghai",
         "BillingCountry": "China", "OwnerId": owner},
    )  # fmt: skip
    org.seed(
        "Contact",
        {"FirstName": "Wei", "LastName": "Li", "Email": "Li.Wei@Acme.example",
         "MobilePhone": "138 0013 8000", "AccountId": account, "OwnerId": owner},
    )  # fmt: skip
    connector = connector_for(running, system="sf")
    accounts = Mapper(load_spec("builtin:salesforce/accounts", Path("."), {}))
    contacts = Mapper(load_spec("builtin:salesforce/contacts", Path("."), {}))

    (acct,) = [r for r in connector.read("Account", None) if isinstance(r, SourceRecord)]
    (cont,) = [r for r in connector.read("Contact", None) if isinstance(r, SourceRecord)]
    company = accounts.to_candidate(acct)
    person = contacts.to_candidate(cont)

    assert isinstance(company, Candidate)
    assert isinstance(person, Candidate)
    assert company.entity_type is EntityType.COMPANY
    assert company.values["domain"] == "acme.example"
    assert company.values["owner_email"] == "wang.wei@huitong.example"
    values = person.values
    assert values["email"] == "li.wei@acme.example"
    assert values["company_name"] == "Acme Ltd"
    assert values["owner_email"] == "wang.wei@huitong.example"
    assert person.refs["company_id"].external_id == account
    assert person.refs["company_id"].object == "Account"
    # Back out: the owner travels as Owner.Email, the company as AccountId, Account.Name stays.
    out = contacts.to_system(values, lambda obj, cid: "001XX0000000001AAA")
    assert out["Owner.Email"] == "wang.wei@huitong.example"
    assert "Account.Name" not in out
