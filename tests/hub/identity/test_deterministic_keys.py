"""Each deterministic key links records from two systems, on SQLite and PostgreSQL; weak keys (a
shared phone, a role mailbox) link only when nothing strong disagrees and not once too many golden
records share them; a credit code that differs keeps two companies apart whatever else they share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.apply import Applier
from hub.golden import Survivorship
from hub.model import Candidate, EntityType
from hub.ports import RecordRef
from hub.settings import SurvivorshipSettings
from state.store import SqlStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
COMPANY, PERSON, EMPLOYEE = EntityType.COMPANY, EntityType.PERSON, EntityType.EMPLOYEE


def _apply(
    store: SqlStore, entity: EntityType, system: str, external_id: str, values: dict[str, Any]
) -> str:
    ref = RecordRef(system, "records", external_id)
    candidate = Candidate(ref, entity, values, {}, T0, fingerprint=f"{system}-{external_id}")
    with store.transaction() as tx:
        Applier(Survivorship(SurvivorshipSettings(), []), "run", None).apply(tx, [candidate])
    with store.transaction() as tx:
        return tx.xref_lookup([ref])[ref]


SAME: list[tuple[str, EntityType, dict[str, Any], dict[str, Any]]] = [
    ("personal email", PERSON, {"full_name": "张伟", "email": "zhang.wei@acme.cn"},
     {"full_name": "Wei Zhang", "email": "zhang.wei@acme.cn"}),
    ("mobile", PERSON, {"full_name": "张伟", "mobile": "+8613800138000"},
     {"full_name": "Zhang Wei", "mobile": "+8613800138000"}),
    ("unified social credit code", COMPANY, {"name": "华为技术有限公司", "credit_code": "91440300192203821K"},
     {"name": "Huawei Technologies Co., Ltd.", "credit_code": "91440300192203821K"}),
    ("tax id", COMPANY, {"name": "Acme GmbH", "tax_id": "DE123456789"},
     {"name": "ACME", "tax_id": "DE123456789"}),
    ("domain and company name", COMPANY, {"name": "Acme Trading Ltd", "domain": "acme.cn"},
     {"name": "ACME Trading Limited", "domain": "acme.cn"}),
    ("employee number", EMPLOYEE, {"full_name": "李娜", "employee_no": "E1024"},
     {"full_name": "Li Na", "employee_no": "E1024"}),
]  # fmt: skip


@pytest.mark.parametrize(("key", "entity", "first", "second"), SAME, ids=[s[0] for s in SAME])
def test_each_deterministic_key_links(
    store: SqlStore, key: str, entity: EntityType, first: dict[str, Any], second: dict[str, Any]
) -> None:
    assert _apply(store, entity, "erp", "1", first) == _apply(store, entity, "crm", "A", second), (
        key
    )


def test_a_different_credit_code_keeps_companies_apart(store: SqlStore) -> None:
    a = _apply(store, COMPANY, "erp", "1", {"name": "Acme", "credit_code": "91440300192203821K",
                                            "phone": "+862188888888"})  # fmt: skip
    b = _apply(store, COMPANY, "crm", "A", {"name": "Acme", "credit_code": "91330100716105852F",
                                            "phone": "+862188888888"})  # fmt: skip
    assert a != b  # the switchboard is shared, the registrations are not


def test_a_free_mail_domain_is_not_a_company_key(store: SqlStore) -> None:
    a = _apply(store, COMPANY, "erp", "1", {"name": "Acme", "domain": "qq.com"})
    b = _apply(store, COMPANY, "crm", "A", {"name": "Acme", "domain": "qq.com"})
    assert a != b


def test_a_role_mailbox_links_only_without_a_clashing_personal_email(store: SqlStore) -> None:
    first = _apply(store, PERSON, "erp", "1", {"full_name": "王芳", "email": "wang.fang@acme.cn",
                                               "email2": "sales@acme.cn"})  # fmt: skip
    clash = _apply(store, PERSON, "crm", "A", {"full_name": "李娜", "email": "li.na@acme.cn",
                                               "email2": "sales@acme.cn"})  # fmt: skip
    assert clash != first  # the shared sales@ does not outweigh two personal addresses
    quiet = _apply(store, PERSON, "shop", "X", {"full_name": "王芳", "email": "sales@acme.cn"})
    assert quiet in {first, clash}  # nothing strong disagrees: the weak key links


def test_a_weak_key_shared_by_many_golden_records_is_ignored(store: SqlStore) -> None:
    switchboard = "+862188888888"
    for i in range(4):  # four colleagues, each with a personal email, on one switchboard
        _apply(store, PERSON, "erp", str(i), {"full_name": f"员工{i}", "email": f"p{i}@acme.cn",
                                              "phone": switchboard})  # fmt: skip
    newcomer = _apply(store, PERSON, "crm", "A", {"full_name": "赵六", "phone": switchboard})
    with store.transaction() as tx:
        others = {tx.xref_lookup([RecordRef("erp", "records", str(i))])[RecordRef("erp", "records", str(i))] for i in range(4)}  # fmt: skip
    assert newcomer not in others


def test_a_shared_office_line_does_not_link_two_named_people(store: SqlStore) -> None:
    """Colleagues share a landline: a weak key links people only when their names do not differ."""
    line = "+862164387076"
    a = _apply(store, PERSON, "crm", "A", {"full_name": "覃瑶静", "phone": line})
    b = _apply(store, PERSON, "erp", "B", {"full_name": "尹慧军", "phone": line})
    assert a != b
    assert _apply(store, PERSON, "shop", "C", {"full_name": "Qin Yaojing", "phone": line}) == a
    assert _apply(store, PERSON, "shop", "D", {"phone": line}) in {a, b}  # no name: none differs
    # Same family name, given names apart: two people, however alike the records.
    e = _apply(store, PERSON, "erp", "E", {"full_name": "李皓涛", "mobile": "+8613900139000"})
    f = _apply(store, PERSON, "crm", "F", {"full_name": "李逸伟", "mobile": "+8613900139000"})
    assert e != f
