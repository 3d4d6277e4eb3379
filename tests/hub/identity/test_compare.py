"""Each comparator's levels on real-world spellings of the same and of different customers."""

from __future__ import annotations

import pytest

from hub.identity.compare import (
    Comparison,
    ComparisonSpec,
    company_tokens,
    compare_prepared,
    prepare_person_name,
)


def level(comparator: str, a: object, b: object, **options: float) -> str:
    spec = ComparisonSpec.model_validate(
        {"field": "x", "comparator": comparator, "options": options}
    )
    comparison = Comparison(spec)
    pa, pb = comparison.prepare({"x": a}), comparison.prepare({"x": b})
    if pa is None or pb is None:
        return "missing"
    return comparison.levels[comparison.compare(pa, pb)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("张伟", "张伟", "exact"),
        ("张伟", "Zhang Wei", "same_keys"),
        ("张伟", "Wei Zhang", "same_keys"),
        ("张伟", "ZHANG, Wei", "same_keys"),
        ("张伟", "张玮", "same_keys"),  # homophone typed through a pinyin input method
        ("欧阳娜娜", "Ouyang Nana", "same_keys"),  # compound surname
        ("吕晓凯", "Lyu Xiaokai", "same_keys"),  # ü written yu on a passport
        ("Bill Gates", "William Gates", "nickname"),
        ("Liz Taylor", "Elizabeth Taylor", "nickname"),
        ("Bob Smith", "Robert Smith", "nickname"),
        ("Jonathan Smith", "Jonathon Smith", "close"),
        ("W. Zhang", "Wei Zhang", "initial"),
        ("David Zhang", "张伟", "family_only"),
        ("David Zhang", "Michael Zhang", "family_only"),
        ("S. Nelson", "L. Nelson", "family_only"),  # the initials differ: not one name
        ("Zhang W.", "张伟", "initial"),
        ("张伟", "张伟磊", "different"),  # another given name, not a typo
        ("张宇伟", "张雅伟", "different"),  # two Hanzi names one sound apart differ
        ("陈宸扬", "陈勇勇", "different"),  # in Hanzi, one family name is not half a match
        ("张伟", "李娜", "different"),
        ("张伟", None, "missing"),
    ],
)
def test_person_name_levels(a: str, b: str | None, expected: str) -> None:
    assert level("person_name", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Acme Corp.", "ACME Inc", "exact"),
        ("华为技术有限公司", "华为技术（深圳）有限公司", "exact"),
        ("华为技术有限公司", "华为技术有限公司北京分公司", "exact"),
        ("阿里巴巴（中国）网络技术有限公司", "Alibaba (China) Network Technology Co., Ltd.",
         "same_in_translation"),
        ("深圳市腾达电子有限公司", "Shenzhen Tengda Electronics Co., Ltd.", "same_in_translation"),
        ("华为", "华为技术有限公司", "subset"),
        ("华为技术有限公司", "华为终端有限公司", "different"),
        ("Acme Corp.", "Globex Inc", "different"),
    ],
)  # fmt: skip
def test_company_name_levels(a: str, b: str, expected: str) -> None:
    assert level("company_name", a, b) == expected


def test_company_tokens_align_scripts() -> None:
    assert company_tokens("深圳市腾达电子") == "tengda electronics"
    assert company_tokens("shenzhen tengda electronics") == "tengda electronics"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("zhang.wei@acme.cn", "zhang.wei@acme.cn", "exact"),
        ("zhang.wei@acme.cn", "zhnag.wei@acme.cn", "one_edit"),  # adjacent letters swapped
        ("zhang.wei@gmail.com", "zhang.wei@gmial.com", "one_edit"),  # domain typo
        ("aluo@acme.cn", "mluo@acme.cn", "different"),  # colleagues: initial + family name
        ("liu.sifang@acme.cn", "liu.sifang2@acme.cn", "different"),  # namesakes told apart
        ("12345678@qq.com", "12345679@qq.com", "different"),  # other QQ accounts
        ("zhang.wei@acme.cn", "zhang.wei@gmail.com", "different"),  # the name again, not identity
        ("info@acme.cn", "info@acme.cn", "missing"),  # a role mailbox is no one's own address
    ],
)
def test_email_levels(a: str, b: str, expected: str) -> None:
    assert level("email", a, b) == expected


def test_email_domain_ignores_free_mail() -> None:
    assert level("email_domain", "li.na@acme.cn", "zhang.wei@acme.cn") == "same_domain"
    assert level("email_domain", "a@gmail.com", "b@gmail.com") == "missing"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("+8613800138000", "+8613800138000", "exact"),
        ("+8613800138000", "+8613800183000", "transposed"),  # 38 → 83
        ("+8613800138000", "+8613800138001", "different"),  # the next number is someone else's
        ("+8613800138000", "138-0013-8000", "exact"),  # a raw value is normalised first
        ("+861088886666", "+862188886666", "same_last_8"),  # same number, other area code
        ("+8613800138000", "+8613900139000", "different"),
    ],
)
def test_phone_levels(a: str, b: str, expected: str) -> None:
    assert level("phone", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1980-02-03", "1980-02-03", "exact"),
        ("1980-02-03", "1980-03-02", "day_month_swapped"),
        ("1980-02-03", "1980-02-04", "one_part_differs"),
        ("1980-02-03", "1980-07-09", "same_year"),
        ("1980-02-03", "1975-07-09", "different"),
    ],
)
def test_date_levels(a: str, b: str, expected: str) -> None:
    assert level("date", a, b) == expected


def test_identifier_levels() -> None:
    assert level("identifier", "A-123 456", "a123456") == "exact"
    assert level("identifier", "A123456", "A123457") == "one_edit"
    assert level("identifier", "A1", "A2") == "different"  # too short for a typo to be told


def test_address_parts() -> None:
    assert level("street", "科苑南路2666号", "2666 Keyuan South Road") == "exact"
    assert level("street", "科苑南路2666号", "Keyuan Nan Lu 2666") == "exact"
    assert level("street_number", "科苑南路2666号", "2666 Keyuan South Road") == "exact"
    assert level("street_number", "科苑南路2666号", "科苑南路12号") == "different"
    assert level("place", "深圳市", "Shenzhen") == "exact"
    assert level("place", "重庆", "Chongqing") == "exact"  # read as a place name, not zhongqing
    assert level("postcode", "518057", "518000") == "same_area"
    assert level("postcode", "518057", "100080") == "different"


def test_several_fields_compare_best_pair() -> None:
    spec = ComparisonSpec(name="phones", fields=("mobile", "phone"), comparator="phone")
    comparison = Comparison(spec)
    a = comparison.prepare({"mobile": "+8613800138000", "phone": "+861088886666"})
    b = comparison.prepare({"phone": "+8613800138000"})
    assert comparison.levels[compare_prepared([comparison], [a], [b])[0]] == "exact"
    assert comparison.pair_tf_key(a, b, 1) == "+8613800138000"


def test_name_keys_match_the_normaliser() -> None:
    from hub import normalize as n

    for name in ["张伟", "欧阳娜娜", "吕晓凯", "曾伟", "单雄信", "Zhang Wei", "Bill Gates"]:
        prepared = prepare_person_name(name)
        assert prepared is not None
        assert set(prepared.keys) == n.person_name_keys(name), name
