"""Webhooks: verify each system's signature, store the delivery in the inbox, reply.

``create_app`` (``hub.webhooks.receiver``) is the FastAPI app; ``InboxPort`` (``hub.webhooks.inbox``)
is what it needs from storage (``state.inbox.SqlInbox`` on the hub's database). The receiver is
imported on first use so a worker that only reads the inbox does not load the web stack.
"""

from __future__ import annotations

from typing import Any

from hub.webhooks.inbox import Delivery, InboxItem, InboxPort

__all__ = ["Delivery", "InboxItem", "InboxPort", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hub.webhooks.receiver import create_app

        return create_app
    raise AttributeError(name)
