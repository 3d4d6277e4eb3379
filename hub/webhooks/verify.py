"""Signature verifiers, one per scheme, built from a system's ``WebhookSettings``.

| scheme                | module        | authenticates with                                          |
|-----------------------|---------------|-------------------------------------------------------------|
| hubspot_v3            | signed        | HMAC-SHA256 over method, URL, body, timestamp (5 min)       |
| hmac_sha256           | signed        | the hub's generic HMAC-SHA256 over timestamp and body       |
| salesforce_cdc_hmac   | signed        | the generic scheme; CDC events forwarded by a relay         |
| salesforce_outbound   | salesforce    | nothing signed: OrganizationId + TLS + IP allow-list        |
| dingtalk, wecom       | oa            | SHA-1 over token, timestamp, nonce, sealed event; AES       |
| feishu                | oa            | SHA-256 over timestamp, nonce, key, body; AES; token        |
"""

from __future__ import annotations

from pydantic import SecretStr

from hub.settings import WebhookSettings
from hub.webhooks.oa import DingTalk, Feishu, WeCom
from hub.webhooks.oa_crypto import MsgCrypt
from hub.webhooks.request import Verifier
from hub.webhooks.salesforce import SalesforceOutbound
from hub.webhooks.signed import HmacSha256, HubSpotV3, SalesforceCdcHmac


def build_verifier(system: str, settings: WebhookSettings) -> Verifier:
    """The verifier for ``system``; settings were validated, so each scheme has what it needs.

    Raises ``ValueError`` for a key of the wrong shape (an EncodingAESKey that is not 43 characters).
    """

    def secret(value: SecretStr | None) -> str:
        return value.get_secret_value() if value is not None else ""

    tolerance = float(settings.timestamp_tolerance_seconds)
    scheme = settings.scheme
    if scheme == "hubspot_v3":
        return HubSpotV3(system, secret(settings.secret), tolerance)
    if scheme == "hmac_sha256":
        return HmacSha256(system, secret(settings.secret), tolerance)
    if scheme == "salesforce_cdc_hmac":
        return SalesforceCdcHmac(system, secret(settings.secret), tolerance)
    if scheme == "salesforce_outbound":
        return SalesforceOutbound(system, settings.organization_id or "")
    if scheme in ("dingtalk", "wecom"):
        crypt = MsgCrypt(
            secret(settings.secret), secret(settings.aes_key), settings.receive_id or ""
        )
        return (DingTalk if scheme == "dingtalk" else WeCom)(system, crypt, tolerance)
    if scheme == "feishu":
        key = secret(settings.secret) if settings.secret is not None else None
        token = (
            secret(settings.verification_token) if settings.verification_token is not None else None
        )
        return Feishu(system, key, token, tolerance)
    raise ValueError(f"unknown webhook scheme {scheme!r}")
