"""A faithful local Salesforce: REST API, OAuth and SOAP login, served over TLS on loopback.

``SalesforceEmulator`` bundles the in-memory ``Org`` (state and test hooks), the ASGI ``app``
(the REST application wrapped in a ``FaultInjector``) and ``faults`` (its ``FaultPlan``).
``serve()`` runs it over HTTPS on 127.0.0.1; ``connect_client()`` returns a real
``simple_salesforce.Salesforce`` wired to it through a ``requests.Session`` that sends
``*.salesforce.com`` to the loopback port::

    emulator = SalesforceEmulator()
    with emulator.serve() as running:
        sf = connect_client(running)              # SOAP login, as simple-salesforce does by default
        sf.Account.create({"Name": "Acme"})
        emulator.org.expire_sessions()            # next call: INVALID_SESSION_ID, client re-logs in

Behaviour and its sources: apis.md §0.1 (what simple-salesforce 1.12 sends) and §1 (the REST API);
each module cites the source of each behaviour it reproduces. Not emulated: Composite, Bulk API 1/2,
SOSL, merge (a SOAP ``merge()`` call and Apex ``Database.merge``, absent from the REST API).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import requests
from simple_salesforce import Salesforce
from simple_salesforce.api import DEFAULT_API_VERSION

from connectors.emulation import FaultInjector, FaultPlan, LoopbackServer
from connectors.salesforce import errors
from connectors.salesforce.org import Org
from connectors.salesforce.rest import JSON_TYPE, SalesforceApp
from connectors.salesforce.tls import TlsFiles, routed_session, tls_files

LoginFlow = Literal["soap", "password", "client_credentials", "session"]


def _rate_limited_answer(org: Org) -> tuple[int, dict[str, str], bytes]:
    # Salesforce has no 429 for the REST API: a concurrency or rate refusal is 403
    # REQUEST_LIMIT_EXCEEDED ("ConcurrentPerOrgLongTxn Limit exceeded.", apis.md §1.3 [V]).
    body = json.dumps(errors.concurrent_limit_exceeded().rest_body()).encode()
    return 403, {"content-type": JSON_TYPE, "sforce-limit-info": org.limit_info()}, body


def _server_error_answer(status: int) -> tuple[dict[str, str], bytes]:
    if status == 502:  # a gateway's page, not the API's JSON [K]
        return {"content-type": "text/html"}, b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if status == 503:
        # [{"message":"Server Unavailable","errorCode":"SERVER_UNAVAILABLE"}] (rudderstack) [V]
        item = {"message": "Server Unavailable", "errorCode": "SERVER_UNAVAILABLE"}
    else:
        # UNKNOWN_EXCEPTION with an ErrorId, as Salesforce's 500s read [V]
        item = {
            "message": "An unexpected error occurred. Please include this ErrorId if you contact "
            "support: 1234567890-12345 (-1234567890)",
            "errorCode": "UNKNOWN_EXCEPTION",
        }
    return {"content-type": JSON_TYPE}, json.dumps([item]).encode()


class SalesforceEmulator:
    def __init__(self, org: Org | None = None, faults: FaultPlan | None = None) -> None:
        self.org = org or Org()
        self.faults = faults or FaultPlan()
        self.rest = SalesforceApp(self.org)
        self.app = FaultInjector(
            self.rest,
            self.faults,
            rate_limited=lambda: _rate_limited_answer(self.org),
            server_error=_server_error_answer,
        )

    def reset(self, org: Org | None = None, faults: FaultPlan | None = None) -> None:
        """Swap in a fresh org and fault plan while serving (one server, many isolated tests)."""
        self.org = org or Org()
        self.rest.org = self.org
        self.faults = faults or FaultPlan()
        self.app.plan = self.faults

    @contextmanager
    def serve(self, tls_dir: str | Path | None = None) -> Iterator[RunningSalesforce]:
        """Serve over HTTPS on an ephemeral loopback port until the block ends."""
        files = tls_files(tls_dir)
        server = _TlsLoopbackServer(
            self.app, ssl_certfile=files.cert_file, ssl_keyfile=files.key_file
        )
        with server:
            yield RunningSalesforce(self, server, files)


class _TlsLoopbackServer(LoopbackServer):
    """Stops without waiting for idle keep-alive TLS connections to finish their close handshake.

    uvicorn's graceful shutdown closes each idle connection and waits for it to go; over TLS the
    close waits for the client's close_notify, which a pooled ``requests`` connection never sends,
    so the stop would hang for asyncio's 30 s SSL shutdown timeout.
    """

    def stop(self) -> None:
        self._server.force_exit = True
        super().stop()


@dataclass
class RunningSalesforce:
    emulator: SalesforceEmulator
    server: LoopbackServer
    tls: TlsFiles

    @property
    def org(self) -> Org:
        return self.emulator.org

    @property
    def faults(self) -> FaultPlan:
        return self.emulator.faults

    @property
    def url(self) -> str:
        """The loopback URL (``https://127.0.0.1:port``); trust ``tls.ca_file`` to call it."""
        return self.server.url

    @property
    def my_domain(self) -> str:
        """The ``domain`` argument naming the org's My Domain (``huitong-dev.my``)."""
        host = self.org.instance_url.split("://", 1)[-1]
        return host.removesuffix(".salesforce.com")

    def session(self) -> requests.Session:
        """A ``requests.Session`` on which the real Salesforce URLs reach this emulator."""
        return routed_session(self.server.port, self.tls.ca_file)


def connect_client(
    running: RunningSalesforce,
    flow: LoginFlow = "soap",
    *,
    version: str | None = None,
    session: requests.Session | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Salesforce:
    """A real ``simple_salesforce.Salesforce`` logged in to the running emulator.

    ``soap``: username/password/security_token (the client's default SOAP login);
    ``password``: OAuth password grant with the connected app's key and secret;
    ``client_credentials``: OAuth client credentials on the org's My Domain;
    ``session``: ``instance_url`` + ``session_id`` from a token issued directly (no re-login).
    """
    creds = running.org.credentials
    http = session or running.session()
    version = version or DEFAULT_API_VERSION
    user = username or creds.username
    secret = password if password is not None else creds.password
    if flow == "soap":
        return Salesforce(
            username=user,
            password=secret,
            security_token="" if password is not None else creds.security_token,
            domain="login",
            session=http,
            version=version,
        )
    if flow == "password":
        token = "" if password is not None else creds.security_token
        return Salesforce(
            username=user,
            password=secret + token,
            consumer_key=creds.client_id,
            consumer_secret=creds.client_secret,
            domain="login",
            session=http,
            version=version,
        )
    if flow == "client_credentials":
        return Salesforce(
            consumer_key=creds.client_id,
            consumer_secret=creds.client_secret,
            domain=running.my_domain,
            session=http,
            version=version,
        )
    token = running.org.open_session(running.org.admin_id).token
    return Salesforce(
        instance_url=running.org.instance_url, session_id=token, session=http, version=version
    )
