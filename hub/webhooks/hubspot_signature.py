"""HubSpot webhook request signatures (v1, v2, v3), shared by the emulator and the webhook receiver.

Sources:
* https://developers.hubspot.com/docs/api/webhooks/validating-requests (v1/v2/v3 definitions and the
  official v1/v2 test vectors, checked in tests/connectors/hubspot/test_signature.py);
* changelog "Introducing version 3 of webhook signatures" (HMAC-SHA256, base64, 5-minute window);
* hubspot-api-client 12.0.0 ``hubspot/utils/signature.py`` (same algorithms, ms timestamps).

v3 covers ``method + uri + body + timestamp``. HubSpot tells receivers to URL-decode a fixed list of
escapes in the URI before hashing; ``sign_v3`` applies the same decoding, so the emulator signs
exactly what a conforming receiver recomputes (the client library helper does not decode: see
apis.md §0.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

# The escapes HubSpot's v3 guide lists for decoding before hashing (apis.md §2.9).
_DECODED_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}

MAX_TIMESTAMP_AGE_MS = 300_000  # "reject the request if the timestamp is older than 5 minutes"


def _as_text(body: str | bytes) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else body


def decode_uri_for_signature(uri: str) -> str:
    """Decode the escapes HubSpot decodes before hashing (case-insensitive hex), leaving others."""
    out: list[str] = []
    i = 0
    while i < len(uri):
        chunk = uri[i : i + 3].upper()
        if uri[i] == "%" and chunk in _DECODED_ESCAPES:
            out.append(_DECODED_ESCAPES[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v1(client_secret: str, body: str | bytes) -> str:
    """v1: hex(SHA-256(client_secret + body))."""
    return hashlib.sha256((client_secret + _as_text(body)).encode("utf-8")).hexdigest()


def sign_v2(client_secret: str, method: str, uri: str, body: str | bytes) -> str:
    """v2: hex(SHA-256(client_secret + method + uri + body))."""
    source = client_secret + method.upper() + uri + _as_text(body)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def sign_v3(client_secret: str, method: str, uri: str, body: str | bytes, timestamp_ms: int) -> str:
    """v3: base64(HMAC-SHA256(key=client_secret, method + decoded uri + body + timestamp))."""
    message = method.upper() + decode_uri_for_signature(uri) + _as_text(body) + str(timestamp_ms)
    digest = hmac.new(client_secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def verify_v3(
    client_secret: str,
    method: str,
    uri: str,
    body: str | bytes,
    timestamp_ms: int | str,
    signature: str,
    *,
    now_ms: int | None = None,
    max_age_ms: int = MAX_TIMESTAMP_AGE_MS,
) -> bool:
    """True when ``signature`` is the v3 signature of the request and the timestamp is fresh.

    Stale timestamps (older than ``max_age_ms``) are rejected as HubSpot prescribes; the
    comparison is
    constant-time. A timestamp that is not an integer is simply invalid.
    """
    try:
        ts = int(timestamp_ms)
    except (TypeError, ValueError):
        return False
    current = int(time.time() * 1000) if now_ms is None else now_ms
    if current - ts > max_age_ms:
        return False
    expected = sign_v3(client_secret, method, uri, body, ts)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))


def verify_v1(client_secret: str, body: str | bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_v1(client_secret, body), signature.lower())


def verify_v2(client_secret: str, method: str, uri: str, body: str | bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_v2(client_secret, method, uri, body), signature.lower())
