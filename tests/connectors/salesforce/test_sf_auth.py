# simple-salesforce types ``sf.<Object>`` as a union with its bulk handlers, so calls such as
# ``sf.Account.create`` need these two codes off; the tests use the client as callers do.
# mypy: disable-error-code="operator,union-attr"
"""Login flows and session expiry, through the real simple-salesforce client."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from connectors.salesforce.emulator import RunningSalesforce, connect_client

FLOWS = ["soap", "password", "client_credentials", "session"]


@pytest.mark.parametrize("flow", FLOWS)
def test_each_login_flow_gives_a_working_client(running: RunningSalesforce, flow: str) -> None:
    sf = connect_client(running, flow)  # type: ignore[arg-type]

    created = sf.Account.create({"Name": f"Acme via {flow}"})

    assert created["success"] is True
    assert sf.sf_instance == "huitong-dev.my.salesforce.com"
    row = running.org.record(created["id"])
    assert row is not None
    assert row["CreatedById"] == running.org.admin_id


def test_soap_login_with_a_wrong_password_raises_invalid_login(running: RunningSalesforce) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        connect_client(running, "soap", password="wrong")

    assert caught.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in caught.value.auth_message


def test_password_grant_with_a_wrong_password_raises_invalid_grant(
    running: RunningSalesforce,
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        connect_client(running, "password", password="wrong")

    assert caught.value.code == "invalid_grant"
    assert caught.value.auth_message == "authentication failure"


@pytest.mark.parametrize(
    ("key", "secret", "error", "description"),
    [
        ("unknown-app", "x", "invalid_client_id", "client identifier invalid"),
        ("3MVG9huitong.hub.consumer.key", "wrong", "invalid_client", "invalid client credentials"),
    ],
)
def test_client_credentials_with_bad_app_credentials(
    running: RunningSalesforce, key: str, secret: str, error: str, description: str
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            consumer_key=key,
            consumer_secret=secret,
            domain=running.my_domain,
            session=running.session(),
        )

    assert (caught.value.code, caught.value.auth_message) == (error, description)


def test_client_credentials_are_refused_on_the_login_host(running: RunningSalesforce) -> None:
    creds = running.org.credentials
    response = running.session().post(
        "https://login.salesforce.com/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "request not supported on this domain",
    }


def test_token_response_has_the_documented_fields(running: RunningSalesforce) -> None:
    creds = running.org.credentials
    response = running.session().post(
        "https://login.salesforce.com/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": creds.password + creds.security_token,
        },
    )

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == "https://huitong-dev.my.salesforce.com"
    assert body["token_type"] == "Bearer"
    assert body["id"].endswith(f"/{running.org.admin_id}")


def test_expired_token_on_a_direct_session_raises_expired_session(
    running: RunningSalesforce,
) -> None:
    sf = connect_client(running, "session")
    sf.query("SELECT Id FROM Account")
    running.org.expire_sessions(sf.session_id)

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")

    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


@pytest.mark.parametrize("flow", ["soap", "password"])
def test_a_client_that_logged_in_itself_logs_in_again_after_expiry(
    running: RunningSalesforce, flow: str
) -> None:
    sf = connect_client(running, flow)  # type: ignore[arg-type]
    first_token = sf.session_id
    running.org.expire_sessions()

    contacts = sf.Contact  # SFType's own retry path (apis.md §0.1)
    created = contacts.create({"LastName": "Wang"})

    assert created["success"] is True
    assert sf.session_id != first_token


def test_idle_session_times_out(running: RunningSalesforce) -> None:
    sf = connect_client(running, "session")
    running.org.advance(running.org.session_timeout + timedelta(minutes=1))

    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_missing_authorization_header_is_invalid_auth_header(running: RunningSalesforce) -> None:
    response = running.session().get(
        "https://huitong-dev.my.salesforce.com/services/data/v59.0/limits/"
    )

    assert response.status_code == 401
    assert response.json() == [
        {"message": "INVALID_HEADER_TYPE", "errorCode": "INVALID_AUTH_HEADER"}
    ]


def test_the_routed_session_pins_the_emulator_ca(running: RunningSalesforce) -> None:
    """Without the throw-away CA the loopback TLS server is not trusted."""
    plain = requests.Session()
    plain.trust_env = False

    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{running.url}/services/data/")
    assert running.session().get(f"{running.url}/services/data/").status_code == 200


def test_the_loopback_url_works_as_instance_url_with_the_ca_trusted(
    running: RunningSalesforce,
) -> None:
    """The other documented option: verify= the CA and point instance_url at the server itself."""
    direct = requests.Session()
    direct.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify (apis.md §0.1)
    direct.verify = running.tls.ca_file
    token = running.org.open_session(running.org.admin_id).token

    sf = Salesforce(instance_url=running.url, session_id=token, session=direct)

    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 1
