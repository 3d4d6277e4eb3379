"""Mapping specs: both directions from one spec; a bad spec is a config error when loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.model import Candidate, CustomFieldType, EntityType
from hub.ports import RecordRef, Rejection, SourceRecord
from mappings.mapper import Mapper
from mappings.spec import load_spec

SPEC = """
entity: Person
modified_at: 更新时间
deleted: 停用
fields:
  full_name: 姓名
  mobile: {source: 手机}
  email: 邮箱
  title: {source: 职务, values: {GM: 总经理}}
  country: {const: CN}
  street: {source: [区, 街道], join: ""}
  custom.level: 等级
refs:
  company_id: {source: 客户编码, object: customers}
"""

CUSTOM = {EntityType.PERSON: {"level": CustomFieldType.INT}}


def _spec(tmp_path: Path, text: str = SPEC):
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec("m.yaml", tmp_path, CUSTOM)


def _record(**fields: str | None) -> SourceRecord:
    base = {
        "姓名": "张伟",
        "手机": "138 0013 8000",
        "邮箱": " Zhang.Wei@Example.COM ",
        "职务": "GM",
        "区": "海淀区",
        "街道": "中关村大街1号",
        "等级": "3",
        "客户编码": "C001",
        "更新时间": "2026-01-05 09:30:00",
    }
    base.update({k: v for k, v in fields.items() if v is not None})
    return SourceRecord("erp", "contacts", "L1", base, location="联系人.csv:2")


def test_record_becomes_a_normalised_candidate(tmp_path: Path) -> None:
    mapper = Mapper(_spec(tmp_path), CUSTOM, "CN")
    c = mapper.to_candidate(_record())
    assert isinstance(c, Candidate)
    assert c.entity_type is EntityType.PERSON
    assert c.values["mobile"] == "+8613800138000"
    assert c.values["email"] == "zhang.wei@example.com"
    assert c.values["title"] == "总经理"
    assert c.values["country"] == "CN"
    assert c.values["street"] == "海淀区中关村大街1号"
    assert c.values["custom.level"] == 3
    assert c.values["last_name"] == "张"
    assert c.values["first_name"] == "伟"
    assert c.refs == {"company_id": RecordRef("erp", "customers", "C001")}
    assert c.modified_at == datetime(2026, 1, 5, 1, 30, tzinfo=UTC)  # Beijing time → UTC


def test_bad_value_is_dropped_with_its_column_named_and_the_record_kept(tmp_path: Path) -> None:
    mapper = Mapper(_spec(tmp_path), CUSTOM, "CN")
    c = mapper.to_candidate(_record(邮箱="zhang.wei@", 等级="three"))
    assert isinstance(c, Candidate)
    assert "email" not in c.values
    assert any(issue.startswith("邮箱 → email") for issue in c.issues), c.issues
    assert any(issue.startswith("等级 → custom.level") for issue in c.issues), c.issues
    assert c.values["mobile"] == "+8613800138000"


def test_record_with_nothing_usable_is_rejected_with_where(tmp_path: Path) -> None:
    mapper = Mapper(_spec(tmp_path, SPEC.replace("  country: {const: CN}\n", "")), CUSTOM, "CN")
    empty = {k: None for k in _record().fields}
    r = mapper.to_candidate(SourceRecord("erp", "contacts", "L9", empty, location="联系人.csv:9"))
    assert isinstance(r, Rejection)
    assert r.location == "联系人.csv:9"
    assert "no usable value" in r.reason


def test_same_input_same_fingerprint_and_changed_input_new_fingerprint(tmp_path: Path) -> None:
    mapper = Mapper(_spec(tmp_path), CUSTOM, "CN")
    a, b = mapper.to_candidate(_record()), mapper.to_candidate(_record())
    c = mapper.to_candidate(_record(职务="CFO"))
    assert isinstance(a, Candidate)
    assert isinstance(b, Candidate)
    assert isinstance(c, Candidate)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_deleted_flag_from_a_column(tmp_path: Path) -> None:
    mapper = Mapper(_spec(tmp_path), CUSTOM, "CN")
    c = mapper.to_candidate(_record(停用="是"))
    assert isinstance(c, Candidate)
    assert c.deleted


def test_reverse_direction_uses_the_same_spec(tmp_path: Path) -> None:
    mapper = Mapper(_spec(tmp_path), CUSTOM, "CN")
    out = mapper.to_system(
        {
            "full_name": "张伟",
            "email": "zhang.wei@example.com",
            "title": "总经理",
            "country": "CN",
            "street": "x",
            "company_id": "cmp_1",
        },
        resolve_ref=lambda obj, cid: "C001" if (obj, cid) == ("customers", "cmp_1") else None,
    )
    assert out["姓名"] == "张伟"
    assert out["职务"] == "GM"  # the value map is inverted
    assert out["客户编码"] == "C001"
    assert "区" not in out
    assert "街道" not in out
    assert "country" not in out.values()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SPEC.replace("title:", "titel:"), "fields.titel: Person has no field 'titel'"),
        (SPEC.replace("custom.level", "custom.vip"), "custom field 'vip' is not declared"),
        (
            SPEC.replace("mobile: {source: 手机}", "mobile: {source: 手机, transform: shout}"),
            "unknown transform 'shout'",
        ),
        (SPEC.replace("entity: Person", "entity: Customer"), "entity"),
        (SPEC.replace("country: {const: CN}", "country: {}"), "exactly one of 'source' or 'const'"),
    ],
)
def test_bad_spec_is_a_config_error_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _spec(tmp_path, text)
    assert expected in str(caught.value)
    assert "m.yaml" in str(caught.value)


def test_builtin_specs_load() -> None:
    for name in ("csv/contacts", "csv/companies"):
        spec = load_spec(f"builtin:{name}", Path("."), {})
        assert spec.fields
