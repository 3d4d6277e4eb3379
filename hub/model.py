"""The canonical customer model: Company, Person, Employee.

Values are normalised on the way in (email lower-cased and validated, phone in E.164 with the configured
default region, ISO 3166-1 country, validated Chinese unified social credit code, website → registrable
domain, names kept in their own script). The region comes from the validation context so one model serves
every deployment: ``Person.model_validate(data, context={"default_region": "CN"})``.

A model instance holds values only. The time each value last changed at its source travels beside it
(``Candidate.field_times``) and ends up on every golden value (``GoldenValue.changed_at``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator

from hub import normalize as n
from hub.ports import RecordRef


class EntityType(StrEnum):
    COMPANY = "Company"
    PERSON = "Person"
    EMPLOYEE = "Employee"


def _region(info: ValidationInfo) -> str:
    context = info.context or {}
    return str(context.get("default_region", "CN"))


def _tz(info: ValidationInfo) -> str:
    context = info.context or {}
    return str(context.get("timezone", "Asia/Shanghai"))


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _email(value: Any) -> str | None:
    text = _str_or_none(value)
    return n.normalize_email(text) if text is not None else None


def _phone(value: Any, info: ValidationInfo) -> str | None:
    text = _str_or_none(value)
    return n.normalize_phone(text, _region(info)) if text is not None else None


def _country(value: Any) -> str | None:
    text = _str_or_none(value)
    return n.normalize_country(text) if text is not None else None


def _credit_code(value: Any) -> str | None:
    text = _str_or_none(value)
    return n.normalize_credit_code(text) if text is not None else None


def _domain(value: Any) -> str | None:
    text = _str_or_none(value)
    return n.registrable_domain(text) if text is not None else None


def _text(value: Any) -> str | None:
    text = _str_or_none(value)
    return n.normalize_text(text) if text is not None else None


def _person_name(value: Any) -> str | None:
    text = _str_or_none(value)
    return n.normalize_person_name(text) if text is not None else None


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return n.parse_date(value)


Email = Annotated[str | None, BeforeValidator(_email)]
Phone = Annotated[str | None, BeforeValidator(_phone)]
Country = Annotated[str | None, BeforeValidator(_country)]
CreditCode = Annotated[str | None, BeforeValidator(_credit_code)]
Domain = Annotated[str | None, BeforeValidator(_domain)]
Text = Annotated[str | None, BeforeValidator(_text)]
PersonName = Annotated[str | None, BeforeValidator(_person_name)]
Day = Annotated[date | None, BeforeValidator(_date)]


class CustomFieldType(StrEnum):
    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    EMAIL = "email"
    PHONE = "phone"


def coerce_custom(kind: CustomFieldType, value: Any, region: str, tz: str) -> Any:
    """Type one custom field value as the configuration declares it (JSON-friendly result)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value if isinstance(value, str) else str(value)
    match kind:
        case CustomFieldType.TEXT:
            return n.normalize_text(text)
        case CustomFieldType.INT:
            return (
                value
                if isinstance(value, int) and not isinstance(value, bool)
                else n.parse_int(text)
            )
        case CustomFieldType.DECIMAL:
            parsed: Decimal | None = n.parse_decimal(text)
            return str(parsed) if parsed is not None else None
        case CustomFieldType.BOOL:
            return value if isinstance(value, bool) else n.parse_bool(text)
        case CustomFieldType.DATE:
            day = value if isinstance(value, date) else n.parse_date(text)
            return day.isoformat() if day else None
        case CustomFieldType.DATETIME:
            moment = n.parse_datetime(value if isinstance(value, datetime) else text, tz)
            return moment.isoformat() if moment else None
        case CustomFieldType.EMAIL:
            return n.normalize_email(text)
        case CustomFieldType.PHONE:
            return n.normalize_phone(text, region)
    raise AssertionError(kind)  # pragma: no cover - StrEnum is exhaustive


class CanonicalEntity(BaseModel):
    """Common base: normalised values only, unknown fields refused, custom fields typed by config."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, str_strip_whitespace=True)
    entity_type: ClassVar[EntityType]
    id_prefix: ClassVar[str]

    custom: dict[str, Any] = {}

    @classmethod
    def field_names(cls) -> list[str]:
        return [name for name in cls.model_fields if name != "custom"]

    @classmethod
    def complete(cls, values: dict[str, Any]) -> None:
        """What the model's after-validators derive from the validated ``values`` (in place)."""


class Company(CanonicalEntity):
    entity_type: ClassVar[EntityType] = EntityType.COMPANY
    id_prefix: ClassVar[str] = "cmp"

    name: Text = None
    credit_code: CreditCode = None
    tax_id: Text = None
    website: Text = None
    domain: Domain = None
    email: Email = None
    phone: Phone = None
    country: Country = None
    province: Text = None
    city: Text = None
    district: Text = None
    street: Text = None
    postcode: Text = None
    industry: Text = None
    founded: Day = None
    owner_email: Email = None

    @model_validator(mode="after")
    def _domain_from_website(self) -> Company:
        self.domain = _domain_or_website(self.domain, self.website)
        return self

    @classmethod
    def complete(cls, values: dict[str, Any]) -> None:
        domain = _domain_or_website(values.get("domain"), values.get("website"))
        if domain is not None:
            values["domain"] = domain


def _domain_or_website(domain: str | None, website: str | None) -> str | None:
    if domain is None and website:
        try:
            return n.registrable_domain(website)
        except n.InvalidValue:
            return None
    return domain


class Person(CanonicalEntity):
    entity_type: ClassVar[EntityType] = EntityType.PERSON
    id_prefix: ClassVar[str] = "per"

    full_name: PersonName = None
    first_name: PersonName = None
    last_name: PersonName = None
    email: Email = None
    email2: Email = None
    phone: Phone = None
    mobile: Phone = None
    title: Text = None
    company_name: Text = None
    company_id: str | None = None
    country: Country = None
    province: Text = None
    city: Text = None
    district: Text = None
    street: Text = None
    postcode: Text = None
    birth_date: Day = None
    owner_email: Email = None

    @model_validator(mode="after")
    def _names(self) -> Person:
        self.full_name, self.first_name, self.last_name = _complete_names(
            self.full_name, self.first_name, self.last_name
        )
        return self

    @classmethod
    def complete(cls, values: dict[str, Any]) -> None:
        names = _complete_names(
            values.get("full_name"), values.get("first_name"), values.get("last_name")
        )
        for name, value in zip(("full_name", "first_name", "last_name"), names, strict=True):
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value


def _complete_names(
    full: str | None, first: str | None, last: str | None
) -> tuple[str | None, str | None, str | None]:
    """The full name composed from its parts, or the parts split from the full name."""
    if full is None and (first or last):
        full = n.compose_person_name(first, last)
    elif full and first is None and last is None:
        first, last = n.split_person_name(full)
    return full, first, last


class Employee(CanonicalEntity):
    entity_type: ClassVar[EntityType] = EntityType.EMPLOYEE
    id_prefix: ClassVar[str] = "emp"

    full_name: PersonName = None
    email: Email = None
    phone: Phone = None
    mobile: Phone = None
    employee_no: Text = None
    department: Text = None
    title: Text = None


ENTITY_MODELS: dict[EntityType, type[CanonicalEntity]] = {
    EntityType.COMPANY: Company,
    EntityType.PERSON: Person,
    EntityType.EMPLOYEE: Employee,
}

_ID_PREFIXES = {model.id_prefix: etype for etype, model in ENTITY_MODELS.items()}


class _Info:
    """Stands in for pydantic's ``ValidationInfo``: the field validators above read only ``context``."""

    __slots__ = ("context",)

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context


class DirectValidation:
    """``model_validate`` of one model without pydantic, for the values pydantic would pass unchanged.

    An import validates every value of every record; pydantic's machinery around the field validators
    costs more than the normalisers themselves. This calls the same field validators (the functions
    in each field's ``BeforeValidator``) and the same after-validators (``complete``), and gives
    ``None`` whenever pydantic could do something else: a field it does not know, a validator that
    raises, a result it would strip or convert. The caller then asks pydantic, which produces the
    errors and messages. Tested against ``model_validate`` on arbitrary input.
    """

    def __init__(self, model: type[CanonicalEntity], context: Mapping[str, Any]) -> None:
        self.model = model
        self.info = _Info(context)
        self.order = model.field_names()
        self.checks: dict[str, tuple[Callable[..., Any] | None, bool, type]] = {}
        for name in self.order:
            info = model.model_fields[name]
            before = [m.func for m in info.metadata if isinstance(m, BeforeValidator)]
            if len(before) > 1 or len(info.metadata) != len(before):
                continue  # anything else is left to pydantic
            func: Callable[..., Any] | None = before[0] if before else None
            with_info = bool(before) and len(inspect.signature(before[0]).parameters) > 1
            kind = date if info.annotation == date | None else str
            if info.annotation not in (str | None, date | None):
                continue
            self.checks[name] = (func, with_info, kind)

    def values(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """``model_validate(data).model_dump(exclude_none=True, exclude={"custom"})`` with dates as
        ISO strings (``to_json_value``), or None when pydantic must decide."""
        out: dict[str, Any] = {}
        checks, info = self.checks, self.info
        try:
            for name, value in data.items():
                check = checks.get(name)
                if check is None:
                    return None
                func, with_info, kind = check
                if func is not None:  # else a plain ``str | None``
                    value = func(value, info) if with_info else func(value)
                if value is None:
                    continue
                exact = type(value) is kind
                if not exact or (kind is str and value != value.strip()):
                    return None  # pydantic would convert or strip it, or refuse it
                out[name] = value
            self.model.complete(out)
        except Exception:  # pydantic reports it, with its own message
            return None
        return {
            name: value.isoformat() if type(value) is date else value
            for name in self.order
            if (value := out.get(name)) is not None
        }


_CANONICAL_ID = re.compile(r"^(cmp|per|emp)_[0-9a-z]{26}$")


def entity_type_of(canonical_id: str) -> EntityType | None:
    if not _CANONICAL_ID.match(canonical_id):
        return None
    return _ID_PREFIXES[canonical_id[:3]]


def to_json_value(value: Any) -> Any:
    """Values as they are stored and compared: dates as ISO strings, everything else unchanged."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(slots=True)
class Candidate:
    """A source record mapped to the canonical model: what identity and merge work on.

    ``values`` are normalised and JSON-ready (dates as ISO strings; custom fields as ``custom.<name>``).
    ``refs`` are links to other records of the same system still to be resolved through the xref
    (``company_id`` → the system's company record). ``issues`` are field-level problems that did not
    stop the record (an unparseable phone dropped, with the column it came from).
    """

    ref: RecordRef
    entity_type: EntityType
    values: dict[str, Any]
    field_times: dict[str, datetime]
    modified_at: datetime
    deleted: bool = False
    location: str = ""
    refs: dict[str, RecordRef] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    # Records of other systems this one names as the same customer (a HubSpot contact's Salesforce
    # id): linked to whatever those are linked to.
    same_as: list[RecordRef] = field(default_factory=list)
