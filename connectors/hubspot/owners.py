"""Owners: ``hubspot_owner_id`` ⇄ the owner's email, through the owners API.

``GET /crm/v3/owners/`` (scope ``crm.objects.owners.read``) pages the portal's owners, each with its
``id`` (the value of ``hubspot_owner_id``) and ``email``. The hub links owners to Employees by email,
so reads add the owner's email beside the id and writes turn an email back into an id.

The directory is loaded once per connector and reloaded (at most once per read or write batch) when
an id or email it does not know turns up. When the API is unavailable (a portal without the scope,
or an API that lacks the endpoint), the directory says so once and owners are left out: the rest of
the record is still read and written.
"""

from __future__ import annotations

from connectors.hubspot.client import HubSpotClient, RequestRejected
from hub.errors import AuthError, FatalError


class OwnerDirectory:
    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self.unavailable: str | None = None
        self._email_by_id: dict[str, str] = {}
        self._id_by_email: dict[str, str] = {}
        self._loaded = False
        self._reload_allowed = True

    def allow_reload(self) -> None:
        """Called at the start of each read or write: one reload each, when something is unknown."""
        self._reload_allowed = True

    def _load(self) -> None:
        email_by_id: dict[str, str] = {}
        after: str | None = None
        try:
            while True:
                owners, after = self.client.owners_page(after)
                for owner in owners:
                    if owner.id and owner.email:
                        email_by_id[str(owner.id)] = str(owner.email).strip().lower()
                if after is None:
                    break
        except AuthError:
            raise
        except (RequestRejected, FatalError) as exc:
            self.unavailable = f"owners cannot be read ({exc}); owner emails are left out"
            return
        self._email_by_id = email_by_id
        self._id_by_email = {email: owner_id for owner_id, email in email_by_id.items()}
        self._loaded = True
        self._reload_allowed = False

    def _ensure(self, known: bool) -> bool:
        if self.unavailable is not None:
            return False
        if not self._loaded or (not known and self._reload_allowed):
            self._load()
        return self.unavailable is None

    def email_for(self, owner_id: str) -> str | None:
        if not owner_id or not self._ensure(owner_id in self._email_by_id):
            return None
        return self._email_by_id.get(owner_id)

    def id_for(self, email: str) -> str | None:
        key = email.strip().lower()
        if not key or not self._ensure(key in self._id_by_email):
            return None
        return self._id_by_email.get(key)
