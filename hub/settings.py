"""Typed, layered, read-only configuration.

One YAML file describes the hub, its systems (connector kind, options, secrets, objects and their
mappings), survivorship rules, custom fields and schedules. Values may reference the environment or a
secret file: ``${HUBSPOT_TOKEN}``, ``${HUBSPOT_TOKEN:-default}``, ``${file:/run/secrets/token}``.
Every problem is reported with the file, the line, the key path and what was expected; a secret's
value is never part of a message (``SecretStr`` everywhere, references resolved after the YAML is read).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.errors import ConfigError
from hub.model import ENTITY_MODELS, CustomFieldType, EntityType

if TYPE_CHECKING:
    from hub.identity.scorer import EntityMatchConfig

RuleName = Literal["priority", "latest", "most_complete", "most_frequent"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SurvivorshipRule(Strict):
    rule: RuleName = "priority"
    systems: list[str] = []


class SurvivorshipSettings(Strict):
    """``default`` applies to every field; ``fields`` overrides per ``Entity.field`` (or ``field``)."""

    default: SurvivorshipRule = SurvivorshipRule()
    fields: dict[str, SurvivorshipRule] = {}

    def rule_for(self, entity: EntityType, field_name: str) -> SurvivorshipRule:
        return (
            self.fields.get(f"{entity.value}.{field_name}")
            or self.fields.get(field_name)
            or self.default
        )


class SameAsSettings(Strict):
    """A column that carries the id of the same customer's record in another system (a HubSpot
    contact's Salesforce id, an ERP partner's CRM id): the strongest evidence there is."""

    field: str = Field(description="the column (source field) holding the other system's id")
    system: str = Field(description="the configured system that id belongs to")
    object: str = Field(description="that system's object")
    transform: str | None = Field(default=None, description="e.g. salesforce_id18")


class ObjectSettings(Strict):
    """One object of one system: which mapping spec reads and writes it."""

    mapping: str = Field(description="a mapping file (relative to the config) or a built-in name")
    enabled: bool = True
    direction: Literal["read", "write", "both"] = "read"
    same_as: list[SameAsSettings] = []


WebhookScheme = Literal[
    "hubspot_v3",
    "salesforce_outbound",
    "salesforce_cdc_hmac",
    "hmac_sha256",
    "dingtalk",
    "wecom",
    "feishu",
]


def _check_base_url(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
        raise ValueError("an http(s) URL without query, such as https://hub.example.com")
    return value.rstrip("/") if value else value


# What each scheme cannot work without (the rest is optional); checked when the file is loaded.
_WEBHOOK_REQUIRED: dict[str, tuple[str, ...]] = {
    "hubspot_v3": ("secret",),  # the app's client secret
    "salesforce_outbound": ("organization_id",),  # outbound messages are not signed
    "salesforce_cdc_hmac": ("secret",),  # the relay's HMAC key
    "hmac_sha256": ("secret",),
    "dingtalk": ("secret", "aes_key", "receive_id"),  # token, EncodingAESKey, corpId/appKey
    "wecom": ("secret", "aes_key", "receive_id"),  # token, EncodingAESKey, corpid
    "feishu": (),  # an Encrypt Key (secret) or a verification token, checked below
}


class WebhookSettings(Strict):
    """How one system calls the hub back: the signature scheme and its keys.

    ``secret`` is the scheme's key (HubSpot client secret, HMAC key, DingTalk/WeCom callback token,
    Feishu Encrypt Key). ``public_base_url`` is the address the sender was given, up to the path the
    hub sees (``https://hub.example.com``, or ``https://example.com/huitong`` behind a proxy that
    strips ``/huitong``): HubSpot signs the full URL it called, which the hub cannot see behind a
    proxy. ``allowed_networks`` restricts callers by address (CIDR), for senders that sign nothing.
    """

    scheme: WebhookScheme
    secret: SecretStr | None = None
    path: str | None = Field(default=None, description="default /webhooks/<system>")
    public_base_url: str | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0, le=64 * 1_048_576)
    timestamp_tolerance_seconds: int = Field(default=300, gt=0, le=86_400)
    organization_id: str | None = None
    aes_key: SecretStr | None = None
    receive_id: str | None = None
    verification_token: SecretStr | None = None
    allowed_networks: list[str] = []

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"/[A-Za-z0-9._~/-]*", value):
            raise ValueError("an absolute URL path such as /webhooks/crm")
        if value in ("/healthz", "/readyz", "/metrics"):
            raise ValueError(f"{value} is the server's own endpoint")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        return _check_base_url(value)

    @field_validator("secret", "aes_key", "verification_token", mode="before")
    @classmethod
    def _secret_as_text(cls, value: Any) -> Any:
        # YAML reads an all-digit token as a number; taken as text it never reaches an error
        # message (messages echo short scalars).
        return str(value) if isinstance(value, int | float) else value

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"{network!r} is not an IP network such as 13.108.0.0/14"
                ) from None
        return value

    @model_validator(mode="after")
    def _scheme_needs(self) -> WebhookSettings:
        missing = [name for name in _WEBHOOK_REQUIRED[self.scheme] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"scheme {self.scheme} needs {', '.join(missing)}")
        if self.scheme == "feishu" and self.secret is None and self.verification_token is None:
            raise ValueError("scheme feishu needs secret (the Encrypt Key) or verification_token")
        if self.aes_key is not None and len(self.aes_key.get_secret_value()) != 43:
            raise ValueError("aes_key is the 43-character EncodingAESKey shown by the platform")
        if self.organization_id is not None and len(self.organization_id) not in (15, 18):
            raise ValueError("organization_id is a 15- or 18-character Salesforce id (00D...)")
        return self


class SystemSettings(Strict):
    kind: str
    options: dict[str, Any] = {}
    secrets: dict[str, SecretStr] = {}
    objects: dict[str, ObjectSettings] = {}
    webhook: WebhookSettings | None = None


class ScheduleSettings(Strict):
    job: Literal["incremental", "full", "reconcile"] = "incremental"
    systems: list[str] = []
    cron: str | None = None
    interval_seconds: int | None = Field(default=None, gt=0)
    timezone: str = "Asia/Shanghai"


class MatchSettings(Strict):
    """Probabilistic matching (``hub/identity/``): the two thresholds, as probabilities, and per
    entity type which fields are compared and how (``hub.identity.scorer.EntityMatchConfig``:
    ``comparisons``, ``blocking``, ``strong_keys``, ...). A type not given uses its defaults; the
    thresholds given here apply to every type."""

    link_threshold: float | None = Field(default=None, gt=0, lt=1)
    review_threshold: float | None = Field(default=None, gt=0, lt=1)
    person: dict[str, Any] | None = None
    company: dict[str, Any] | None = None
    employee: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _sound(self) -> MatchSettings:
        for entity in EntityType:
            override = getattr(self, entity.value.lower())
            if override is not None or self.link_threshold or self.review_threshold:
                self.for_entity(entity)
        return self

    def for_entity(self, entity: EntityType) -> EntityMatchConfig:
        from hub.identity import scorer  # numpy and the comparators: only when matching is used

        override = getattr(self, entity.value.lower())
        try:
            config = (
                scorer.EntityMatchConfig.model_validate(override)
                if override is not None
                else scorer.MatchConfig().for_entity(entity)
            )
        except ValidationError as exc:
            raise ValueError(
                "; ".join(
                    f"{entity.value.lower()}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in exc.errors()
                )
            ) from None
        update = {
            name: value
            for name, value in (("link", self.link_threshold), ("review", self.review_threshold))
            if value is not None
        }
        if update:
            config = config.model_copy(update=update)
        if config.review > config.link:
            raise ValueError(
                f"review threshold {config.review} is above the link threshold {config.link}"
            )
        return config


class HubSettings(Strict):
    database_url: str = "sqlite:///huitong.db"
    default_region: str = "CN"
    timezone: str = "Asia/Shanghai"
    batch_size: int = Field(default=2000, gt=0, le=100_000)
    # Processes that parse and normalise records while the main one matches and writes; 0 maps
    # in-process (best for small, frequent incremental runs).
    map_workers: int = Field(default=0, ge=0, le=64)
    # Consecutive batches of a sync share one transaction until it holds this many records or has
    # been open this long: fewer commits write far less on a large import (each commit writes every
    # index page its batches touched), while other writers wait for the open one (SQLite has one
    # writer at a time; on PostgreSQL the audit chain has one appender at a time).
    # One second at most by default: a webhook delivery's insert, or a worker's apply, waits that
    # long at worst while an import holds the transaction (a sender such as HubSpot gives up
    # after a few seconds).
    transaction_records: int = Field(default=50_000, gt=0, le=1_000_000)
    transaction_seconds: float = Field(default=1.0, gt=0, le=600)
    # How long a dispatcher may hold claimed writes before another one takes them over (a dead
    # dispatcher's claims come back after this); longer than the slowest batch with its retries.
    write_lease_seconds: float = Field(default=120.0, gt=0)
    write_max_attempts: int = Field(default=8, ge=1, le=100)

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("a two-letter ISO 3166-1 region such as CN or US")
        return value.upper()


class ServerSettings(Strict):
    """``huitong serve``: where the webhook receiver (and /healthz, /readyz, /metrics) listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65_535)
    public_base_url: str | None = Field(default=None, description="default for every webhook")

    @field_validator("public_base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        return _check_base_url(value)


class Settings(Strict):
    hub: HubSettings = HubSettings()
    server: ServerSettings = ServerSettings()
    systems: dict[str, SystemSettings] = {}
    survivorship: SurvivorshipSettings = SurvivorshipSettings()
    match: MatchSettings = MatchSettings()
    custom_fields: dict[EntityType, dict[str, CustomFieldType]] = {}
    schedules: dict[str, ScheduleSettings] = {}

    @field_validator("systems")
    @classmethod
    def _system_names(cls, value: dict[str, SystemSettings]) -> dict[str, SystemSettings]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
                raise ValueError(f"system name {name!r}: lower-case letters, digits, '-' and '_'")
        return value

    @field_validator("custom_fields")
    @classmethod
    def _custom_not_builtin(
        cls, value: dict[EntityType, dict[str, CustomFieldType]]
    ) -> dict[EntityType, dict[str, CustomFieldType]]:
        for entity, fields in value.items():
            clash = set(fields) & set(ENTITY_MODELS[entity].field_names())
            if clash:
                raise ValueError(
                    f"{entity.value} custom fields shadow built-in fields: {sorted(clash)}"
                )
        return value

    @model_validator(mode="after")
    def _same_as_targets(self) -> Settings:
        for name, system in self.systems.items():
            for obj, settings in system.objects.items():
                for i, hint in enumerate(settings.same_as):
                    where = f"systems.{name}.objects.{obj}.same_as.{i}"
                    target = self.systems.get(hint.system)
                    if target is None:
                        raise ValueError(f"{where}.system: no system {hint.system!r} is configured")
                    if hint.object not in target.objects:
                        raise ValueError(
                            f"{where}.object: system {hint.system!r} has no object {hint.object!r}"
                        )
        return self

    def named_by_others(self) -> frozenset[tuple[str, str]]:
        """(system, object) pairs whose ids some object carries (``same_as``)."""
        return frozenset(
            (hint.system, hint.object)
            for system in self.systems.values()
            for settings in system.objects.values()
            for hint in settings.same_as
        )

    def system_priority(self) -> list[str]:
        """The default source order: the survivorship default's systems, then the rest as declared."""
        ordered = list(self.survivorship.default.systems)
        return ordered + [s for s in self.systems if s not in ordered]


# --- loading ------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines: dict[Any, int] = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    return _LinedDict(mapping, lines)


class _LinedDict(dict[Any, Any]):
    def __init__(self, data: Mapping[Any, Any], lines: dict[Any, int]) -> None:
        super().__init__(data)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    line = None
    node = data
    for part in loc:
        if isinstance(node, _LinedDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


class _Unresolved(Exception):
    pass


def _resolve_reference(expr: str, base: Path) -> str:
    if expr.startswith("file:"):
        path = Path(expr[5:]).expanduser()
        if not path.is_absolute():
            path = base / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _Unresolved(f"secret file {path} cannot be read ({exc.strerror})") from None
    name, _, default = expr.partition(":-")
    if name in os.environ:
        return os.environ[name]
    if ":-" in expr:
        return default
    raise _Unresolved(f"environment variable {name} is not set")


def _resolve(
    value: Any, base: Path, path: tuple[str | int, ...], problems: list[str], data: Any
) -> Any:
    if isinstance(value, dict):
        resolved = {k: _resolve(v, base, (*path, k), problems, data) for k, v in value.items()}
        return _LinedDict(resolved, value.lines) if isinstance(value, _LinedDict) else resolved
    if isinstance(value, list):
        return [_resolve(v, base, (*path, i), problems, data) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def substitute(match: re.Match[str]) -> str:
            try:
                return _resolve_reference(match.group(1).strip(), base)
            except _Unresolved as exc:
                line = _line_of(data, path)
                where = f"line {line}, " if line else ""
                problems.append(f"{where}{_dotted(path)}: {exc}")
                return ""

        return _REFERENCE.sub(substitute, value)
    return value


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def parse_settings(text: str, source: str = "<string>", base: Path | None = None) -> Settings:
    base = base or Path.cwd()
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            f"{where}not valid YAML ({getattr(exc, 'problem', exc)})", source
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping (hub:, systems:, ...)", source)
    problems: list[str] = []
    resolved = _resolve(data, base, (), problems, data)
    if problems:
        raise ConfigError(problems, source)
    try:
        return Settings.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError([_describe(err, data) for err in exc.errors()], source) from None


def _describe(error: Any, data: Any) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    line = _line_of(data, loc)
    where = f"line {line}, " if line else ""
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    # The input is echoed only for short non-secret scalars, so a secret cannot leak into a message.
    shown = ""
    value = error.get("input")
    is_secret = any(str(p) == "secrets" for p in loc)
    if not is_secret and isinstance(value, str | int | float | bool) and len(str(value)) <= 60:
        shown = f" (got {value!r})"
    return f"{where}{_dotted(loc)}: {message}{shown}"


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist (create one with `huitong init`)") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror})") from None
    return parse_settings(text, str(path), path.parent)
