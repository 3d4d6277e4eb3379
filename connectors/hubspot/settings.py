"""Typed settings of a HubSpot system: the token, where the API is, which objects and properties,
how reads are windowed, how hard to retry and how fast to go.

The token is a private-app access token (``pat-na1-...``), given as the system's secret ``token``;
it is held as a ``SecretStr`` so no repr, log or error shows it. Everything else comes from the
system's ``options``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_BASE_URL = "https://api.hubapi.com"

# The property each object's last change is read from. Contacts carry both names; HubSpot's search
# guide filters contacts on ``lastmodifieddate`` and every other object on ``hs_lastmodifieddate``
# (apis.md §2.2).
DEFAULT_MODIFIED_PROPERTY = {"contacts": "lastmodifieddate"}
FALLBACK_MODIFIED_PROPERTY = "hs_lastmodifieddate"

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "company",
    "jobtitle",
    "website",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "lifecyclestage",
    "hubspot_owner_id",
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "hs_object_id",
)

COMPANY_PROPERTIES = (
    "name",
    "domain",
    "website",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "industry",
    "description",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
)


class HubSpotObjectSettings(BaseModel):
    """One HubSpot object the hub reads and writes.

    ``associations`` maps an associated object type to the field that carries its HubSpot id in
    this object's records, both ways: reads put the (primary) associated id there, writes that
    carry it create the association. ``contacts`` default to ``{companies: associatedcompanyid}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    object_type: str | None = None  # the API's name when the key differs ("0-1", a custom object)
    properties: tuple[str, ...] = ()
    modified_property: str | None = None
    associations: dict[str, str] = {}
    # The association type written (HUBSPOT_DEFINED): 1 = the contact's primary company.
    association_type_ids: dict[str, int] = {}

    @field_validator("properties")
    @classmethod
    def _no_blank_properties(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in value):
            raise ValueError("property names must not be empty")
        return tuple(dict.fromkeys(p.strip() for p in value))

    @model_validator(mode="after")
    def _types_for_associations(self) -> HubSpotObjectSettings:
        missing = sorted(set(self.associations) - set(self.association_type_ids))
        if missing:
            raise ValueError(
                f"association_type_ids needs the HUBSPOT_DEFINED type id written for {missing} "
                "(contact→company: 1 primary, 279 unlabeled)"
            )
        return self


def default_objects() -> dict[str, HubSpotObjectSettings]:
    return {
        "contacts": HubSpotObjectSettings(
            properties=CONTACT_PROPERTIES,
            associations={"companies": "associatedcompanyid"},
            association_type_ids={"companies": 1},
        ),
        "companies": HubSpotObjectSettings(properties=COMPANY_PROPERTIES),
    }


class RateSettings(BaseModel):
    """HubSpot's published limits for private apps (API usage guidelines; changelog "Increasing our
    API limits"): Free/Starter 100 requests per 10 s and 250,000 a day, Professional/Enterprise 190
    per 10 s and 650,000 / 1,000,000 a day; CRM search 4 requests per second per token (changelog
    "Burst limits are increasing..."). The defaults are the lowest tier; the pacer adopts whatever
    the ``X-HubSpot-RateLimit-*`` headers announce."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst_max: int = Field(default=100, ge=1)
    interval_seconds: float = Field(default=10.0, gt=0)
    daily_max: int = Field(default=250_000, ge=1)
    search_per_second: int = Field(default=4, ge=1)
    # Keep this share of the burst budget for other users of the same token (other workers).
    headroom: float = Field(default=0.9, gt=0, le=1)


class HubSpotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr
    base_url: str = DEFAULT_BASE_URL
    objects: dict[str, HubSpotObjectSettings] = Field(default_factory=default_objects)
    # A custom unique-value property holding the hub's canonical id: what upserts key on.
    id_property: str = "huitong_id"
    # Search pages (at most 200) and list pages (at most 100).
    search_page_size: int = Field(default=200, ge=1, le=200)
    list_page_size: int = Field(default=100, ge=1, le=100)
    # Search results lag writes (issue reports: up to ~30 s); the cursor never passes
    # "read start − lag", so a late-indexed change is read by the next poll.
    index_lag_seconds: float = Field(default=60.0, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)
    retry_initial_seconds: float = Field(default=0.5, gt=0)
    retry_cap_seconds: float = Field(default=30.0, gt=0)
    # Test switch: False removes every retry wait (the retries still happen).
    retry_waits: bool = True
    rate: RateSettings = Field(default_factory=RateSettings)
    # Resolve hubspot_owner_id ⇄ owner email through the owners API (scope crm.objects.owners.read).
    resolve_owners: bool = True
    owner_email_field: str = "hubspot_owner_email"
    # Archived records are listed in full (the API cannot filter them by date): on every read, on
    # full reads only (deletes then arrive with the nightly full sync or by webhook), or never.
    tombstones: Literal["every_read", "full_reads", "off"] = "every_read"
    # Remember each record's associated ids as read or written, so a write that repeats an
    # association HubSpot already holds costs no call.
    remember_associations: bool = True

    @field_validator("base_url")
    @classmethod
    def _clean_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")  # the client joins host + path: no trailing slash
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

    @field_validator("token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the token is empty")
        return value

    @model_validator(mode="after")
    def _some_objects(self) -> HubSpotSettings:
        if not self.objects:
            raise ValueError("configure at least one object")
        return self

    def object_settings(self, obj: str) -> HubSpotObjectSettings:
        try:
            return self.objects[obj]
        except KeyError:
            known = ", ".join(sorted(self.objects))
            raise KeyError(f"object {obj!r} is not configured (configured: {known})") from None

    def api_type(self, obj: str) -> str:
        return self.object_settings(obj).object_type or obj

    def modified_property(self, obj: str) -> str:
        configured = self.object_settings(obj).modified_property
        if configured:
            return configured
        return DEFAULT_MODIFIED_PROPERTY.get(self.api_type(obj), FALLBACK_MODIFIED_PROPERTY)

    def read_properties(self, obj: str) -> list[str]:
        """The properties asked for on every read: the configured ones plus what the connector
        itself needs (the modified property, the id property, the owner)."""
        configured = list(self.object_settings(obj).properties)
        needed = [self.modified_property(obj), self.id_property, "hs_object_id"]
        if self.resolve_owners:
            needed.append("hubspot_owner_id")
        return list(dict.fromkeys([*configured, *needed]))
