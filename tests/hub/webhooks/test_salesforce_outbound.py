"""Salesforce outbound messages: org check, the exact SOAP ack, redeliveries, address allow-list."""

from __future__ import annotations

from typing import Any

from hub.webhooks.salesforce import ACK_ENVELOPE
from state.inbox import SqlInbox

ORG = "00D5g000004ABCDEAA"  # 18 characters; Salesforce may send the 15-character form too


def envelope(
    org: str = ORG, ids: tuple[str, ...] = ("04l5g00000XYZ01AAA",), session: str = ""
) -> bytes:
    session_element = (
        f"<SessionId>{session}</SessionId>" if session else '<SessionId xsi:nil="true"/>'
    )
    notifications = "".join(
        f"<Notification><Id>{nid}</Id>"
        '<sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>0015g00000ACME{i}AAA</sf:Id><sf:Name>Acme {i}</sf:Name></sObject></Notification>"
        for i, nid in enumerate(ids)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5g000000ABCDAAA</ActionId>"
        f"{session_element}"
        f"<EnterpriseUrl>https://x.my.salesforce.com/services/Soap/c/59.0/{org[:15]}</EnterpriseUrl>"
        f"<PartnerUrl>https://x.my.salesforce.com/services/Soap/u/59.0/{org[:15]}</PartnerUrl>"
        f"{notifications}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def test_outbound_message_is_stored_and_acked_with_the_soap_envelope(
    make_client: Any, sqlite_inbox: SqlInbox
) -> None:
    client = make_client("sf", scheme="salesforce_outbound", organization_id=ORG[:15])
    body = envelope(
        ids=("04l5g00000XYZ01AAA", "04l5g00000XYZ02AAA"), session="00D5g!AQ0AQLiveSession"
    )
    response = client.post("/webhooks/sf", content=body, headers=SOAP_HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content == ACK_ENVELOPE
    assert b"<Ack>true</Ack>" in response.content
    [item] = sqlite_inbox.items()
    assert item.key.startswith("sfom:")
    assert b"LiveSession" not in item.payload  # the session id is blanked before storing
    assert b"<SessionId/>" in item.payload
    assert item.payload.replace(b"<SessionId/>", b"") == body.replace(
        b"<SessionId>00D5g!AQ0AQLiveSession</SessionId>", b""
    )
    assert item.headers["soapaction"] == '""'


def test_redelivery_with_the_same_notifications_is_acked_and_not_stored_twice(
    make_client: Any, sqlite_inbox: SqlInbox
) -> None:
    client = make_client("sf", scheme="salesforce_outbound", organization_id=ORG)
    ids = ("04l5g00000XYZ01AAA", "04l5g00000XYZ02AAA")
    for order in (ids, tuple(reversed(ids))):
        response = client.post(
            "/webhooks/sf", content=envelope(ORG[:15], order), headers=SOAP_HEADERS
        )
        assert response.content == ACK_ENVELOPE
    assert len(sqlite_inbox.items()) == 1
    client.post("/webhooks/sf", content=envelope(ids=("04l5g00000XYZ03AAA",)), headers=SOAP_HEADERS)
    assert len(sqlite_inbox.items()) == 2


def test_another_org_or_a_dtd_is_refused_and_nothing_stored(
    make_client: Any, sqlite_inbox: SqlInbox
) -> None:
    client = make_client("sf", scheme="salesforce_outbound", organization_id=ORG)
    other = client.post(
        "/webhooks/sf", content=envelope("00D5g000009ZZZZEAA"), headers=SOAP_HEADERS
    )
    assert (other.status_code, other.json()) == (401, {"error": "unknown OrganizationId"})
    # 15 characters that differ only in case are another org (ids are case-sensitive).
    lower = client.post("/webhooks/sf", content=envelope(ORG[:15].lower()), headers=SOAP_HEADERS)
    assert lower.status_code == 401
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + envelope()[38:]
    assert client.post("/webhooks/sf", content=bomb, headers=SOAP_HEADERS).status_code == 400
    assert client.post("/webhooks/sf", content=b"not xml", headers=SOAP_HEADERS).status_code == 400
    assert sqlite_inbox.items() == []


def test_allowed_networks_admit_listed_callers_only(
    make_client: Any, sqlite_inbox: SqlInbox
) -> None:
    outside = make_client(
        "sf", scheme="salesforce_outbound", organization_id=ORG, allowed_networks=["13.108.0.0/14"]
    )
    refused = outside.post("/webhooks/sf", content=envelope(), headers=SOAP_HEADERS)
    assert (refused.status_code, refused.json()) == (403, {"error": "address not allowed"})
    assert sqlite_inbox.items() == []
    inside = make_client(
        "sf", scheme="salesforce_outbound", organization_id=ORG, allowed_networks=["127.0.0.0/8"]
    )
    assert inside.post("/webhooks/sf", content=envelope(), headers=SOAP_HEADERS).status_code == 200
    assert len(sqlite_inbox.items()) == 1
