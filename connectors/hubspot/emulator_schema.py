"""The portal's schema: object types, their properties and the association types between them.

Sources: apis.md §2.2 (default properties, last-modified property per object), §2.5 (association
type ids and object type ids), §2.6 (property shape, ``hasUniqueValue``, read-only system
properties); the official ``Property`` schema in ``specs/hubspot/Properties_properties.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PropertyType = str  # "string" | "number" | "date" | "datetime" | "enumeration" | "bool"

EPOCH_ISO = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class PropertyDefinition:
    name: str
    label: str
    type: PropertyType = "string"
    field_type: str = "text"
    group_name: str = "contactinformation"
    options: tuple[str, ...] = ()
    has_unique_value: bool = False
    read_only_value: bool = False
    hubspot_defined: bool = True
    calculated: bool = False
    description: str = ""
    # Enumerations whose options live elsewhere (owners) accept any value here.
    external_options: bool = False

    def to_api(self, display_order: int) -> dict[str, Any]:
        """The ``Property`` shape of the official spec (required: description, fieldType, groupName,
        label, name, options, type)."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [
                {
                    "label": o.replace("_", " ").title(),
                    "value": o,
                    "hidden": False,
                    "displayOrder": i,
                }
                for i, o in enumerate(self.options)
            ],
            "displayOrder": display_order,
            "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "formField": not self.read_only_value,
            "archived": False,
            "createdAt": EPOCH_ISO,
            "updatedAt": EPOCH_ISO,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
        }


@dataclass(frozen=True)
class ObjectType:
    name: str  # path segment: "contacts"
    singular: str  # "contact" (webhook subscription prefix, v3 association names)
    type_id: str  # "0-1"
    upper: str  # "CONTACT" (batch error messages)
    modified_properties: tuple[str, ...]  # every last-modified property the object carries
    default_properties: tuple[str, ...]  # returned when no ``properties`` are asked for
    always_properties: tuple[str, ...]  # returned whatever is asked for [K]
    query_properties: tuple[str, ...]  # searched by the free-text ``query``
    scope: str  # "crm.objects.contacts"
    properties: dict[str, PropertyDefinition] = field(default_factory=dict)


LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

# A subset of HubSpot's company ``industry`` options; extend with ``Portal.define_property``.
INDUSTRIES = (
    "ACCOUNTING",
    "AUTOMOTIVE",
    "BANKING",
    "BIOTECHNOLOGY",
    "CHEMICALS",
    "COMPUTER_HARDWARE",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "CONSUMER_ELECTRONICS",
    "CONSUMER_GOODS",
    "EDUCATION_MANAGEMENT",
    "ELECTRICAL_ELECTRONIC_MANUFACTURING",
    "FINANCIAL_SERVICES",
    "FOOD_BEVERAGES",
    "HOSPITAL_HEALTH_CARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "INTERNET",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "MACHINERY",
    "MANAGEMENT_CONSULTING",
    "MEDICAL_DEVICES",
    "OIL_ENERGY",
    "PHARMACEUTICALS",
    "REAL_ESTATE",
    "RETAIL",
    "TELECOMMUNICATIONS",
    "TEXTILES",
    "TRANSPORTATION_TRUCKING_RAILROAD",
    "WHOLESALE",
)


def _p(name: str, label: str, **kwargs: Any) -> PropertyDefinition:
    return PropertyDefinition(name=name, label=label, **kwargs)


def _system_properties(group: str) -> list[PropertyDefinition]:
    return [
        _p("createdate", "Create Date", type="datetime", field_type="date", group_name=group),
        _p(
            "hs_lastmodifieddate",
            "Object last modified date/time",
            type="datetime",
            field_type="date",
            group_name=group,
            read_only_value=True,
        ),
        _p(
            "hs_object_id",
            "Record ID",
            type="number",
            field_type="number",
            group_name=group,
            read_only_value=True,
        ),
        _p(
            "hs_merged_object_ids",
            "Merged Record IDs",
            type="enumeration",
            field_type="checkbox",
            group_name=group,
            read_only_value=True,
            external_options=True,
        ),
        _p(
            "hubspot_owner_id",
            "Contact owner" if group == "contactinformation" else "Company owner",
            type="enumeration",
            field_type="select",
            group_name=group,
            external_options=True,
        ),
        _p(
            "lifecyclestage",
            "Lifecycle Stage",
            type="enumeration",
            field_type="radio",
            group_name=group,
            options=LIFECYCLE_STAGES,
        ),
        # The hub's canonical id, a custom unique property (what upserts key on).
        _p(
            "huitong_id",
            "Huitong ID",
            group_name=group,
            has_unique_value=True,
            hubspot_defined=False,
            description="Canonical id of the Huitong golden record",
        ),
    ]


def _contact_properties() -> list[PropertyDefinition]:
    g = "contactinformation"
    return [
        _p("email", "Email", group_name=g, has_unique_value=True),
        _p("firstname", "First Name", group_name=g),
        _p("lastname", "Last Name", group_name=g),
        _p("phone", "Phone Number", field_type="phonenumber", group_name=g),
        _p("mobilephone", "Mobile Phone Number", field_type="phonenumber", group_name=g),
        _p("company", "Company Name", group_name=g),
        _p("jobtitle", "Job Title", group_name=g),
        _p("website", "Website URL", group_name=g),
        _p("address", "Street Address", group_name=g),
        _p("city", "City", group_name=g),
        _p("state", "State/Region", group_name=g),
        _p("zip", "Postal Code", group_name=g),
        _p("country", "Country/Region", group_name=g),
        _p(
            "hs_additional_emails",
            "Additional email addresses",
            type="enumeration",
            field_type="checkbox",
            group_name=g,
            read_only_value=True,
            external_options=True,
        ),
        _p(
            "lastmodifieddate",
            "Last Modified Date",
            type="datetime",
            field_type="date",
            group_name=g,
            read_only_value=True,
        ),
        *_system_properties(g),
    ]


def _company_properties() -> list[PropertyDefinition]:
    g = "companyinformation"
    return [
        _p("name", "Company name", group_name=g),
        _p("domain", "Company Domain Name", group_name=g),
        _p("website", "Website URL", group_name=g),
        _p("phone", "Phone Number", field_type="phonenumber", group_name=g),
        _p("address", "Street Address", group_name=g),
        _p("city", "City", group_name=g),
        _p("state", "State/Region", group_name=g),
        _p("zip", "Postal Code", group_name=g),
        _p("country", "Country/Region", group_name=g),
        _p(
            "industry",
            "Industry",
            type="enumeration",
            field_type="select",
            group_name=g,
            options=INDUSTRIES,
        ),
        _p("description", "Description", field_type="textarea", group_name=g),
        _p(
            "numberofemployees",
            "Number of Employees",
            type="number",
            field_type="number",
            group_name=g,
        ),
        _p("annualrevenue", "Annual Revenue", type="number", field_type="number", group_name=g),
        *_system_properties(g),
    ]


def build_object_types() -> dict[str, ObjectType]:
    contacts = ObjectType(
        name="contacts",
        singular="contact",
        type_id="0-1",
        upper="CONTACT",
        # Contacts carry both names; companies only hs_lastmodifieddate (apis.md §2.2).
        modified_properties=("lastmodifieddate", "hs_lastmodifieddate"),
        default_properties=(
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname",
        ),
        always_properties=("createdate", "hs_object_id", "lastmodifieddate"),
        query_properties=("firstname", "lastname", "email", "phone", "mobilephone", "company"),
        scope="crm.objects.contacts",
        properties={p.name: p for p in _contact_properties()},
    )
    companies = ObjectType(
        name="companies",
        singular="company",
        type_id="0-2",
        upper="COMPANY",
        modified_properties=("hs_lastmodifieddate",),
        default_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        always_properties=("createdate", "hs_lastmodifieddate", "hs_object_id"),
        query_properties=("name", "domain", "website", "phone"),
        scope="crm.objects.companies",
        properties={p.name: p for p in _company_properties()},
    )
    return {"contacts": contacts, "companies": companies}


# Every spelling the API accepts for an object type in a path (apis.md §2.5: type ids 0-1 / 0-2).
OBJECT_TYPE_ALIASES = {
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
}


@dataclass(frozen=True)
class AssociationType:
    from_type: str
    to_type: str
    type_id: int
    label: str | None  # None: the unlabeled default type
    inverse_type_id: int
    v3_name: str  # how v3 ``?associations=`` names it

    @property
    def is_default(self) -> bool:
        return self.label is None


# HUBSPOT_DEFINED ids, apis.md §2.5: contact→company 279 (primary 1),
# company→contact 280 (primary 2).
ASSOCIATION_TYPES: tuple[AssociationType, ...] = (
    AssociationType("contacts", "companies", 279, None, 280, "contact_to_company_unlabeled"),
    AssociationType("contacts", "companies", 1, "Primary", 2, "contact_to_company"),
    AssociationType("companies", "contacts", 280, None, 279, "company_to_contact_unlabeled"),
    AssociationType("companies", "contacts", 2, "Primary", 1, "company_to_contact"),
)


def association_type(from_type: str, to_type: str, type_id: int) -> AssociationType | None:
    for t in ASSOCIATION_TYPES:
        if (t.from_type, t.to_type, t.type_id) == (from_type, to_type, type_id):
            return t
    return None


def default_association_type(from_type: str, to_type: str) -> AssociationType | None:
    for t in ASSOCIATION_TYPES:
        if (t.from_type, t.to_type) == (from_type, to_type) and t.is_default:
            return t
    return None
