"""A match key's ``kind:value`` text is made once, and takes no part in equality or hashing."""

from __future__ import annotations

import dataclasses

import pytest

from hub.identity.keys import STRONG, WEAK, MatchKey, keys_for
from hub.model import EntityType


def test_the_key_text_is_kind_and_value() -> None:
    key = MatchKey("email", "a@x.cn", STRONG)
    assert key.key == "email:a@x.cn"
    assert MatchKey("phone", "+8613800000000", WEAK).key == "phone:+8613800000000"


def test_equal_keys_hash_alike_and_stay_frozen() -> None:
    a, b = MatchKey("email", "a@x.cn", STRONG), MatchKey("email", "a@x.cn", STRONG)
    assert a == b
    assert hash(a) == hash(b)
    assert a != MatchKey("email", "a@x.cn", WEAK)
    assert len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.key = "other"  # type: ignore[misc]


def test_keys_for_a_person() -> None:
    keys = keys_for(
        EntityType.PERSON, {"email": "info@x.cn", "email2": "wei@x.cn", "mobile": "+8613800000000"}
    )
    assert [(k.key, k.strength) for k in keys] == [
        ("email:info@x.cn", WEAK),
        ("email:wei@x.cn", STRONG),
        ("phone:+8613800000000", WEAK),
    ]
