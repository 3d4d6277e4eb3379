"""Phone numbers in E.164 (``+8613800138000``), parsed with ``phonenumbers`` (Google's
libphonenumber metadata) in a configurable default region.

Possible, not valid: a number is accepted when ``is_possible_number_with_reason`` says
``IS_POSSIBLE`` (its length fits a number plan of its country), not only when ``is_valid_number``
(it falls in a range known to be allocated). Metadata lags allocations (China opened the 16x/19x
mobile ranges years before every library knew them), and rejecting a real customer's number loses
data, while a wrong-but-possible number is only a key that matches nothing.
``IS_POSSIBLE_LOCAL_ONLY`` (a number without its area code) is rejected: it cannot be written in
E.164. Chinese mobiles such as ``138 0013 8000`` with region CN give ``+8613800138000``.

Two second readings, each taken only when it gives a valid number: a number not valid in the
default region whose first group of digits, set apart, is another country's calling code is read
as international (``852 2123 4567`` typed in a Chinese CRM; an ungrouped ``14012345678`` stays
Chinese, as only the grouping shows the intent), and a number too long for its country that ends
in ``-123`` (the Chinese way of writing an extension) loses that tail.
Extensions (``ext``, ``x``, ``#``, ``;ext=``, ``转``, ``分机``) are dropped: E.164 has none.

Cost (``bench/normalize_speed.py``, 100k messy Chinese numbers, this 2-core machine): median ≈ 26 µs
per cache miss (phonenumbers' parse + possibility check), ≈ 1.2 µs per cache hit.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from hub.normalize._base import InvalidValue, cleaned_text, invalid

_EXPECTED = "a valid phone number"
_CHINESE_EXTENSION = re.compile(r"\s*(?:转|轉|分机|分機|内线|內線)\s*\d{0,8}\s*$")
_DASH_EXTENSION = re.compile(r"^(.*\d)\s*-\s*\d{1,5}$")
# "手机: 138..." / "Tel.: ..." / "电话:" labels in front of the number.
_LABEL = re.compile(r"^[^\d+(:]{1,12}:\s*(?=[\d+(])")
_LABEL_IN_BRACKETS = re.compile(r"\([^)\d]*[^\W\d][^)\d]*\)")
_SEVERAL = re.compile(r"\d[\d\s()-]{6,}\s*(?:[;,/、|]|\bor\b|或)\s*[+(]?\d[\d\s()-]{6,}")
# "852 2123 4567": a first group of digits set apart, which may be a country calling code.
_LEADING_GROUP = re.compile(r"^\s*\(?(\d{1,3})\)?[\s.-]")
_INTERNATIONAL_START = re.compile(r"^\s*(?:\+|00|tel:\s*\+)", re.IGNORECASE)

_TOO_LONG = (ValidationResult.TOO_LONG, ValidationResult.INVALID_LENGTH)
_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country calling code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits for its country",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
}


# The common case in a Chinese export, a mobile number as typed (``13800138000``, ``138-0013-8000``,
# ``+86 138 0013 8000``), skips phonenumbers and the cache (a bulk import holds mostly distinct
# numbers). Its E.164 form is "+86" and the 11 digits whatever the digits are: a Chinese number of 11
# digits is always possible (the length is in CN's number plan), a leading 13x-19x group is no
# country calling code, and nothing is stripped as a trunk or carrier prefix unless the digits start
# with one of those (1[12]xx, 179xx: read from phonenumbers' metadata and left to the full path).
# Tested against the full path.
_PLAIN_CN_MOBILE = re.compile(r"(?:\+86[ -]?)?(1[3-9][0-9])([ -]?)([0-9]{4})\2([0-9]{4})", re.ASCII)
_CN = phonenumbers.PhoneMetadata.metadata_for_region("CN")
_CN_PREFIXES = re.compile(
    "|".join(
        f"(?:{pattern})"
        for pattern in (_CN.national_prefix_for_parsing, _CN.international_prefix)  # type: ignore[union-attr]
        if pattern
    )
)
_CN_MOBILE_POSSIBLE = 11 in _CN.general_desc.possible_length  # type: ignore[union-attr]


def _plain_cn_mobile(value: str, region: str) -> str | None:
    if (region != "CN" and region.upper() != "CN") or not _CN_MOBILE_POSSIBLE:
        return None
    match = _PLAIN_CN_MOBILE.fullmatch(value.strip())
    if match is None:
        return None
    national = match.group(1) + match.group(3) + match.group(4)
    return None if _CN_PREFIXES.match(national) else "+86" + national


def normalize_phone(value: str | None, default_region: str = "CN") -> str | None:
    """``'138-0013-8000'`` → ``'+8613800138000'``; empty → None; otherwise ``InvalidValue``.

    ``default_region`` (ISO 3166-1 alpha-2) is used for numbers written without a country code.
    """
    if type(value) is str and (plain := _plain_cn_mobile(value, default_region)) is not None:
        return plain
    return _full_phone(value, default_region)


def _full_phone(value: str | None, default_region: str) -> str | None:
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return None
    try:
        return _normalize_phone(text, default_region.upper())
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 16)
def _normalize_phone(text: str, region: str) -> str:
    cleaned = _LABEL_IN_BRACKETS.sub(" ", _LABEL.sub("", text))
    cleaned = _CHINESE_EXTENSION.sub("", cleaned)
    if _SEVERAL.search(cleaned):
        raise invalid(text, _EXPECTED + " (it holds more than one number; split them first)")
    number = _parse(text, cleaned, region)
    if not phonenumbers.is_valid_number(number):
        number = _international_reading(cleaned, region) or number
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _TOO_LONG and (shorter := _without_dash_extension(cleaned, region)):
        number, reason = shorter, ValidationResult.IS_POSSIBLE
    if reason != ValidationResult.IS_POSSIBLE:
        raise invalid(text, f"{_EXPECTED} ({_REASONS.get(reason, 'not a possible number')})")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _parse(text: str, cleaned: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(cleaned, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            why = f"no known country code, and default region {region!r} is not a known region"
            if _INTERNATIONAL_START.match(cleaned):
                why = "unknown country calling code"
        elif exc.error_type == NumberParseException.NOT_A_NUMBER:
            why = "no phone number in it"
        else:
            why = "too short" if "short" in str(exc).lower() else "too long"
        raise invalid(text, f"{_EXPECTED} ({why})") from exc


def _international_reading(cleaned: str, region: str) -> phonenumbers.PhoneNumber | None:
    """``852 2123 4567`` read as ``+852 2123 4567`` when that is a valid number."""
    leading_group = _LEADING_GROUP.match(cleaned)
    if leading_group and _is_foreign_calling_code(leading_group.group(1), region):
        return _valid_or_none("+" + cleaned.lstrip(), region)
    return None


def _without_dash_extension(cleaned: str, region: str) -> phonenumbers.PhoneNumber | None:
    """``010-88888888-123`` read as ``010-88888888`` when that is a valid number."""
    dash = _DASH_EXTENSION.match(cleaned)
    return _valid_or_none(dash.group(1), region) if dash else None


def _valid_or_none(candidate: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _is_foreign_calling_code(digits: str, region: str) -> bool:
    code = int(digits)
    known = phonenumbers.region_code_for_country_code(code) != phonenumbers.UNKNOWN_REGION
    return known and code != phonenumbers.country_code_for_region(region)


@lru_cache(maxsize=1 << 14)
def phone_digits_key(e164: str) -> str:
    """The national significant number of an E.164 number (``+8613800138000`` → ``13800138000``):
    the digits a person types, without country code or trunk prefix. Identity compares these for
    transposed or mistyped digits (edit distance) only within the same country code."""
    if not isinstance(e164, str) or not e164.startswith("+"):
        raise invalid(e164, "an E.164 phone number (starting with '+')")
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException as exc:
        raise invalid(e164, f"an E.164 phone number ({exc})") from exc
    return phonenumbers.national_significant_number(number)
