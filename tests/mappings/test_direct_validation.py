"""Validation without pydantic gives what ``model_validate`` gives, or steps aside.

``DirectValidation`` calls the models' own field validators and after-validators directly, for the
import's speed; whenever pydantic could answer differently (a value it would refuse, convert or strip,
a field it does not know) it returns None and the mapper asks pydantic. These tests hold it to
pydantic's answer on arbitrary records, and the mapper's candidates (values, issues, rejections) to
those of the pydantic-only path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.model import ENTITY_MODELS, DirectValidation, EntityType, Person, to_json_value
from hub.ports import SourceRecord
from mappings.mapper import Mapper
from mappings.spec import load_spec

CONTEXT = {"default_region": "CN", "timezone": "Asia/Shanghai"}

TRICKY: list[Any] = [
    None,
    "",
    "   ",
    "张伟",
    " 张 伟 ",
    "欧阳娜娜",
    "Wei Zhang",
    "ZHANG, Wei",
    "唐纳德·特朗普",
    "x@y",
    "zhang.wei@example.com",
    " Zhang.Wei@Example.COM ",
    "not an email",
    "<zw@x.cn>",
    "138 0013 8000",
    "+86 138-0013-8000",
    "13800138000",
    "12345",
    "010-88888888-123",
    "CN",
    "China",
    "中国",
    "Narnia",
    "91350100M000100Y43",
    "91350100M000100Y44",
    "https://www.Example.co.uk/path",
    "huawei.com",
    "2026-01-05",
    "2026/1/5",
    "yesterday",
    date(2026, 1, 5),
    datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
    42,
    3.5,
    True,
    "  padded  ",
    "tab\there",
    "\u3000全角\u3000",
    "zero\u200bwidth",
    "@",
    "经理",
]


@st.composite
def records(draw: st.DrawFn, entity: EntityType) -> dict[str, Any]:
    names = ENTITY_MODELS[entity].field_names()
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=8))
    data = {name: draw(st.sampled_from(TRICKY)) for name in chosen}
    if draw(st.integers(0, 20)) == 0:
        data["no_such_field"] = "x"
    return data


def _pydantic(entity: EntityType, data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        model = ENTITY_MODELS[entity].model_validate(dict(data), context=CONTEXT)
    except ValidationError:
        return None
    return {
        k: to_json_value(v)
        for k, v in model.model_dump(exclude_none=True, exclude={"custom"}).items()
    }


@pytest.mark.parametrize("entity", list(EntityType))
def test_direct_validation_gives_pydantics_values_or_steps_aside(entity: EntityType) -> None:
    direct = DirectValidation(ENTITY_MODELS[entity], CONTEXT)

    @settings(max_examples=600, deadline=None)
    @given(records(entity))
    def check(data: dict[str, Any]) -> None:
        fast = direct.values(dict(data))
        if fast is not None:
            expected = _pydantic(entity, data)
            assert fast == expected
            assert list(fast) == list(expected or {})  # the same field order, too

    check()


def test_direct_validation_answers_for_a_clean_record() -> None:
    direct = DirectValidation(Person, CONTEXT)
    values = direct.values(
        {"full_name": "陈杰", "email": " USER@QQ.COM ", "mobile": "130-0000-0000", "city": "成都"}
    )
    assert values == {
        "full_name": "陈杰",
        "first_name": "杰",
        "last_name": "陈",
        "email": "user@qq.com",
        "mobile": "+8613000000000",
        "city": "成都",
    }
    assert direct.values({"email": "broken@"}) is None  # pydantic names the problem


SPEC = """
entity: Person
modified_at: 更新时间
fields:
  full_name: 姓名
  first_name: 名
  last_name: 姓
  mobile: 手机
  email: 邮箱
  title: 职务
  birth_date: 生日
  country: 国家
  custom.level: 等级
"""
COLUMNS = ["姓名", "名", "姓", "手机", "邮箱", "职务", "生日", "国家", "等级"]


@pytest.fixture(scope="module")
def mapper(tmp_path_factory: pytest.TempPathFactory) -> Mapper:
    from hub.model import CustomFieldType

    folder: Path = tmp_path_factory.mktemp("spec")
    (folder / "m.yaml").write_text(SPEC, encoding="utf-8")
    custom = {EntityType.PERSON: {"level": CustomFieldType.INT}}
    return Mapper(load_spec("m.yaml", folder, custom), custom, "CN")


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    cells = [v for v in TRICKY if v is None or isinstance(v, str)]
    return {c: draw(st.sampled_from(cells)) for c in COLUMNS} | {"更新时间": "2026-01-05 09:30"}


@settings(max_examples=300, deadline=None)
@given(rows())
def test_mapper_gives_the_same_candidate_with_and_without_the_direct_path(
    mapper: Mapper, row: dict[str, Any]
) -> None:
    record = SourceRecord("erp", "contacts", "L1", row, location="c.csv:2")
    fast = mapper.to_candidate(record)
    direct = mapper._direct
    try:
        mapper._direct = _Declining()  # type: ignore[assignment]
        slow = mapper.to_candidate(record)
    finally:
        mapper._direct = direct
    assert fast == slow


class _Declining:
    def values(self, data: dict[str, Any]) -> None:
        return None
