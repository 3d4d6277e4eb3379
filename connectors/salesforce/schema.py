"""The emulated org's schema: Account, Contact and User, described as the describe call does.

Field names, labels, types and lengths follow the standard objects (Salesforce Object Reference,
"Account" / "Contact" / "User" pages [D]); the subset kept is what a CRM sync touches. Two custom
fields are added to Account and Contact: ``Huitong_Id__c`` (External ID + Unique, carrying the hub's
canonical id so retried upserts never duplicate) and ``Legacy_Id__c`` (External ID, not unique, as
orgs often have after a migration, which is what makes an upsert match several records: HTTP 300).
Field and object names are case-insensitive in the API; responses use the names defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# soapType per field type, as in describe output.
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
    "double": "xsd:double",
    "currency": "xsd:double",
    "int": "xsd:int",
}
TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "id", "reference"}
)


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    length: int = 0
    required: bool = False  # nillable=false, createable and not defaulted: REQUIRED_FIELD_MISSING
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    defaulted_on_create: bool = False
    calculated: bool = False
    custom: bool = False
    nillable: bool = True
    cascade_delete: bool = False  # deleting the referenced record deletes this one too

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "digits": 9 if self.type == "int" else 0,
            "precision": 18 if self.type in ("double", "currency") else 0,
            "scale": 2 if self.type == "currency" else 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.defaulted_on_create,
            "calculated": self.calculated,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "idLookup": self.type == "id" or self.external_id or self.unique,
            "filterable": self.type != "textarea" or self.length <= 255,
            "sortable": self.type != "textarea" or self.length <= 255,
            "groupable": self.type not in ("textarea", "double", "currency", "datetime"),
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "picklistValues": [],
            "restrictedPicklist": False,
            "defaultValue": None,
            "autoNumber": False,
            "htmlFormatted": False,
        }


@dataclass(frozen=True)
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    by_lower: dict[str, FieldDef] = field(init=False, repr=False, compare=False)
    by_relationship: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {f.name.lower(): f for f in self.fields})
        object.__setattr__(
            self,
            "by_relationship",
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name},
        )

    def get_field(self, name: str) -> FieldDef | None:
        return self.by_lower.get(name.lower())

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if f.external_id]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        }

    def global_entry(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "queryable": True,
            "retrieveable": True,
            "replicateable": True,
            "searchable": True,
            "undeletable": self.deletable,
            "mergeable": self.name in ("Account", "Contact"),
            "layoutable": True,
            "triggerable": True,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict[str, Any]:
        body = self.global_entry(version)
        body.update(
            {
                "fields": [f.describe() for f in self.fields],
                "childRelationships": [],
                "recordTypeInfos": [],
                "supportedScopes": [{"label": "All", "name": "everything"}],
            }
        )
        return body


def _text(name: str, label: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, kw.pop("type", "string"), label, length=length, **kw)


def _system(name: str, type_: str, label: str, **kw: Any) -> FieldDef:
    """A platform-maintained field: set on every write, never writable through the API."""
    return FieldDef(
        name,
        type_,
        label,
        createable=False,
        updateable=False,
        nillable=False,
        defaulted_on_create=True,
        **kw,
    )


def _audit_fields() -> tuple[FieldDef, ...]:
    # Audit fields are set by the platform and never writable through the API
    # (INVALID_FIELD_FOR_INSERT_UPDATE), apis.md §1.8 / Object Reference "System Fields" [D].
    user = {"length": 18, "reference_to": ("User",)}
    return (
        _system("IsDeleted", "boolean", "Deleted"),
        _system("CreatedDate", "datetime", "Created Date"),
        _system("CreatedById", "reference", "Created By ID", relationship_name="CreatedBy", **user),
        _system("LastModifiedDate", "datetime", "Last Modified Date"),
        _system(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            relationship_name="LastModifiedBy",
            **user,
        ),
        _system("SystemModstamp", "datetime", "System Modstamp"),
    )


def _id_field(label: str) -> FieldDef:
    return FieldDef(
        "Id", "id", label, length=18, createable=False, updateable=False, nillable=False,
        defaulted_on_create=True,
    )  # fmt: skip


def _owner_field() -> FieldDef:
    # OwnerId defaults to the running user when omitted (Object Reference: Account.OwnerId) [D].
    return FieldDef(
        "OwnerId",
        "reference",
        "Owner ID",
        length=18,
        reference_to=("User",),
        relationship_name="Owner",
        defaulted_on_create=True,
        nillable=False,
    )


def _hub_fields() -> tuple[FieldDef, ...]:
    return (
        _text("Huitong_Id__c", "Huitong ID", 64, external_id=True, unique=True, custom=True),
        _text("Legacy_Id__c", "Legacy ID", 64, external_id=True, custom=True),
    )


def _address(prefix: str, label: str) -> tuple[FieldDef, ...]:
    return (
        _text(f"{prefix}Street", f"{label} Street", 255, type="textarea"),
        _text(f"{prefix}City", f"{label} City", 40),
        _text(f"{prefix}State", f"{label} State/Province", 80),
        _text(f"{prefix}PostalCode", f"{label} Zip/Postal Code", 20),
        _text(f"{prefix}Country", f"{label} Country", 80),
    )


ACCOUNT = ObjectDef(
    "Account",
    "Account",
    "Accounts",
    "001",
    (
        _id_field("Account ID"),
        FieldDef(
            "MasterRecordId",
            "reference",
            "Master Record ID",
            length=18,
            reference_to=("Account",),
            relationship_name="MasterRecord",
            createable=False,
            updateable=False,
        ),
        _text("Name", "Account Name", 255, required=True, nillable=False),
        _text("Type", "Account Type", 255, type="picklist"),
        FieldDef(
            "ParentId",
            "reference",
            "Parent Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Parent",
        ),
        *_address("Billing", "Billing"),
        *_address("Shipping", "Shipping"),
        _text("Phone", "Account Phone", 40, type="phone"),
        _text("Fax", "Account Fax", 40, type="phone"),
        _text("AccountNumber", "Account Number", 40),
        _text("Website", "Website", 255, type="url"),
        _text("Industry", "Industry", 255, type="picklist"),
        FieldDef("AnnualRevenue", "currency", "Annual Revenue"),
        FieldDef("NumberOfEmployees", "int", "Employees"),
        _text("Description", "Account Description", 32000, type="textarea"),
        _owner_field(),
        *_audit_fields(),
        *_hub_fields(),
    ),
)

CONTACT = ObjectDef(
    "Contact",
    "Contact",
    "Contacts",
    "003",
    (
        _id_field("Contact ID"),
        FieldDef(
            "MasterRecordId",
            "reference",
            "Master Record ID",
            length=18,
            reference_to=("Contact",),
            relationship_name="MasterRecord",
            createable=False,
            updateable=False,
        ),
        # Deleting an account deletes its contacts (Object Reference: Account, "Usage") [D].
        FieldDef(
            "AccountId",
            "reference",
            "Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Account",
            cascade_delete=True,
        ),
        _text("LastName", "Last Name", 80, required=True, nillable=False),
        _text("FirstName", "First Name", 40),
        _text("Salutation", "Salutation", 40, type="picklist"),
        # Name is a compound of FirstName and LastName, read-only through the API [D].
        _text("Name", "Full Name", 121, createable=False, updateable=False, calculated=True),
        *_address("Mailing", "Mailing"),
        _text("Phone", "Business Phone", 40, type="phone"),
        _text("MobilePhone", "Mobile Phone", 40, type="phone"),
        _text("Email", "Email", 80, type="email"),
        _text("Title", "Title", 128),
        _text("Department", "Department", 80),
        _text("Description", "Contact Description", 32000, type="textarea"),
        _owner_field(),
        *_audit_fields(),
        *_hub_fields(),
    ),
)

USER = ObjectDef(
    "User",
    "User",
    "Users",
    "005",
    (
        _id_field("User ID"),
        _text("Username", "Username", 80, required=True, nillable=False, unique=True),
        _text("LastName", "Last Name", 80, required=True, nillable=False),
        _text("FirstName", "First Name", 40),
        _text("Name", "Full Name", 121, createable=False, updateable=False, calculated=True),
        _text("Email", "Email", 128, type="email", required=True, nillable=False),
        _text("Alias", "Alias", 8),
        FieldDef("IsActive", "boolean", "Active", defaulted_on_create=True, nillable=False),
        _text("Title", "Title", 80),
        _text("Department", "Department", 80),
        *_audit_fields(),
    ),
    # Users are provisioned through Setup, not by this hub; the emulator seeds them by helper.
    createable=False,
    updateable=False,
    deletable=False,
)

OBJECTS: dict[str, ObjectDef] = {o.name: o for o in (ACCOUNT, CONTACT, USER)}
_BY_LOWER = {name.lower(): o for name, o in OBJECTS.items()}
_BY_PREFIX = {o.key_prefix: o for o in OBJECTS.values()}


def find_object(name: str) -> ObjectDef | None:
    return _BY_LOWER.get(name.lower())


def object_for_prefix(prefix: str) -> ObjectDef | None:
    return _BY_PREFIX.get(prefix)
