"""HubSpot's request signatures (v1, v2, v3). The functions live in the hub, which verifies incoming
webhooks without importing any connector; the emulator signs its deliveries with the same code."""

from hub.webhooks.hubspot_signature import (
    decode_uri_for_signature,
    sign_v1,
    sign_v2,
    sign_v3,
    verify_v1,
    verify_v2,
    verify_v3,
)

__all__ = [
    "decode_uri_for_signature",
    "sign_v1",
    "sign_v2",
    "sign_v3",
    "verify_v1",
    "verify_v2",
    "verify_v3",
]
