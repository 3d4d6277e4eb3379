"""Deterministic match keys: the values that, when equal, say two records are the same entity.

Strong keys identify on their own (a personal email, a unified social credit code). Weak keys are often
shared by different entities (a switchboard number, a role mailbox such as info@): they link only when
nothing strong disagrees, and not at all once many clusters share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub import normalize as n
from hub.model import EntityType

STRONG = "strong"
WEAK = "weak"

ROLE_MAILBOXES = frozenset(
    {
        "info",
        "sales",
        "contact",
        "admin",
        "support",
        "service",
        "hr",
        "office",
        "marketing",
        "hello",
        "enquiries",
        "inquiry",
        "noreply",
        "no-reply",
        "team",
        "billing",
        "kefu",
        "webmaster",
    }
)


@dataclass(frozen=True, slots=True)
class MatchKey:
    kind: str
    value: str
    strength: str
    # ``kind:value``, made once: an import reads it several times per key (look-up, linking,
    # the batch's overlay, the stored row).
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.kind}:{self.value}")


def is_role_mailbox(email: str) -> bool:
    local = email.split("@", 1)[0]
    return local in ROLE_MAILBOXES


def keys_for(entity: EntityType, values: dict[str, Any]) -> list[MatchKey]:
    keys: list[MatchKey] = []
    if entity is EntityType.COMPANY:
        if values.get("credit_code"):
            keys.append(MatchKey("uscc", values["credit_code"], STRONG))
        if values.get("tax_id"):
            keys.append(MatchKey("tax", values["tax_id"], STRONG))
        name_key = _company_key(values.get("name"))
        domain = values.get("domain")
        if domain and name_key and not n.is_free_mail_domain(domain):
            keys.append(MatchKey("dn", f"{domain}|{name_key}", STRONG))
        if values.get("phone"):
            keys.append(MatchKey("phone", values["phone"], WEAK))
        if values.get("email"):
            keys.append(MatchKey("email", values["email"], WEAK))
    elif entity is EntityType.PERSON:
        for name in ("email", "email2"):
            email = values.get(name)
            if email:
                keys.append(MatchKey("email", email, WEAK if is_role_mailbox(email) else STRONG))
        for name in ("mobile", "phone"):
            if values.get(name):
                keys.append(MatchKey("phone", values[name], WEAK))
    else:
        if values.get("employee_no"):
            keys.append(MatchKey("empno", values["employee_no"], STRONG))
        if values.get("email"):
            keys.append(MatchKey("email", values["email"], STRONG))
        for name in ("mobile", "phone"):
            if values.get(name):
                keys.append(MatchKey("phone", values[name], WEAK))
    return list(dict.fromkeys(keys))


def _company_key(name: Any) -> str | None:
    if not name:
        return None
    try:
        return n.company_name_key(str(name))
    except n.InvalidValue:
        return None


def conflicting(
    entity: EntityType, incoming: dict[str, Any], cluster: dict[str, Any]
) -> str | None:
    """The strong identifier on which the two disagree, or None: such a pair needs more than a weak key."""
    if entity is EntityType.COMPANY:
        for name in ("credit_code", "tax_id"):
            if incoming.get(name) and cluster.get(name) and incoming[name] != cluster[name]:
                return name
        return None
    if entity is EntityType.EMPLOYEE and (
        incoming.get("employee_no")
        and cluster.get("employee_no")
        and incoming["employee_no"] != cluster["employee_no"]
    ):
        return "employee_no"
    mine = _personal_emails(incoming)
    theirs = _personal_emails(cluster)
    if mine and theirs and not mine & theirs:
        return "email"
    return None


def _personal_emails(values: dict[str, Any]) -> set[str]:
    return {
        values[name]
        for name in ("email", "email2")
        if values.get(name) and not is_role_mailbox(values[name])
    }
