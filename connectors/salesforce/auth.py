"""Login: the OAuth 2.0 token endpoint and the SOAP ``login`` call simple-salesforce defaults to.

apis.md §0.1 / §1.1 [V]: with a ``security_token`` (even empty) simple-salesforce posts a SOAP
login to ``/services/Soap/u/{version}`` and reads ``sessionId`` and ``serverUrl`` (instance = host
minus ``-api``); a failure is HTTP 500 with ``sf:exceptionCode``/``sf:exceptionMessage``. With a
consumer key and secret it uses the OAuth password grant, or ``client_credentials`` on a My Domain
host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from connectors.salesforce.org import Org, Session

MAX_SOAP_BODY = 64 * 1024
INVALID_LOGIN_MESSAGE = "Invalid username, password, security token; or user locked out."
_PARTNER_NS = "urn:partner.soap.sforce.com"


def _token_error(error: str, description: str) -> tuple[int, dict[str, Any]]:
    # apis.md §1.1 [D]: HTTP 400 {"error","error_description"}
    return 400, {"error": error, "error_description": description}


def _token_body(org: Org, session: Session, secret: str, with_scope: bool) -> dict[str, Any]:
    issued_at = str(int(session.issued_at.timestamp() * 1000))
    identity = f"https://login.salesforce.com/id/{org.org_id}/{session.user_id}"
    # signature: base64 HMAC-SHA256 of id + issued_at keyed by the consumer secret [D]
    digest = hmac.new(secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    body: dict[str, Any] = {
        "access_token": session.token,
        "instance_url": org.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(digest).decode(),
    }
    if with_scope:  # client credentials also answers scope and api_instance_url [K]/[D]
        body["scope"] = "api"
        body["api_instance_url"] = org.instance_url.replace(".my.", ".my.api.", 1)
    return body


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def token_endpoint(
    org: Org, form: Mapping[str, str], authorization: str | None, host: str
) -> tuple[int, dict[str, Any]]:
    """``POST /services/oauth2/token``: the password and client_credentials grants."""
    grant = form.get("grant_type", "")
    basic = _basic_credentials(authorization)
    client_id = form.get("client_id") or (basic[0] if basic else "")
    client_secret = form.get("client_secret") or (basic[1] if basic else "")
    if grant not in ("password", "client_credentials"):
        return _token_error("unsupported_grant_type", "grant type not supported")
    app = org.apps.get(client_id)
    if app is None:
        return _token_error("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(app.client_secret, client_secret):
        return _token_error("invalid_client", "invalid client credentials")
    if grant == "client_credentials":
        # Only a My Domain host serves this flow [V] (the client never tries it on login/test) [K].
        if host.split(":")[0] in ("login.salesforce.com", "test.salesforce.com"):
            return _token_error("invalid_grant", "request not supported on this domain")
        if app.run_as_user_id is None:
            return _token_error("invalid_grant", "no client credentials user enabled")
        session = org.open_session(app.run_as_user_id, client_id)
        return 200, _token_body(org, session, app.client_secret, with_scope=True)
    user_id = org.authenticate(form.get("username", ""), form.get("password", ""))
    if user_id is None:
        return _token_error("invalid_grant", "authentication failure")
    session = org.open_session(user_id, client_id)
    return 200, _token_body(org, session, app.client_secret, with_scope=False)


def _soap_fault(code: str, message: str) -> tuple[int, str]:
    # Fault shape with the sf: prefix the client searches for literally (apis.md §1.1 [V]).
    return 500, (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {_xml(message)}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{_xml(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _login_fields(body: bytes) -> tuple[str, str] | None:
    if len(body) > MAX_SOAP_BODY or b"<!DOCTYPE" in body.upper():
        return None
    try:
        root = ET.fromstring(body)  # noqa: S314 - capped, no DOCTYPE, loopback emulator only
    except ET.ParseError:
        return None
    username = root.find(f".//{{{_PARTNER_NS}}}login/{{{_PARTNER_NS}}}username")
    password = root.find(f".//{{{_PARTNER_NS}}}login/{{{_PARTNER_NS}}}password")
    if username is None or password is None:
        return None
    return username.text or "", password.text or ""


def soap_login(org: Org, body: bytes, version: str) -> tuple[int, str]:
    """``POST /services/Soap/u/{version}`` with ``SOAPAction: login``."""
    fields = _login_fields(body)
    user_id = org.authenticate(*fields) if fields is not None else None
    if user_id is None:
        # apis.md §1.1: INVALID_LOGIN and this message [K]
        return _soap_fault("INVALID_LOGIN", INVALID_LOGIN_MESSAGE)
    session = org.open_session(user_id)
    user = org.record(user_id) or {}
    server = f"{org.instance_url}/services/Soap/u/{version}/{org.org_id[:15]}"
    metadata = f"{org.instance_url}/services/Soap/m/{version}/{org.org_id[:15]}"
    return 200, (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{metadata}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{server}</serverUrl>"
        f"<sessionId>{_xml(session.token)}</sessionId>"
        f"<userId>{user_id}</userId>"
        "<userInfo>"
        f"<organizationId>{org.org_id}</organizationId>"
        f"<userEmail>{_xml(str(user.get('Email', '')))}</userEmail>"
        f"<userFullName>{_xml(str(user.get('Name', '')))}</userFullName>"
        f"<userId>{user_id}</userId>"
        f"<userName>{_xml(str(user.get('Username', '')))}</userName>"
        "<userTimeZone>Etc/UTC</userTimeZone>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
