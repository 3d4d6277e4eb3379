"""Typed settings of a Salesforce system: how to log in, which objects and fields, how hard to retry.

Secrets (``password``, ``security_token``, ``consumer_key``, ``consumer_secret``, ``session_id``)
come from the system's ``secrets`` and are held as ``SecretStr``, so no repr, log or error shows
them; the factory refuses them under ``options``. Login flows (README "Auth set-up"):

* ``client_credentials``: a connected app's consumer key/secret on the org's My Domain (recommended;
  the app's "Run As" user is the integration user);
* ``password``: OAuth username-password grant (key, secret, username, password + security token);
* ``soap``: SOAP ``login()`` with username, password and security token. Salesforce removed
  ``login()`` from API 65.0 and retires it in Summer '27 (SOAP API End-of-Life Policy), so this flow
  is refused with ``api_version`` 65.0 or later;
* ``session``: a ready access token and instance URL, with no way to refresh it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

AuthFlow = Literal["client_credentials", "password", "soap", "session"]

SECRET_KEYS = ("password", "security_token", "consumer_key", "consumer_secret", "session_id")
DEFAULT_EXTERNAL_ID_FIELD = "Huitong_Id__c"
# sObject Collections upsert by external id needs API 46.0 (REST API guide, apis.md §1.4 [D]).
MIN_API_VERSION = 46.0
# SOAP login() is not available from API 65.0 (SOAP API End-of-Life Policy [D]).
SOAP_LOGIN_LAST_VERSION = 64.0
# Read on every query whatever the configuration says: the cursor and tombstones depend on them.
SYSTEM_FIELDS = ("Id", "SystemModstamp", "IsDeleted")

ACCOUNT_FIELDS = (
    "Name",
    "AccountNumber",
    "Website",
    "Phone",
    "Industry",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "OwnerId",
    "Owner.Email",
    "MasterRecordId",
    "LastModifiedDate",
    DEFAULT_EXTERNAL_ID_FIELD,
)
CONTACT_FIELDS = (
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "Department",
    "AccountId",
    "Account.Name",
    "MailingStreet",
    "MailingCity",
    "MailingState",
    "MailingPostalCode",
    "MailingCountry",
    "OwnerId",
    "Owner.Email",
    "MasterRecordId",
    "LastModifiedDate",
    DEFAULT_EXTERNAL_ID_FIELD,
)

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


class SalesforceObjectSettings(BaseModel):
    """One sObject the hub reads and writes: the fields read (parent paths such as ``Owner.Email``
    allowed) and, optionally, its own external id field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: tuple[str, ...]
    external_id_field: str | None = None

    @field_validator("fields")
    @classmethod
    def _api_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = [name.strip() for name in value]
        bad = [name for name in cleaned if not _API_NAME.match(name)]
        if bad:
            raise ValueError(f"not Salesforce field names: {', '.join(map(repr, bad))}")
        lowered = {name.lower() for name in SYSTEM_FIELDS}
        return tuple(dict.fromkeys(name for name in cleaned if name.lower() not in lowered))


def default_objects() -> dict[str, SalesforceObjectSettings]:
    return {
        "Account": SalesforceObjectSettings(fields=ACCOUNT_FIELDS),
        "Contact": SalesforceObjectSettings(fields=CONTACT_FIELDS),
    }


class SalesforceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: AuthFlow
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    session_id: SecretStr | None = None
    # ``login`` (production), ``test`` (sandbox) or the My Domain (``acme.my``; a full host such
    # as ``acme.my.salesforce.com`` is accepted and shortened).
    domain: str = "login"
    instance_url: str | None = None  # only for auth: session
    api_version: str = "59.0"
    objects: dict[str, SalesforceObjectSettings] = Field(default_factory=default_objects)
    # A custom External ID + Unique text field on every written object, holding the canonical id.
    external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD
    # Re-read this far behind the cursor: a transaction's SystemModstamp is set before it commits,
    # so a long transaction's rows appear after later ones were already read.
    overlap_seconds: float = Field(default=300.0, ge=0)
    # (Id, SystemModstamp) pairs remembered in the cursor to skip what the overlap re-reads.
    dedup_memory: int = Field(default=2000, ge=0, le=20_000)
    # A cursor is emitted every this many records (and on the last one).
    checkpoint_every: int = Field(default=500, ge=1)
    # Ask getDeleted as well when the read window starts longer ago than this: records emptied
    # from the Recycle Bin drop out of queryAll but stay in the delete log (~15 days).
    get_deleted_after_seconds: float = Field(default=3600.0, ge=0)
    query_batch_size: int = Field(default=2000, ge=200, le=2000)
    timeout_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)
    retry_initial_seconds: float = Field(default=1.0, gt=0)
    retry_cap_seconds: float = Field(default=60.0, gt=0)
    # Test switch: False removes every retry wait (the retries still happen).
    retry_waits: bool = True
    # Keep this share of the org's daily API allowance for people and other integrations.
    daily_reserve: float = Field(default=0.1, ge=0, lt=1)
    # Requests in flight at once, per system. Salesforce refuses more than 25 concurrent
    # long-running (>= 20 s) requests in production, 5 in Developer Edition (limits cheat sheet).
    max_concurrent_requests: int = Field(default=5, ge=1, le=25)
    # Salesforce deletes an account's contacts with it: refuse such a delete unless this is true.
    delete_accounts_with_contacts: bool = False
    # A hub merge (a delete with ``merged_into``): ``flag`` moves the synced children and leaves the
    # merged-away record for a person to merge in Salesforce; ``delete`` moves them and deletes it.
    merge_mode: Literal["flag", "delete"] = "flag"
    # Proxies for every request, e.g. {"https": "http://proxy.corp:3128"}.
    proxies: dict[str, str] | None = None

    @field_validator("domain")
    @classmethod
    def _short_domain(cls, value: str) -> str:
        value = value.strip().lower().removeprefix("https://").rstrip("/")
        value = value.removesuffix(".salesforce.com")
        if not value or not re.fullmatch(r"[a-z0-9.-]+", value):
            raise ValueError("domain is login, test or the My Domain such as acme.my")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip().lstrip("vV")
        if not re.fullmatch(r"\d{2,3}\.0", value):
            raise ValueError("api_version looks like 59.0 (no leading v)")
        if float(value) < MIN_API_VERSION:
            raise ValueError(
                f"api_version must be {MIN_API_VERSION} or later (sObject Collections upsert)"
            )
        return value

    @field_validator("external_id_field")
    @classmethod
    def _external_id_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value.strip()):
            raise ValueError("not a Salesforce field name")
        return value.strip()

    @model_validator(mode="after")
    def _flow_has_what_it_needs(self) -> SalesforceSettings:
        needed: dict[str, tuple[str, ...]] = {
            "client_credentials": ("consumer_key", "consumer_secret"),
            "password": ("username", "password", "consumer_key", "consumer_secret"),
            "soap": ("username", "password"),
            "session": ("session_id", "instance_url"),
        }
        missing = [name for name in needed[self.auth] if not _given(getattr(self, name))]
        if missing:
            raise ValueError(f"auth {self.auth} needs {', '.join(missing)}")
        if self.auth == "client_credentials" and self.domain in ("login", "test"):
            raise ValueError(
                "auth client_credentials needs domain set to the org's My Domain (acme.my): "
                "Salesforce serves this flow only there"
            )
        if self.auth == "soap" and float(self.api_version) > SOAP_LOGIN_LAST_VERSION:
            raise ValueError(
                "SOAP login() is not available from API 65.0; use auth client_credentials"
            )
        if not self.objects:
            raise ValueError("configure at least one object")
        return self

    def object_settings(self, obj: str) -> SalesforceObjectSettings:
        try:
            return self.objects[obj]
        except KeyError:
            known = ", ".join(sorted(self.objects))
            raise KeyError(f"object {obj!r} is not configured (configured: {known})") from None

    def external_id_of(self, obj: str) -> str:
        return self.object_settings(obj).external_id_field or self.external_id_field

    def read_fields(self, obj: str) -> list[str]:
        """Every field a read selects: the system fields first, then the configured ones."""
        return [*SYSTEM_FIELDS, *self.object_settings(obj).fields]

    def secret_values(self) -> list[str]:
        """The secrets' plain values, to scrub from any text that leaves the connector."""
        values = []
        for name in SECRET_KEYS:
            secret = getattr(self, name)
            if secret is not None and len(secret.get_secret_value()) >= 4:
                values.append(secret.get_secret_value())
        return values


def _given(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return value is not None and value != ""
