"""The normalisers' fast paths give exactly what the full paths give, whenever they answer.

A fast path only answers for inputs it recognises (a plain ASCII email, a Chinese mobile as typed) and
leaves everything else to the full path; these tests hold it to the full path's result on arbitrary
input, so a fast path can never change a stored value.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.normalize import normalize_email, normalize_phone
from hub.normalize.emails import _full_email, _plain_email
from hub.normalize.phones import _full_phone, _plain_cn_mobile

LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-!#~"
DOMAIN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
SPACE = st.sampled_from(["", " ", "  ", "\t", "\u3000", "\x1c", "\xa0", "\x01", "\u200b"])


def _full_or_error(normalise, *args: object) -> object:
    try:
        return normalise(*args)
    except ValueError as exc:
        return f"error: {exc}"


@st.composite
def email_like(draw: st.DrawFn) -> str:
    local = draw(st.text(LOCAL_CHARS, min_size=0, max_size=70))
    labels = draw(st.lists(st.text(DOMAIN_CHARS, min_size=0, max_size=66), min_size=1, max_size=4))
    tld = draw(st.sampled_from(["com", "cn", "COM", "c", "123", "xn--fiqs8s", "museum", "a" * 64]))
    at = draw(st.sampled_from(["@", "@", "@", "@@", "＠", ""]))
    return draw(SPACE) + local + at + ".".join([*labels, tld]) + draw(SPACE)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(email_like(), st.emails(), st.text(max_size=40)))
@example("user0@qq.com")
@example(" USER1@163.COM ")
@example("Emma.Smith12@corp.com.cn")
@example("a" * 64 + "@x.cn")
@example("a" * 65 + "@x.cn")
@example("x@" + "a" * 63 + ".com")
@example("x@" + "a" * 64 + ".com")
@example("x@-a.com")
@example("x@a-.com")
@example(".x@a.com")
@example("x.@a.com")
@example("x..y@a.com")
@example("mailto:x@a.com")
@example("x@a.c")
@example("\x1cx@a.com\x0b")
def test_plain_email_agrees_with_the_full_path(text: str) -> None:
    fast = _plain_email(text)
    if fast is not None:
        assert fast == _full_or_error(_full_email, text)
    assert _full_or_error(normalize_email, text) == _full_or_error(_full_email, text)


def test_plain_email_answers_for_the_common_spellings() -> None:
    assert _plain_email(" USER1@163.COM ") == "user1@163.com"
    assert _plain_email("emma.smith12@corp.com.cn") == "emma.smith12@corp.com.cn"
    assert _plain_email("张伟@example.cn") is None  # left to the full path
    assert normalize_email("张伟@example.cn") == "张伟@example.cn"


MOBILE_FORMATS = [
    "{a}{b}{c}",
    "{a}-{b}-{c}",
    "{a} {b} {c}",
    "+86 {a} {b} {c}",
    "+86-{a}-{b}-{c}",
    "+86{a}{b}{c}",
    "+86 {a}{b}{c}",
    " {a}{b}{c} ",
    "{a} {b}-{c}",
    "(+86) {a} {b} {c}",
    "0086 {a} {b} {c}",
    "{a}.{b}.{c}",
]


@st.composite
def mobile_like(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from("0123456789"))
    digits = draw(st.text("0123456789", min_size=10, max_size=10))
    shape = draw(st.sampled_from(MOBILE_FORMATS))
    number = "1" + digits if first != "0" else first + digits
    return shape.format(a=number[:3], b=number[3:7], c=number[7:])


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(mobile_like(), st.text("0123456789 +-()", max_size=20), st.text(max_size=20)),
    st.sampled_from(["CN", "cn", "Cn", "US", "HK"]),
)
@example("13800138000", "CN")
@example("17951234567", "CN")
@example("+86 179 5123 4567", "CN")
@example("11912345678", "CN")
@example("12593123456", "CN")
@example("１３８００１３８０００", "CN")
def test_plain_mobile_agrees_with_the_full_path(text: str, region: str) -> None:
    fast = _plain_cn_mobile(text, region)
    if fast is not None:
        assert fast == _full_or_error(_full_phone, text, region)
    assert _full_or_error(normalize_phone, text, region) == _full_or_error(
        _full_phone, text, region
    )


@pytest.mark.parametrize("prefix", [f"1{d}{e}" for d in "3456789" for e in "0123456789"])
def test_plain_mobile_agrees_for_every_mobile_prefix(prefix: str) -> None:
    # Number plans differ by prefix (allocated ranges, carrier prefixes such as 17951): every
    # three-digit prefix, four-digit continuations, every format the fast path accepts.
    for fourth in "0123456789":
        number = f"{prefix}{fourth}0013800"
        for shape in MOBILE_FORMATS[:9]:
            text = shape.format(a=number[:3], b=number[3:7], c=number[7:])
            fast = _plain_cn_mobile(text, "CN")
            if fast is not None:
                assert fast == _full_phone(text, "CN"), text
