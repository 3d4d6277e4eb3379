"""Salesforce outbound messages (workflow SOAP), apis.md §1.10 (sforce_api_om_outboundmessaging_wsdl).

Outbound messages carry no signature. What Salesforce offers to authenticate them is TLS to an https
listener, the ``OrganizationId`` inside the message (checked here against ``organization_id``), the
published Salesforce IP ranges (``allowed_networks``, checked by the receiver before this runs), and
optionally the client certificate Salesforce can present (a TLS-terminating proxy's job). Put all of
them in place in production: the org id alone is not a secret.

The listener must answer ``<Ack>true</Ack>`` in the SOAP envelope below; anything else makes
Salesforce retry with back-off for up to 24 hours. A redelivery carries the same ``Notification/Id``
values, so the delivery key is a hash of the org and the sorted notification ids.

A SOAP message must not contain a DTD (SOAP 1.1 §3), so a body with ``<!DOCTYPE`` is refused before
parsing: without a DTD no entity can be declared, which rules out entity expansion and external
entities with the standard library parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hub.webhooks.inbox import Delivery, hashed_key
from hub.webhooks.request import (
    Accepted,
    IncomingRequest,
    Rejected,
    Reply,
    Verdict,
    kept_headers,
)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"

ACK_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>"
).encode()

ACK = Reply(200, ACK_ENVELOPE, "text/xml; charset=utf-8")

# "Send Session ID" puts a live API session in every message; the hub has its own credentials, and a
# session id in the database (or a log) would be a usable secret, so it is blanked before storing.
_SESSION_ID = re.compile(r"<((?:[A-Za-z_][\w.-]*:)?SessionId)(\s[^>]*)?>[^<]*</\1>")


class SalesforceOutbound:
    scheme = "salesforce_outbound"
    methods: tuple[str, ...] = ("POST",)

    def __init__(self, system: str, organization_id: str) -> None:
        self._system = system
        self._org15 = organization_id[:15]

    def __repr__(self) -> str:
        return f"SalesforceOutbound({self._system})"

    def verify(self, request: IncomingRequest) -> Verdict:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected(400, "body is not UTF-8")
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            return Rejected(400, "a SOAP message may not contain a DTD")
        try:
            root = ET.fromstring(text)  # noqa: S314 - no DTD possible (checked above)
        except ET.ParseError:
            return Rejected(400, "body is not XML")
        notifications = root.find(f"{{{SOAP_ENV}}}Body/{{{OUTBOUND}}}notifications")
        if notifications is None:
            return Rejected(400, "not an outbound-message envelope (soapenv:Body/notifications)")
        org = (notifications.findtext(f"{{{OUTBOUND}}}OrganizationId") or "").strip()
        # 15- and 18-character forms of one id share their first 15 characters (case-sensitive).
        if len(org) not in (15, 18) or org[:15] != self._org15:
            return Rejected(401, "unknown OrganizationId")
        ids = sorted(
            (n.findtext(f"{{{OUTBOUND}}}Id") or "").strip()
            for n in notifications.findall(f"{{{OUTBOUND}}}Notification")
        )
        if not ids or not all(ids):
            return Rejected(400, "no Notification with an Id")
        payload = _SESSION_ID.sub(lambda m: f"<{m.group(1)}/>", text).encode("utf-8")
        delivery = Delivery(
            self._system,
            self.scheme,
            hashed_key("sfom", [self._org15, *ids]),
            payload,
            request.headers.get("content-type", "text/xml"),
            kept_headers(request.headers),
        )
        return Accepted([delivery], ACK)
