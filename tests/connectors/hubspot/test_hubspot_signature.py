"""Webhook signatures against HubSpot's published vectors (apis.md §2.9) and the client library."""

from __future__ import annotations

from hubspot.utils.signature import Signature

from connectors.hubspot.signature import (
    decode_uri_for_signature,
    sign_v1,
    sign_v2,
    sign_v3,
    verify_v1,
    verify_v2,
    verify_v3,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
V1_BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    '"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)


def test_v1_official_vector() -> None:
    expected = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert sign_v1(SECRET, V1_BODY) == expected
    assert sign_v1(SECRET, V1_BODY.encode()) == expected
    assert verify_v1(SECRET, V1_BODY, expected.upper())
    assert not verify_v1(SECRET, V1_BODY + " ", expected)


def test_v2_official_vector() -> None:
    expected = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert sign_v2(SECRET, "GET", "https://www.example.com/webhook_uri", "") == expected
    assert verify_v2(SECRET, "GET", "https://www.example.com/webhook_uri", "", expected)
    assert not verify_v2(SECRET, "POST", "https://www.example.com/webhook_uri", "", expected)


def test_v3_vector_and_agreement_with_the_client_library() -> None:
    expected = "qXdL4DMjbTChjEauec7sQP4IcfqN2HQ2RluYdqUfT6k="
    assert sign_v3("secret", "POST", "https://example.com/webhook", '{"a":1}', 1700000000000) == (
        expected
    )
    library = Signature.get_signature(
        "secret",
        '{"a":1}',
        "v3",
        http_uri="https://example.com/webhook",
        http_method="POST",
        timestamp=1700000000000,
    )
    assert library == expected


def test_verify_v3_checks_freshness_and_content() -> None:
    ts = 1_700_000_000_000
    sig = sign_v3("s3", "POST", "https://hub.example/hooks/hubspot", b"[]", ts)
    assert verify_v3("s3", "POST", "https://hub.example/hooks/hubspot", b"[]", ts, sig, now_ms=ts)
    fresh_enough = ts + 299_000
    assert verify_v3(
        "s3", "POST", "https://hub.example/hooks/hubspot", "[]", str(ts), sig, now_ms=fresh_enough
    )
    assert not verify_v3(
        "s3", "POST", "https://hub.example/hooks/hubspot", "[]", ts, sig, now_ms=ts + 300_001
    )
    assert not verify_v3(
        "s3", "POST", "https://hub.example/hooks/hubspot", "[ ]", ts, sig, now_ms=ts
    )
    assert not verify_v3(
        "other", "POST", "https://hub.example/hooks/hubspot", "[]", ts, sig, now_ms=ts
    )
    assert not verify_v3(
        "s3", "POST", "https://hub.example/hooks/hubspot", "[]", "x", sig, now_ms=ts
    )


def test_v3_decodes_the_escapes_hubspot_lists_before_hashing() -> None:
    encoded = "https://hub.example/hooks%3Fa%3Db%2Cc%40d%2a"
    assert decode_uri_for_signature(encoded) == "https://hub.example/hooks?a%3Db,c@d*"
    ts = 1_700_000_000_000
    signed_encoded = sign_v3("k", "POST", encoded, "{}", ts)
    assert signed_encoded == sign_v3("k", "POST", "https://hub.example/hooks?a%3Db,c@d*", "{}", ts)
    assert verify_v3("k", "post", encoded, "{}", ts, signed_encoded, now_ms=ts)
