"""Blocking keys, the in-memory blocking index (its contract) and batch candidate pairs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.identity.blocking import (
    Blocker,
    BlockingRule,
    BlockKeys,
    InMemoryBlockingIndex,
    KeyPart,
    candidate_pairs,
)


def rule(name: str, on: list[str], refine: list[str] | None = None) -> BlockingRule:
    return BlockingRule.model_validate({"name": name, "on": on, "refine": refine or []})


def test_key_part_shorthand_and_unknown_function() -> None:
    part = KeyPart.model_validate("phone_last8(mobile, phone)")
    assert part.function == "phone_last8"
    assert part.fields == ("mobile", "phone")
    with pytest.raises(ValidationError, match="unknown key function"):
        KeyPart.model_validate("soundex(full_name)")


def test_name_key_meets_across_scripts_orders_and_nicknames() -> None:
    blocker = Blocker([rule("name", ["name(full_name)"])])
    keys = [set(blocker.keys({"full_name": n})) for n in ("张伟", "Zhang Wei", "Wei Zhang", "张玮")]
    assert set.intersection(*keys)
    assert set(blocker.keys({"full_name": "Bill Gates"})) & set(
        blocker.keys({"full_name": "William Gates"})
    )


def test_phone_last8_and_email_local_part() -> None:
    blocker = Blocker([rule("phone", ["phone_last8(mobile, phone)"]),
                       rule("local", ["email_local(email)"])])  # fmt: skip
    a = blocker.keys({"mobile": "+8613800138000", "email": "zhang.wei@acme.cn"})
    b = blocker.keys({"phone": "+8613800138000", "email": "zhang.wei@gmail.com"})
    assert len(set(a) & set(b)) == 2
    assert not blocker.keys({"email": "info@acme.cn"})  # a role mailbox is no key


def test_compound_rule_needs_every_part() -> None:
    blocker = Blocker([rule("address", ["postcode(postcode)", "street_number(street)"])])
    assert blocker.keys({"postcode": "518057", "street": "科苑南路2666号"})
    assert blocker.keys({"postcode": "518057"}) == []


def test_blocker_matches_rule_keys() -> None:
    rules = [rule("name", ["name(full_name)"], ["place(city)"]),
             rule("company", ["surname(full_name)", "company_tokens(company_name)"])]  # fmt: skip
    record = {"full_name": "张伟", "city": "深圳市", "company_name": "深圳市腾达电子有限公司"}
    assert Blocker(rules).keys_by_rule(record) == [r.keys(record) for r in rules]


def test_in_memory_index_contract() -> None:
    index = InMemoryBlockingIndex()
    index.add("a", ["k1", "k2"])
    index.add("b", ["k1"])
    index.add("c", ["k3"])
    assert index.candidates(["k1"], limit=10) == {"a", "b"}
    assert index.candidates(["k2", "k3"], limit=10) == {"a", "c"}
    assert index.candidates(["nope"], limit=10) == set()
    # a block larger than the limit is skipped: too common to say anything
    assert index.candidates(["k1", "k3"], limit=1) == {"c"}
    index.add("a", ["k3"])  # adding again replaces the keys
    assert index.candidates(["k2"], limit=10) == set()
    assert index.candidates(["k3"], limit=10) == {"a", "c"}
    index.remove("a")
    index.remove("never-added")
    assert index.candidates(["k1", "k3"], limit=10) == {"b", "c"}
    assert len(index) == 2
    assert index.block_size("k1") == 1


def test_refined_key_sub_blocks_an_oversized_block() -> None:
    """A switchboard shared by many is skipped; with the name as refinement, the two records of one
    person behind it still meet."""
    blocker = Blocker([rule("phone", ["phone_last8(phone)"], ["name(full_name)"])])
    colleagues = [
        "李娜",
        "王芳",
        "刘洋",
        "陈静",
        "杨磊",
        "黄敏",
        "赵强",
        "吴军",
        "周杰",
        "徐涛",
        "孙超",
        "马明",
        "朱刚",
        "胡平",
        "郭辉",
        "何鹏",
    ]
    records = [{"phone": "+8675588886666", "full_name": name} for name in colleagues]
    records += [{"phone": "+8675588886666", "full_name": "张伟"},
                {"phone": "+8675588886666", "full_name": "Zhang Wei"}]  # fmt: skip
    keys = BlockKeys(1)
    index = InMemoryBlockingIndex()
    for i, record in enumerate(records):
        keys.add(i, blocker.keys_by_rule(record))
        index.add(str(i), blocker.keys(record))
    pairs = candidate_pairs(keys, len(records), max_block=10)
    assert list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True)) == [(16, 17)]
    assert pairs.skipped_blocks_per_rule == [1]
    # the incremental index applies the same rule
    assert index.candidates(blocker.keys(records[17]), limit=10) == {"16", "17"}


def test_candidate_pairs_once_each_with_rule_bits() -> None:
    keys = BlockKeys(2)
    keys.add(0, [["x"], ["y"]])
    keys.add(1, [["x"], ["y"]])
    keys.add(2, [["x"], []])
    pairs = candidate_pairs(keys, 3, max_block=5)
    found = dict(zip(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True),
                     pairs.rules.tolist(), strict=True))  # fmt: skip
    assert found == {(0, 1): 0b11, (0, 2): 0b01, (1, 2): 0b01}


def test_company_words_key_meets_across_scripts_and_tells_trades_apart() -> None:
    """Brand and trade together: one key for a company's legal, bracketed and English names, where
    the brand word alone would be shared by every company of that brand."""
    blocker = Blocker([rule("words", ["company_words(name)"])])
    names = ["深圳市腾达电子有限公司", "腾达电子（深圳）有限公司", "Tengda Electronics Co., Ltd."]
    keys = [set(blocker.keys({"name": name})) for name in names]
    assert len(set.union(*keys)) == 1
    assert not keys[0] & set(blocker.keys({"name": "腾达科技有限公司"}))
    assert blocker.keys({"name": "   "}) == []
