"""Salesforce's error shapes, with the messages the real API uses.

REST errors are a JSON array of ``{"message", "errorCode", "fields"}`` (apis.md §1.3 [D][V]: the
client indexes ``[0]['errorCode']`` on a 401, so it must be a list). Inside sObject Collections
results the same error carries ``statusCode`` instead of ``errorCode`` (apis.md §1.4 [V]).
Tags after each message say how it is known: [D] documented, [V] seen verbatim in client code or
captured responses, [K] background knowledge kept plausible.
"""

from __future__ import annotations

from typing import Any

from connectors.salesforce.schema import FieldDef, ObjectDef


class ApiError(Exception):
    """One REST error: HTTP status plus the single error Salesforce reports for it."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def rest_body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def save_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


# --- session and limits -------------------------------------------------------------------------


def invalid_session() -> ApiError:
    # apis.md §1.3 table [V]
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def invalid_auth_header() -> ApiError:
    # apis.md §1.3 table [V]: no or malformed Authorization header
    return ApiError(401, "INVALID_AUTH_HEADER", "INVALID_HEADER_TYPE")


def daily_limit_exceeded() -> ApiError:
    # apis.md §1.3: REQUEST_LIMIT_EXCEEDED is answered with 403 for the daily total [D][V]
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def concurrent_limit_exceeded() -> ApiError:
    # apis.md §1.3 table [V]: the concurrency limit on long transactions, also 403
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")


# --- resources ----------------------------------------------------------------------------------


def not_found() -> ApiError:
    # apis.md §1.3 [D]
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def external_id_field_not_found(name: str) -> ApiError:
    # Seen verbatim in several REST clients' tests for /sobjects/{Obj}/{not-an-id} [V]
    return ApiError(
        404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}"
    )


def not_an_external_id(field_name: str, obj: ObjectDef) -> ApiError:
    # "Field name provided, X is not an External ID or indexed field for Y" [V] (message); code [K]
    return ApiError(
        400,
        "INVALID_FIELD",
        f"Field name provided, {field_name} is not an External ID or indexed field for {obj.name}",
    )


def method_not_allowed(method: str, allowed: str) -> ApiError:
    # [K]
    return ApiError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}"
    )


def json_parser_error(detail: str) -> ApiError:
    # [K] JSON_PARSER_ERROR is the code for an unreadable body
    return ApiError(400, "JSON_PARSER_ERROR", detail)


# --- record errors ------------------------------------------------------------------------------


def malformed_id(obj: ObjectDef, value: str, field: str = "Id") -> ApiError:
    # "Account ID: id value of incorrect type: 001900K0001pPuOAAU", fields ["Id"] [V]
    return ApiError(
        400, "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {value}", [field]
    )


def malformed_reference(field: FieldDef, value: str) -> ApiError:
    return ApiError(
        400, "MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", [field.name]
    )


def wrong_reference_type(field: FieldDef, value: str) -> ApiError:
    # "Owner ID: id value of incorrect type: 035...: [OwnerId]" FIELD_INTEGRITY_EXCEPTION [V]
    return ApiError(
        400,
        "FIELD_INTEGRITY_EXCEPTION",
        f"{field.label}: id value of incorrect type: {value}",
        [field.name],
    )


def invalid_cross_reference(field: FieldDef) -> ApiError:
    # "invalid cross reference id" INVALID_CROSS_REFERENCE_KEY [V] (message); per-field use [K]
    return ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field.name])


def inactive_owner(user_id: str, obj: ObjectDef) -> ApiError:
    # [K]
    return ApiError(
        400,
        "INACTIVE_OWNER_OR_USER",
        f"operation performed with inactive user [{user_id}] as owner of {obj.name.lower()}",
        ["OwnerId"],
    )


def entity_is_deleted(status: int, fields: list[str] | None = None) -> ApiError:
    # apis.md §1.3 [V]: "entity is deleted", ENTITY_IS_DELETED, fields []
    return ApiError(status, "ENTITY_IS_DELETED", "entity is deleted", fields or [])


def no_such_column(field_name: str, obj: ObjectDef) -> ApiError:
    # "No such column 'date__c' on sobject of type BR_CP_Account__c" (nforce issue #135) [V]
    return ApiError(
        400, "INVALID_FIELD", f"No such column '{field_name}' on sobject of type {obj.name}"
    )


def not_writable(field_names: list[str]) -> ApiError:
    # Verbatim in many clients' error tables [V]
    return ApiError(
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(field_names)}. Please check the security "
        "settings of this field and verify that it is read/write for your profile or permission "
        "set.",
        field_names,
    )


def id_in_insert() -> ApiError:
    # "INVALID_FIELD_FOR_INSERT_UPDATE: cannot specify Id in an insert call" (REST, Bulk, SOAP) [V]
    return ApiError(
        400, "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
    )


def id_missing_in_update() -> ApiError:
    # "MISSING_ARGUMENT: Id not specified in an update call" [V]
    return ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])


def required_missing(field_names: list[str]) -> ApiError:
    # "Required fields are missing: [Name]" [V]
    return ApiError(
        400,
        "REQUIRED_FIELD_MISSING",
        f"Required fields are missing: [{', '.join(field_names)}]",
        field_names,
    )


def duplicate_value(field: FieldDef, existing_id: str) -> ApiError:
    # apis.md §1.3 [K] wording
    return ApiError(
        400,
        "DUPLICATE_VALUE",
        f"duplicate value found: {field.name} duplicates value on record with id: {existing_id}",
        [],
    )


def string_too_long(field: FieldDef, value: str) -> ApiError:
    # "<Label>: data value too large: <value> (max length=<n>)" STRING_TOO_LONG [K]
    return ApiError(
        400,
        "STRING_TOO_LONG",
        f"{field.label}: data value too large: {value} (max length={field.length})",
        [field.name],
    )


def invalid_email(field: FieldDef, value: str) -> ApiError:
    # [K]
    return ApiError(
        400,
        "INVALID_EMAIL_ADDRESS",
        f"{field.label}: invalid email address: {value}",
        [field.name],
    )


def cannot_deserialize(field: FieldDef, value: Any, kind: str) -> ApiError:
    # [K] JSON_PARSER_ERROR for a value the field's type cannot hold
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} "
        "or request may be missing a required field",
        [field.name],
    )


def type_not_writable(obj: ObjectDef, verb: str) -> ApiError:
    # "entity type cannot be inserted: User" INVALID_TYPE_FOR_OPERATION [K]
    return ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be {verb}: {obj.name}")


def unsupported_type(name: str) -> ApiError:
    # Verbatim INVALID_TYPE text used by SOQL and Collections for an unknown sObject [V]
    return ApiError(
        400,
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be "
        "sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


# --- collections --------------------------------------------------------------------------------


def too_many_records(limit: int) -> ApiError:
    # EXCEEDED_ID_LIMIT "record limit reached. cannot submit more than 200 records into this call"
    # (django-salesforce issue #328, which uses composite/sobjects; jsforce reports the same) [V]
    return ApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {limit} records into this call",
    )


def rolled_back() -> ApiError:
    # apis.md §1.4 [V] verbatim
    return ApiError(
        400,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header",
        [],
    )


def missing_type() -> ApiError:
    # "Must send a concrete entity type." [K]
    return ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")


def duplicate_external_id(value: str) -> ApiError:
    # "DUPLICATE_EXTERNAL_ID: Duplicate external id specified: <value>" (Bulk/Collections) [V]
    return ApiError(400, "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [])


def external_id_matches_many(field: FieldDef, ids: list[str]) -> ApiError:
    # [K]
    return ApiError(
        300,
        "DUPLICATE_EXTERNAL_ID",
        f"{field.name}: more than one record found for external id field: [{', '.join(ids)}]",
        [field.name],
    )


def external_id_missing(field: FieldDef) -> ApiError:
    # [K]
    return ApiError(400, "MISSING_ARGUMENT", f"{field.name} not specified", [field.name])


# --- replication (getUpdated / getDeleted) -------------------------------------------------------


def invalid_replication_date(message: str) -> ApiError:
    # INVALID_REPLICATION_DATE for a reversed, too short, too old or unreadable window [V] (code)
    return ApiError(400, "INVALID_REPLICATION_DATE", message)


def exceeded_id_limit_replication(limit: int) -> ApiError:
    # apis.md §1.7 [D]: more than 600,000 ids
    return ApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"The replication call returned more than {limit} ids. Use a smaller date range.",
    )
