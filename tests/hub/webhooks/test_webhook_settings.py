"""The ``webhook`` and ``server`` sections of the configuration file."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.settings import parse_settings


def _yaml(webhook: str) -> str:
    return f"systems:\n  crm:\n    kind: hubspot\n    webhook:\n{webhook}"


def test_a_full_webhook_section_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "cs-123-secret")
    settings = parse_settings(
        "server:\n  host: 10.1.2.3\n  port: 9000\n  public_base_url: https://hub.example.com/\n"
        + _yaml(
            "      scheme: hubspot_v3\n"
            "      secret: ${HUBSPOT_CLIENT_SECRET}\n"
            "      path: /hooks/hubspot\n"
            "      max_body_bytes: 65536\n"
            "      timestamp_tolerance_seconds: 120\n"
            "      allowed_networks: [54.174.0.0/16, '2600:1f18::/32']\n"
        )
    )
    hook = settings.systems["crm"].webhook
    assert hook is not None
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == "cs-123-secret"
    assert "cs-123-secret" not in repr(settings)
    assert (hook.path, hook.max_body_bytes, hook.timestamp_tolerance_seconds) == (
        "/hooks/hubspot",
        65536,
        120,
    )
    assert settings.server.public_base_url == "https://hub.example.com"  # trailing slash dropped
    assert (settings.server.host, settings.server.port) == ("10.1.2.3", 9000)
    assert parse_settings("").server.port == 8080


@pytest.mark.parametrize(
    ("webhook", "message"),
    [
        ("      scheme: hubspot_v3\n", "scheme hubspot_v3 needs secret"),
        ("      scheme: dingtalk\n      secret: t\n", "scheme dingtalk needs aes_key, receive_id"),
        (
            "      scheme: feishu\n",
            "scheme feishu needs secret (the Encrypt Key) or verification_token",
        ),
        (
            "      scheme: wecom\n      secret: t\n      aes_key: short\n      receive_id: ww1\n",
            "43-character EncodingAESKey",
        ),
        (
            "      scheme: salesforce_outbound\n      organization_id: 00D12\n",
            "15- or 18-character",
        ),
        ("      scheme: smtp\n", "scheme"),
        ("      scheme: hmac_sha256\n      secret: s\n      path: hooks\n", "absolute URL path"),
        (
            "      scheme: hmac_sha256\n      secret: s\n      path: /metrics\n",
            "server's own endpoint",
        ),
        (
            "      scheme: hmac_sha256\n      secret: s\n      public_base_url: hub.example.com\n",
            "http(s) URL",
        ),
        (
            "      scheme: hmac_sha256\n      secret: s\n      allowed_networks: [10.0.0.300/8]\n",
            "not an IP network",
        ),
        ("      scheme: hmac_sha256\n      secret: s\n      max_body_bytes: 0\n", "max_body_bytes"),
    ],
)
def test_problems_are_reported_with_the_key_path(webhook: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(_yaml(webhook))
    text = str(caught.value)
    assert "systems.crm.webhook" in text
    assert message in text


def test_a_numeric_secret_is_text_and_never_echoed() -> None:
    settings = parse_settings(_yaml("      scheme: hmac_sha256\n      secret: 98765432101\n"))
    hook = settings.systems["crm"].webhook
    assert hook is not None
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == "98765432101"
    with pytest.raises(ConfigError) as caught:
        parse_settings(
            _yaml("      scheme: hmac_sha256\n      secret: 98765432101\n      port: 1\n")
        )
    assert "98765432101" not in str(caught.value)
