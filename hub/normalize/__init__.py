"""Value normalisation for the canonical model: pure, cached functions, one per kind of value.

Each returns the normalised value, None for empty or whitespace-only input, or raises
``InvalidValue`` (a ``ValueError``) whose message names the value and what was expected. They run on
every field of every record, so each is cached (``functools.lru_cache``) and loads its reference
data (CLDR country names, the Public Suffix List, pinyin tables) once, on first use. Per-call costs:
``bench/normalize_speed.py``.
"""

from hub.normalize._base import InvalidValue, normalize_text
from hub.normalize.companies import company_name_key, company_name_pinyin_key
from hub.normalize.countries import normalize_country
from hub.normalize.dates import parse_date, parse_datetime
from hub.normalize.domains import is_free_mail_domain, registrable_domain
from hub.normalize.emails import normalize_email
from hub.normalize.identifiers import normalize_credit_code, normalize_tax_id
from hub.normalize.names import (
    compose_person_name,
    normalize_person_name,
    person_name_keys,
    split_person_name,
)
from hub.normalize.numbers import parse_bool, parse_decimal, parse_int
from hub.normalize.phones import normalize_phone, phone_digits_key

__all__ = [
    "InvalidValue",
    "company_name_key",
    "company_name_pinyin_key",
    "compose_person_name",
    "is_free_mail_domain",
    "normalize_country",
    "normalize_credit_code",
    "normalize_email",
    "normalize_person_name",
    "normalize_phone",
    "normalize_tax_id",
    "normalize_text",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_int",
    "person_name_keys",
    "phone_digits_key",
    "registrable_domain",
    "split_person_name",
]
