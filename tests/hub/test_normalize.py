"""Value normalisation: real-world messy inputs in, one canonical spelling or a clear error out."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains
from stdnum.cn import uscc

from hub import normalize as n
from hub.normalize import InvalidValue

# --------------------------------------------------------------------------------------- shared


BLANKS = ["", "   ", "\u3000", "\t\n", "\ufeff", "\u200b "]
ALL_NORMALISERS = [
    n.normalize_email,
    n.normalize_phone,
    n.normalize_country,
    n.normalize_credit_code,
    n.registrable_domain,
    n.normalize_text,
    n.normalize_person_name,
    n.company_name_key,
    n.company_name_pinyin_key,
    n.parse_datetime,
    n.parse_date,
    n.parse_int,
    n.parse_decimal,
    n.parse_bool,
]


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize("normalise", ALL_NORMALISERS, ids=lambda f: f.__name__)
def test_empty_or_whitespace_is_none_not_an_error(
    normalise: Callable[..., object], blank: str
) -> None:
    assert normalise(blank) is None
    assert normalise(None) is None


def test_invalid_value_is_a_value_error_carrying_the_value() -> None:
    with pytest.raises(ValueError, match="is not a valid email address") as caught:
        n.normalize_email("abc@")
    assert isinstance(caught.value, InvalidValue)
    assert caught.value.value == "abc@"


def test_very_long_values_are_cut_in_messages() -> None:
    with pytest.raises(InvalidValue) as caught:
        n.normalize_email("x" * 5000)
    assert len(str(caught.value)) < 200


# ---------------------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Zhang.Wei@Example.COM", "zhang.wei@example.com"),
        ("  <Zhang.Wei@Example.com>  ", "zhang.wei@example.com"),
        ("mailto:Li.Na@QQ.com?subject=hello", "li.na@qq.com"),
        ("MAILTO:li.na@qq.com", "li.na@qq.com"),
        ("Zhang Wei <zw@huawei.com>", "zw@huawei.com"),
        ('"Wei, Zhang" <ZW@Huawei.com>', "zw@huawei.com"),
        ("zw＠huawei.com", "zw@huawei.com"),  # full-width at sign typed with a Chinese IME
        ("ｚｗ＠ｈｕａｗｅｉ．ｃｏｍ", "zw@huawei.com"),  # GBK-era full-width letters
        ("zw@huawei。com", "zw@huawei.com"),  # ideographic full stop
        ("\ufeffzw@huawei.com\u200b", "zw@huawei.com"),  # BOM and zero-width space from Excel
        ("first.last+crm@sub.example.co.uk", "first.last+crm@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user_name-1@example-mail.com.cn", "user_name-1@example-mail.com.cn"),
        ("张伟@例子.中国", "张伟@xn--fsqu00a.xn--fiqs8s"),
        ("info@xn--fsqu00a.xn--fiqs8s", "info@xn--fsqu00a.xn--fiqs8s"),
        ("hans@straße.de", "hans@xn--strae-oqa.de"),  # IDNA 2008: ß is kept, not mapped to ss
        ("a@b.photography", "a@b.photography"),
    ],
)
def test_email_normalises(raw: Any, expected: Any) -> None:
    assert n.normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc@", "no domain after '@'"),
        ("abc", "no '@'"),
        ("zw@@huawei.com", "more than one '@'"),
        ("a@b@huawei.com", "more than one '@'"),
        ("@huawei.com", "nothing before '@'"),
        ("zw@huawei", "no top-level domain"),
        ("zw@huawei..com", "two dots"),
        ("zw..wei@huawei.com", "two dots in a row"),
        (".zw@huawei.com", "a dot at the start or end"),
        ("zw.@huawei.com", "a dot at the start or end"),
        ("zw wei@huawei.com", "contains a space"),
        ("zw@hua wei.com", "contains a space"),
        ("zw@[10.0.0.1]", "IP-address domains"),
        ("zw@10.0.0.1", "top-level domain '1' is not valid"),
        ("zw@-huawei.com", "domain label '-huawei'"),
        ("zw@huawei.c", "top-level domain 'c' is not valid"),
        ("z(w)@huawei.com", "character '(' is not allowed"),
        ("<>", "nothing inside the brackets"),
        ("x" * 65 + "@huawei.com", "longer than 64"),
    ],
)
def test_email_rejects_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        n.normalize_email(raw)
    message = str(caught.value)
    assert message.startswith(f"{raw!r} is not a valid email address"), message
    assert reason in message


def test_email_error_message_matches_the_documented_example() -> None:
    with pytest.raises(InvalidValue, match=r"^'abc@' is not a valid email address"):
        n.normalize_email("abc@")


def test_email_rejects_non_text() -> None:
    with pytest.raises(InvalidValue, match="is not a valid email address"):
        n.normalize_email(["zw@huawei.com"])  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, database=None)
@given(st.emails())
def test_email_normalisation_is_idempotent(address: str) -> None:
    try:
        once = n.normalize_email(address)
    except InvalidValue:
        return  # the hypothesis generator knows quoted forms we refuse; refusing is fine
    assert once is not None
    assert n.normalize_email(once) == once
    assert once == once.lower().strip()


@settings(max_examples=100, deadline=None, database=None)
@given(st.emails())
def test_email_case_and_wrapping_do_not_change_the_key(address: str) -> None:
    try:
        plain = n.normalize_email(address)
    except InvalidValue:
        return
    assert n.normalize_email(f"  <{address.upper()}> ") == plain


# ---------------------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138 0013 8000", "CN", "+8613800138000"),
        ("138-0013-8000", "CN", "+8613800138000"),
        ("13800138000", "CN", "+8613800138000"),
        ("008613800138000", "CN", "+8613800138000"),
        ("0086 138 0013 8000", "CN", "+8613800138000"),
        ("+86 (0)10 8888 8888", "CN", "+861088888888"),
        ("(0)10 8888 8888", "CN", "+861088888888"),
        ("010-8888 8888", "CN", "+861088888888"),
        ("１３８００１３８０００", "CN", "+8613800138000"),  # full-width digits
        ("＋８６　１３８－００１３－８０００", "CN", "+8613800138000"),
        ("tel:+86-10-8888-8888;ext=12", "CN", "+861088888888"),
        ("TEL:+8613800138000", "CN", "+8613800138000"),
        ("+1 650 253 0000 ext. 123", "CN", "+16502530000"),
        ("+86-138-0013-8000#12", "CN", "+8613800138000"),
        ("010-88888888 转 123", "CN", "+861088888888"),
        ("010-88888888分机8001", "CN", "+861088888888"),
        ("010-88888888-123", "CN", "+861088888888"),  # dash extension, the Chinese habit
        ("手机：138 0013 8000", "CN", "+8613800138000"),
        ("Tel: +86 21 6888 8888", "CN", "+862168888888"),
        ("138 0013 8000 (mobile)", "CN", "+8613800138000"),
        ("852 2123 4567", "CN", "+85221234567"),  # HK number typed without +
        ("(650) 253-0000", "US", "+16502530000"),
        ("650.253.0000", "us", "+16502530000"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "CN", "+442079460958"),
        ("2123 4567", "HK", "+85221234567"),
        ("14012345678", "CN", "+8614012345678"),  # ungrouped: stays Chinese, never +1 401...
        ("0755-2345-678", "CN", "+867552345678"),  # possible: the last group is not an extension
    ],
)
def test_phone_normalises_to_e164(raw: Any, region: str, expected: Any) -> None:
    assert n.normalize_phone(raw, region) == expected


def test_phone_default_region_is_china() -> None:
    assert n.normalize_phone("138 0013 8000") == "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345", "a local number without its area code"),
        ("abc", "no phone number in it"),
        ("+86 138 0013 8000 0000", "too long"),
        ("+999 1234 5678", "unknown country calling code"),
        ("13800138000/13900139000", "more than one number"),
        ("138 0013 8000；139 0013 9000", "more than one number"),
        ("+86 1", "too short"),
    ],
)
def test_phone_rejects_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        n.normalize_phone(raw, "CN")
    message = str(caught.value)
    assert message.startswith(f"{raw!r} is not a valid phone number"), message
    assert reason in message


def test_phone_without_country_code_in_unknown_region() -> None:
    with pytest.raises(InvalidValue, match="default region 'XX' is not a known region"):
        n.normalize_phone("138 0013 8000", "XX")


@pytest.mark.parametrize(
    ("e164", "digits"),
    [
        ("+8613800138000", "13800138000"),
        ("+442079460958", "2079460958"),
        ("+16502530000", "6502530000"),
    ],
)
def test_phone_digits_key_is_the_national_number(e164: str, digits: str) -> None:
    assert n.phone_digits_key(e164) == digits


def test_phone_digits_key_wants_e164() -> None:
    with pytest.raises(InvalidValue, match=r"E\.164"):
        n.phone_digits_key("13800138000")


def test_phone_digits_key_sees_transpositions() -> None:
    a = n.phone_digits_key(n.normalize_phone("138 0013 8000") or "")
    b = n.phone_digits_key(n.normalize_phone("138 0031 8000") or "")
    assert len(a) == len(b)
    assert sum(x != y for x, y in zip(a, b, strict=True)) == 2


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.sampled_from(
        ["{a} {b} {c}", "{a}-{b}-{c}", "+86 {a} {b} {c}", "0086{a}{b}{c}", "({a}) {b}{c}"]
    ),
)
def test_chinese_mobiles_in_any_format_meet_and_are_idempotent(mobile: str, layout: str) -> None:
    text = layout.format(a=mobile[:3], b=mobile[3:7], c=mobile[7:])
    e164 = n.normalize_phone(text, "CN")
    assert e164 == "+86" + mobile
    assert n.normalize_phone(e164, "CN") == e164
    assert n.normalize_phone(e164, "US") == e164  # an E.164 number ignores the default region
    assert n.phone_digits_key(e164) == mobile


# -------------------------------------------------------------------------------------- country


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CN", "CN"),
        ("cn", "CN"),
        (" us ", "US"),
        ("CHN", "CN"),
        ("chn", "CN"),
        ("156", "CN"),
        (156, "CN"),
        ("36", "AU"),  # numeric without its leading zero (036)
        ("840", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States of America", "US"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("United Kingdom", "GB"),
        ("PRC", "CN"),
        ("P.R. China", "CN"),
        ("People's Republic of China", "CN"),
        ("Mainland China", "CN"),
        ("China (Mainland)", "CN"),
        ("China", "CN"),
        ("中国", "CN"),
        ("中國", "CN"),
        ("中华人民共和国", "CN"),
        ("中国大陆", "CN"),
        ("美国", "US"),
        ("英国", "GB"),
        ("日本", "JP"),
        ("德国", "DE"),
        ("法国", "FR"),
        ("韩国", "KR"),
        ("新加坡", "SG"),
        ("香港", "HK"),
        ("中国香港", "HK"),
        ("中國香港", "HK"),
        ("Hong Kong SAR China", "HK"),
        ("Hong Kong", "HK"),
        ("澳门", "MO"),
        ("台湾", "TW"),
        ("台灣", "TW"),
        ("中国台湾", "TW"),
        ("Taiwan, Province of China", "TW"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("North Korea", "KP"),
        ("Russian Federation", "RU"),
        ("Россия", "RU"),
        ("Viet Nam", "VN"),
        ("Côte d’Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Bosnia & Herzegovina", "BA"),
        ("Bosnia and Herzegovina", "BA"),
        ("St. Kitts & Nevis", "KN"),
        ("Saint Kitts and Nevis", "KN"),
        ("The Netherlands", "NL"),
        ("Holland", "NL"),
        ("Deutschland", "DE"),
        ("España", "ES"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Österreich", "AT"),
        ("ＣＨＩＮＡ", "CN"),  # full-width
        ("XK", "XK"),
        ("DDR", "DE"),  # retired code, still found in old ERP data
    ],
)
def test_country_to_alpha2(raw: Any, expected: Any) -> None:
    assert n.normalize_country(raw) == expected


@pytest.mark.parametrize("raw", ["Atlantis", "EU", "ZZ", "999", "Chinaa", "C", "Korea, Democratic"])
def test_country_unknown_is_rejected(raw: Any) -> None:
    with pytest.raises(InvalidValue, match=r"is not a known country \(an ISO 3166-1 code"):
        n.normalize_country(raw)


# --------------------------------------------------------------------------------- credit code

REAL_CREDIT_CODES = [
    "914403001922038216",
    "91330100799655058B",
    "9144030071526726XG",
    "91110108551385082Q",
]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
@pytest.mark.parametrize(
    "dress",
    [
        lambda c: c,
        lambda c: c.lower(),
        lambda c: f"  {c[:6]} {c[6:12]} {c[12:]} ",
        lambda c: f"{c[:8]}-{c[8:17]}-{c[17]}",
        lambda c: c.translate({ord(x): ord(x) + 0xFEE0 for x in "0123456789ABCDEFGHJKLMNPQRTUWXY"}),
    ],
    ids=["plain", "lower", "spaced", "dashed", "full-width"],
)
def test_credit_code_normalises(code: str, dress: Callable[[str], str]) -> None:
    assert n.normalize_credit_code(dress(code)) == code


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("9144030019220382", "it has 16 characters, 18 expected"),
        ("9144030019220382160", "it has 19 characters, 18 expected"),
        ("91440300192203821I", "'I' not allowed"),
        ("9144030019220382O6", "'O' not allowed"),
        ("91440300192203821#", "'#' not allowed"),
        ("914403001922038217", "the check character '7' is wrong"),
        ("9A4403001922038216", "the first 8 characters"),
        ("-- --", "no characters left"),
    ],
)
def test_credit_code_rejects_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        n.normalize_credit_code(raw)
    message = str(caught.value)
    assert message.startswith(f"{raw!r} is not a valid unified social credit code"), message
    assert reason in message


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.text("0123456789", min_size=8, max_size=8),
    st.text(_USCC_ALPHABET, min_size=9, max_size=9),
)
def test_credit_code_round_trip_and_idempotence(head: str, organisation: str) -> None:
    body = head + organisation
    code = body + uscc.calc_check_digit(body + "0")
    assert n.normalize_credit_code(code.lower()) == code
    assert n.normalize_credit_code(code) == code
    wrong = next(c for c in _USCC_ALPHABET if c != code[-1])
    with pytest.raises(InvalidValue, match="check character"):
        n.normalize_credit_code(body + wrong)


# ------------------------------------------------------------------------------------- tax ids


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("9144 0300 1922 0382 16", "CN", "914403001922038216"),
        ("914403001922038216", "中国", "914403001922038216"),
        ("DE 136,695,976", "DE", "136695976"),
        ("DE136695976", "Germany", "136695976"),
        ("GB 980 7806 84", "GB", "980780684"),
        ("FR 40 303 265 045", "FR", "40303265045"),
        ("12-3456789", "US", "123456789"),  # no stdnum VAT module for the US: compacted only
        ("ab-12 34", None, "AB1234"),
        ("ＡＢ１２３", "HK", "AB123"),
    ],
)
def test_tax_id_normalises(raw: Any, country: str | None, expected: Any) -> None:
    assert n.normalize_tax_id(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("DE136695978", "DE", "is not a valid DE tax id"),
        ("DE13669597", "DE", "wrong length"),
        ("914403001922038217", "CN", "check character"),
        ("--", None, "no letters or digits"),
    ],
)
def test_tax_id_rejects_with_reason(raw: Any, country: str | None, reason: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(reason)):
        n.normalize_tax_id(raw, country)


def test_tax_id_unknown_country_is_an_error_naming_the_country() -> None:
    with pytest.raises(InvalidValue, match="'Atlantis' is not a known country"):
        n.normalize_tax_id("123", "Atlantis")


# -------------------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Example.co.uk/path", "example.co.uk"),
        ("sub.example.com.cn", "example.com.cn"),
        ("example.com.cn", "example.com.cn"),
        ("www.huawei.com", "huawei.com"),
        ("HTTP://WWW.HUAWEI.COM/cn/", "huawei.com"),
        ("http://user:secret@shop.example.com:8080/x?y=1#z", "example.com"),
        ("example.com:443", "example.com"),
        ("www.example.com/about-us", "example.com"),
        ("//cdn.example.org/a.js", "example.org"),
        ("zw@Mail.Huawei.com", "huawei.com"),
        ("mailto:zw@huawei.com", "huawei.com"),
        ("www.例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("http://例子.中国/", "xn--fsqu00a.xn--fiqs8s"),
        ("xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s"),
        ("www。baidu。com", "baidu.com"),
        ("ＷＷＷ．ＱＱ．ＣＯＭ", "qq.com"),
        ("example.com.", "example.com"),
        ("foo.github.io", "foo.github.io"),  # private PSL section: foo's own site
        ("a.b.example.gov.cn", "example.gov.cn"),
    ],
)
def test_registrable_domain(raw: Any, expected: Any) -> None:
    assert n.registrable_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1.2.3.4", "an IP address has no registrable domain"),
        ("http://[::1]:8080/", "an IP address has no registrable domain"),
        ("https://192.168.0.1/admin", "an IP address has no registrable domain"),
        ("com.cn", "is a public suffix"),
        ("co.uk", "is a public suffix"),
        ("github.io", "is a public suffix"),
        ("localhost", "is not a host name with a dot in it"),
        ("http://", "no host name in it"),
        ("not a url", "it contains a space"),
        ("exa_mple!.com", "is not a host name"),
    ],
)
def test_registrable_domain_rejects_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        n.registrable_domain(raw)
    message = str(caught.value)
    assert message.startswith(f"{raw!r} is not a web address or domain"), message
    assert reason in message


@settings(max_examples=200, deadline=None, database=None)
@given(domains())
def test_registrable_domain_is_idempotent(host: str) -> None:
    try:
        once = n.registrable_domain(host)
    except InvalidValue:
        return  # generated bare suffixes
    assert once is not None
    assert n.registrable_domain(once) == once
    assert n.registrable_domain(f"https://www.{host}/index.html") == once


def test_email_domain_and_website_domain_meet() -> None:
    email = n.normalize_email("张伟@www.例子.中国") or ""
    assert n.registrable_domain(email) == n.registrable_domain("https://例子.中国/")


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("GMAIL.COM", True),
        ("outlook.com", True),
        ("hotmail.com", True),
        ("hotmail.co.uk", True),
        ("yahoo.com", True),
        ("yahoo.co.jp", True),
        ("qq.com", True),
        ("vip.qq.com", True),
        ("foxmail.com", True),
        ("163.com", True),
        ("vip.163.com", True),
        ("126.com", True),
        ("sina.com", True),
        ("sohu.com", True),
        ("aliyun.com", True),
        ("139.com", True),
        ("icloud.com", True),
        ("zw@qq.com", True),
        ("huawei.com", False),
        ("mail.huawei.com", False),
        ("example.com.cn", False),
        ("olive.com", False),
        ("not a domain", False),
        ("", False),
        (None, False),
        (["qq.com"], False),
    ],
)
def test_free_mail_domains(domain: Any, free: bool) -> None:
    assert n.is_free_mail_domain(domain) is free


# ----------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Huawei   Technologies  ", "Huawei Technologies"),
        ("Ｈｕａｗｅｉ\u3000技术", "Huawei 技术"),
        ("华为\t技术\n有限公司", "华为 技术 有限公司"),
        ("軟體開發", "軟體開發"),  # traditional stays traditional
        ("软件开发", "软件开发"),
        ("a\u200bb\ufeff", "ab"),
        ("line\x00break", "line break"),
        ("（深圳）", "(深圳)"),
        (12345, "12345"),
    ],
)
def test_normalize_text(raw: Any, expected: Any) -> None:
    assert n.normalize_text(raw) == expected


def test_normalize_text_rejects_non_text() -> None:
    with pytest.raises(InvalidValue, match="is not text"):
        n.normalize_text({"a": 1})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  张 伟 ", "张伟"),
        ("张　伟", "张伟"),  # ideographic space
        ("Wei   Zhang", "Wei Zhang"),
        ("ＺＨＡＮＧ Ｗｅｉ", "ZHANG Wei"),
        ("McDonald", "McDonald"),
        ("van der Berg", "van der Berg"),
        ("唐纳德•特朗普", "唐纳德·特朗普"),
        ("唐纳德・特朗普", "唐纳德·特朗普"),
        ("張偉", "張偉"),
        ("José Müller", "José Müller"),
    ],
)
def test_normalize_person_name(raw: Any, expected: Any) -> None:
    assert n.normalize_person_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("13800138000", "it has no letters"),
        ("zw@huawei.com", "looks like an email address"),
        ("--", "no letters"),
    ],
)
def test_person_name_rejects_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        n.normalize_person_name(raw)
    assert str(caught.value).startswith(f"{raw!r} is not a person's name (")
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("伟", "张", "张伟"),
        ("娜娜", "欧阳", "欧阳娜娜"),
        ("Wei", "Zhang", "Wei Zhang"),
        (" Wei ", None, "Wei"),
        (None, "张", "张"),
        ("", "  ", None),
        (None, None, None),
        ("太郎", "山田", "山田太郎"),
        ("Wei", "张", "Wei 张"),
    ],
)
def test_compose_person_name(first: str | None, last: str | None, expected: Any) -> None:
    assert n.compose_person_name(first, last) == expected


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("张伟", "伟", "张"),
        ("张小明", "小明", "张"),
        ("欧阳娜娜", "娜娜", "欧阳"),
        ("司马相如", "相如", "司马"),
        ("诸葛亮", "亮", "诸葛"),
        ("上官婉儿", "婉儿", "上官"),
        ("东方不败", "不败", "东方"),
        ("皇甫嵩", "嵩", "皇甫"),
        ("尉迟恭", "恭", "尉迟"),
        ("公孙胜", "胜", "公孙"),
        ("慕容复", "复", "慕容"),
        ("长孙无忌", "无忌", "长孙"),
        ("宇文化及", "化及", "宇文"),
        ("司徒雷登", "雷登", "司徒"),
        ("夏侯惇", "惇", "夏侯"),
        ("令狐冲", "冲", "令狐"),
        ("端木蓉", "蓉", "端木"),
        ("歐陽娜娜", "娜娜", "歐陽"),
        ("欧阳", "阳", "欧"),  # two characters: a single surname and a given name
        ("山田 太郎", "太郎", "山田"),  # a typed space marks the family name
        ("唐纳德·特朗普", "唐纳德", "特朗普"),
        ("张", None, "张"),
        ("Wei Zhang", "Wei", "Zhang"),
        ("Zhang, Wei", "Wei", "Zhang"),
        ("ZHANG Wei", "Wei", "ZHANG"),
        ("Wei ZHANG", "Wei", "ZHANG"),
        ("S. Nelson", "S.", "Nelson"),  # an initial is no upper-cased family name
        ("J.R. Smith", "J.R.", "Smith"),
        ("W. ZHANG", "W.", "ZHANG"),
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Juan de la Cruz", "Juan", "de la Cruz"),
        ("Martin Luther King Jr.", "Martin Luther", "King Jr."),
        ("Madonna", None, "Madonna"),
        ("", None, None),
    ],
)
def test_split_person_name(full: str, first: str | None, last: str | None) -> None:
    assert n.split_person_name(full) == (first, last)


@pytest.mark.parametrize(
    "spellings",
    [
        ["张伟", "Zhang Wei", "Wei Zhang", "ZHANG, Wei", "zhang wei", "張偉", "张 伟"],
        ["张小明", "Xiaoming Zhang", "Zhang Xiaoming", "Xiao-Ming Zhang", "Zhang Xiao Ming"],
        ["欧阳娜娜", "Ouyang Nana", "Nana Ouyang", "OUYANG, Nana"],
        ["曾小贤", "Zeng Xiaoxian"],  # surname reading, not 曾经's ceng
        ["单雄信", "Shan Xiongxin"],
        ["吕波", "Lyu Bo", "Lv Bo", "Lü Bo", "Lu Bo"],
        ["José Müller", "jose muller", "Müller, José", "MULLER Jose"],
        ["John F. Kennedy", "Kennedy, John"],
    ],
)
def test_person_name_keys_meet_across_scripts_and_orders(spellings: list[str]) -> None:
    first, *others = spellings
    for other in others:
        shared = n.person_name_keys(first) & n.person_name_keys(other)
        assert shared, (first, other, n.person_name_keys(first), n.person_name_keys(other))


@pytest.mark.parametrize(
    ("a", "b"), [("张伟", "李娜"), ("Zhang Wei", "Zhang Wen"), ("张伟", "王伟")]
)
def test_person_name_keys_keep_different_people_apart(a: str, b: str) -> None:
    assert not n.person_name_keys(a) & n.person_name_keys(b)


def test_person_name_keys_hold_the_pinyin_key_and_the_name_as_written() -> None:
    assert n.person_name_keys("张伟") == {"张伟", "wei zhang"}
    assert n.person_name_keys("") == set()


def test_person_name_keys_is_a_fresh_set_each_call() -> None:
    keys = n.person_name_keys("张伟")
    keys.add("mutated")
    assert "mutated" not in n.person_name_keys("张伟")


_name_text = st.text(
    st.sampled_from(list("张伟欧阳娜司马相如 ·•ABCdefÉéß-'.,　ｚ")), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None, database=None)
@given(_name_text)
def test_person_name_normalisation_is_idempotent(raw: Any) -> None:
    try:
        once = n.normalize_person_name(raw)
    except InvalidValue:
        return
    if once is None:
        return
    assert n.normalize_person_name(once) == once
    first, last = n.split_person_name(once)
    assert n.person_name_keys(once) == n.person_name_keys(raw)
    assert first or last


# ------------------------------------------------------------------------------------ companies


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("华为技术有限公司", "华为技术"),
        ("Acme Corp.", "acme"),
        ("ACME, Inc", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme Co.,Ltd", "acme"),
        ("ACME LIMITED", "acme"),
        ("Acme LLC", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Siemens AG", "siemens"),
        ("Siemens GmbH & Co. KG", "siemens"),
        ("Carrefour S.A.", "carrefour"),
        ("Dassault Systèmes SAS", "dassault systemes"),
        ("Ferrero S.r.l.", "ferrero"),
        ("Philips B.V.", "philips"),
        ("Philips N.V.", "philips"),
        ("BHP Pty Ltd", "bhp"),
        ("Tesco PLC", "tesco"),
        ("Toyota KK", "toyota"),
        ("株式会社トヨタ", "トヨタ"),
        ("トヨタ自動車株式会社", "トヨタ自動車"),
        ("腾讯科技（深圳）有限公司", "腾讯科技"),
        ("华为技术（深圳）有限公司", "华为技术"),
        ("华为技术(深圳)有限公司", "华为技术"),
        ("中国平安保险（集团）股份有限公司", "中国平安保险"),
        ("海尔集团有限公司", "海尔集团"),  # 集团 kept: the group is its own customer
        ("北京字节跳动科技有限公司", "北京字节跳动科技"),
        ("华为技术有限公司北京分公司", "华为技术"),
        ("华为技术有限公司上海分公司", "华为技术"),
        ("华为北京分公司", "华为"),
        ("中国银行股份有限公司北京市分行", "中国银行"),
        ("平安银行股份有限公司深圳分行", "平安银行"),
        ("IBM北京办事处", "ibm"),
        ("有限责任公司测试有限责任公司", "有限责任公司测试"),
        ("Acme Corp. Beijing Branch", "acme"),
        ("Acme (Beijing) Branch", "acme"),
        ("Acme Ltd - Shanghai Branch", "acme"),
        ("Acme Shanghai Branch", "acme"),
        ("Goldman Sachs (Asia) L.L.C. Beijing Representative Office", "goldman sachs"),
        ("Microsoft (China) Co., Ltd.", "microsoft"),
        ("微软（中国）有限公司", "微软"),
        ("The Coca-Cola Company", "coca cola"),
        ("McDonald's Corporation", "mcdonalds"),
        ("Procter & Gamble Co.", "procter and gamble"),
        ("Procter and Gamble", "procter and gamble"),
        ("A.O. Smith Corp", "ao smith"),
        ("Nestlé S.A.", "nestle"),
        ("ＡＣＭＥ　Ｃｏｒｐ．", "acme"),
        ("Company Ltd", "company"),  # nothing but legal forms: the last one standing stays
        ("有限公司", "有限公司"),
    ],
)
def test_company_name_key(raw: Any, expected: Any) -> None:
    assert n.company_name_key(raw) == expected


def test_company_name_key_rejects_names_without_letters() -> None:
    with pytest.raises(
        InvalidValue, match=r"'\(\)' is not a company name \(it has no letters or digits\)"
    ):
        n.company_name_key("()")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("阿里巴巴", "Alibaba"),
        ("阿里巴巴有限公司", "ALIBABA Co., Ltd."),
        ("华为技术有限公司", "Hua Wei Ji Shu Co., Ltd."),
        ("重庆银行", "Chongqing Yinhang"),
    ],
)
def test_company_pinyin_key_meets_across_scripts(a: str, b: str) -> None:
    assert n.company_name_pinyin_key(a) == n.company_name_pinyin_key(b)


def test_company_pinyin_key_examples() -> None:
    assert n.company_name_pinyin_key("阿里巴巴") == "alibaba"
    assert n.company_name_pinyin_key("阿里巴巴（中国）网络技术有限公司") == "alibabawangluojishu"


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.sampled_from(["华为技术", "Acme", "阿里巴巴网络", "Siemens Healthineers", "腾讯"]),
    st.sampled_from(["", "（深圳）", " (Beijing)", "(中国)"]),
    st.sampled_from(["有限公司", "股份有限公司", " Co., Ltd.", " Inc.", " GmbH", " LLC", ""]),
    st.sampled_from(["", "北京分公司", "上海办事处", " Shanghai Branch"]),
)
def test_company_name_key_strips_any_dressing(
    core: str, region: str, legal: str, branch: str
) -> None:
    expected = n.company_name_key(core)
    assert n.company_name_key(core + region + legal + branch) == expected
    assert n.company_name_key(expected) == expected


# ---------------------------------------------------------------------------------------- dates

SHANGHAI = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-05T10:00:00Z", datetime(2024, 1, 5, 10, 0, tzinfo=UTC)),
        ("2024-01-05T10:00:00+08:00", datetime(2024, 1, 5, 2, 0, tzinfo=UTC)),
        ("2024-01-05T10:00:00.1234567Z", datetime(2024, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-01-05 10:00", datetime(2024, 1, 5, 10, 0, tzinfo=SHANGHAI)),
        ("2024-01-05 10:00:30", datetime(2024, 1, 5, 10, 0, 30, tzinfo=SHANGHAI)),
        ("2024/01/05", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("2024/1/5 9:05", datetime(2024, 1, 5, 9, 5, tzinfo=SHANGHAI)),
        ("2024-1-5 9:05 PM", datetime(2024, 1, 5, 21, 5, tzinfo=SHANGHAI)),
        ("2024-1-5 12:30 am", datetime(2024, 1, 5, 0, 30, tzinfo=SHANGHAI)),
        ("2024.01.05", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("2024年1月5日", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("2024年01月05日 14:30", datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        ("2024年1月5日 14时30分", datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        ("2024年1月5日 下午3点30分", datetime(2024, 1, 5, 15, 30, tzinfo=SHANGHAI)),
        ("２０２４年１月５日", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("05.01.2024", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("13/02/2024", datetime(2024, 2, 13, tzinfo=SHANGHAI)),
        ("02/13/2024", datetime(2024, 2, 13, tzinfo=SHANGHAI)),
        ("05/05/2024", datetime(2024, 5, 5, tzinfo=SHANGHAI)),
        ("5 Jan 2024", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("Jan 5, 2024", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("January 5th, 2024 3:04 PM", datetime(2024, 1, 5, 15, 4, tzinfo=SHANGHAI)),
        ("05-Jan-2024", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("Fri, 05 Jan 2024 10:00:00 +0800", datetime(2024, 1, 5, 2, 0, tzinfo=UTC)),
        ("Fri, 05 Jan 2024 10:00:00 GMT", datetime(2024, 1, 5, 10, 0, tzinfo=UTC)),
        ("20240105", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("20240105103000", datetime(2024, 1, 5, 10, 30, tzinfo=SHANGHAI)),
        ("1704412800", datetime(2024, 1, 5, tzinfo=UTC)),
        ("1704412800000", datetime(2024, 1, 5, tzinfo=UTC)),
        ("1704412800.5", datetime(2024, 1, 5, 0, 0, 0, 500000, tzinfo=UTC)),
        (1704412800, datetime(2024, 1, 5, tzinfo=UTC)),
        (1704412800000, datetime(2024, 1, 5, tzinfo=UTC)),
        (1704412800.25, datetime(2024, 1, 5, 0, 0, 0, 250000, tzinfo=UTC)),
        (Decimal("1704412800"), datetime(2024, 1, 5, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (datetime(2024, 1, 5, 10, 0), datetime(2024, 1, 5, 10, 0, tzinfo=SHANGHAI)),
        (datetime(2024, 1, 5, 10, 0, tzinfo=UTC), datetime(2024, 1, 5, 10, 0, tzinfo=UTC)),
        (date(2024, 1, 5), datetime(2024, 1, 5, tzinfo=SHANGHAI)),
    ],
)
def test_parse_datetime(raw: Any, expected: Any) -> None:
    parsed = n.parse_datetime(raw)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


def test_parse_datetime_in_another_zone_follows_dst() -> None:
    assert n.parse_datetime("2024-07-01 12:00", "Europe/Berlin") == datetime(
        2024, 7, 1, 10, tzinfo=UTC
    )
    assert n.parse_datetime("2024-01-01 12:00", "Europe/Berlin") == datetime(
        2024, 1, 1, 11, tzinfo=UTC
    )


def test_parse_datetime_day_first_resolves_ambiguity() -> None:
    assert n.parse_datetime("01/02/2024", "UTC", day_first=True) == datetime(2024, 2, 1, tzinfo=UTC)
    assert n.parse_datetime("01/02/2024", "UTC", day_first=False) == datetime(
        2024, 1, 2, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("01/02/2024", "ambiguous whether day or month comes first"),
        ("01/02/24", "two-digit year"),
        ("2024-02-30", "day is out of range for month"),
        ("2024-13-01", "month must be in 1..12"),
        ("yesterday", "expected e.g. 2024-01-05"),
        ("2024-01-05 25:00", "hour must be in 0..23"),
        ("2024-01-05 10:00 foo", "cannot read the time"),
        ("99999999999999999", "too large for epoch seconds or milliseconds"),
        (True, "is not a date and time"),
        ([2024, 1, 5], "is not a date and time"),
        (float("nan"), "not a finite number"),
    ],
)
def test_parse_datetime_rejects_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        n.parse_datetime(raw)
    assert f"{raw!r} is not a date and time" in str(caught.value)
    assert reason in str(caught.value)


def test_parse_datetime_unknown_zone() -> None:
    with pytest.raises(InvalidValue, match=r"'Mars/Olympus' is not a known IANA time zone"):
        n.parse_datetime("2024-01-05 10:00", "Mars/Olympus")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-05-01", date(1990, 5, 1)),
        ("1990/5/1", date(1990, 5, 1)),
        ("1990年5月1日", date(1990, 5, 1)),
        ("01.05.1990", date(1990, 5, 1)),
        ("1.5.1990", date(1990, 5, 1)),
        ("25/12/1990", date(1990, 12, 25)),
        ("12/25/1990", date(1990, 12, 25)),
        ("1 May 1990", date(1990, 5, 1)),
        ("19900501", date(1990, 5, 1)),
        ("1990-05-01T00:00:00+08:00", date(1990, 5, 1)),  # the date as written, not shifted to UTC
        ("1990-05-01T23:30:00-05:00", date(1990, 5, 1)),
        ("641520000000", date(1990, 5, 1)),  # HubSpot date property: epoch ms at midnight UTC
        (641520000000, date(1990, 5, 1)),
        (datetime(1990, 5, 1, 23, 0), date(1990, 5, 1)),
        (date(1990, 5, 1), date(1990, 5, 1)),
    ],
)
def test_parse_date(raw: Any, expected: Any) -> None:
    assert n.parse_date(raw) == expected


def test_parse_date_ambiguous_needs_day_first() -> None:
    with pytest.raises(InvalidValue, match=r"'01/02/2024' is not a date: it is ambiguous"):
        n.parse_date("01/02/2024")
    assert n.parse_date("01/02/2024", day_first=True) == date(2024, 2, 1)
    assert n.parse_date("01/02/2024", day_first=False) == date(2024, 1, 2)


@pytest.mark.parametrize(
    "raw", ["31.02.2024", "2024年2月", "05/01/24", "not a date", "Jan 2024", "2024-01-05 10:00 CST"]
)
def test_parse_date_rejects(raw: Any) -> None:
    with pytest.raises(InvalidValue, match=re.escape(f"{raw!r} is not a date")):
        n.parse_date(raw)


# -------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", 1234),
        ("1,234", 1234),
        ("1,234,567", 1234567),
        ("1 234 567", 1234567),
        ("1'234", 1234),
        ("１２３４", 1234),
        ("-5", -5),
        ("\u22125", -5),  # typographic minus sign
        ("+7", 7),
        ("1234.0", 1234),
        (1234.0, 1234),
        (Decimal("12.000"), 12),
        (42, 42),
    ],
)
def test_parse_int(raw: Any, expected: Any) -> None:
    assert n.parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["12.5", 12.5, "abc", "1.234", True, "1,23", "一百", "12 34"])
def test_parse_int_rejects(raw: Any) -> None:
    with pytest.raises(InvalidValue, match=re.escape(f"{raw!r} is not an integer")):
        n.parse_int(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        ("¥1,234.50", Decimal("1234.50")),
        ("￥1,234.50", Decimal("1234.50")),
        ("$ 1,234.50", Decimal("1234.50")),
        ("1,234.50 元", Decimal("1234.50")),
        ("CNY 100", Decimal("100")),
        ("1.234,50", Decimal("1234.50")),
        ("1.234.567", Decimal("1234567")),
        ("1 234,5", Decimal("1234.5")),
        ("1,5", Decimal("1.5")),
        ("1,234", Decimal("1234")),
        ("(12.00)", Decimal("-12.00")),
        ("-0.5", Decimal("-0.5")),
        ("\u22120.5", Decimal("-0.5")),
        (".5", Decimal("0.5")),
        ("１２３．４５", Decimal("123.45")),
        (0.1, Decimal("0.1")),
        (7, Decimal(7)),
        (Decimal("3.14"), Decimal("3.14")),
    ],
)
def test_parse_decimal(raw: Any, expected: Any) -> None:
    parsed = n.parse_decimal(raw)
    assert parsed == expected
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    "raw", ["1.2.3", "12%", "abc", "1,2,3", "12 34", float("inf"), Decimal("NaN"), False]
)
def test_parse_decimal_rejects(raw: Any) -> None:
    with pytest.raises(InvalidValue, match=re.escape(repr(raw))):
        n.parse_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[
            (v, True)
            for v in [
                "true",
                "TRUE",
                "True",
                "yes",
                "Y",
                "y",
                "1",
                "on",
                "是",
                "真",
                "对",
                "X",
                "√",
                True,
                1,
            ]
        ],
        *[
            (v, False)
            for v in ["false", "False", "no", "N", "n", "0", "off", "否", "假", "错", "×", False, 0]
        ],
    ],
)
def test_parse_bool(raw: Any, expected: Any) -> None:
    assert n.parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", 2, "是的吧", 1.0])
def test_parse_bool_rejects(raw: Any) -> None:
    with pytest.raises(InvalidValue, match=re.escape(f"{raw!r} is not a yes/no value")):
        n.parse_bool(raw)
