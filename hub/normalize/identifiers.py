"""Company identifiers: the Chinese unified social credit code and tax ids of other countries,
validated with ``python-stdnum`` (check digits, lengths, character sets as each authority defines
them).
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import ModuleType
from typing import Any

from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.util import get_cc_module

from hub.normalize._base import InvalidValue, cleaned_text, invalid
from hub.normalize.countries import normalize_country

_CREDIT_CODE = "a valid unified social credit code (统一社会信用代码)"
# Separators people type inside an id: spaces, dashes of every width, dots, slashes.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―./]+")
_CREDIT_CODE_CHARS = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")  # GB 32100-2015: no I O S V Z


def normalize_credit_code(value: str | None) -> str | None:
    """``'91110000 6000 3734 1l'`` → ``'91110000600037341L'``; empty → None.

    Upper-cased, full-width characters folded (NFKC), spaces and dashes removed, then the GB
    32100-2015 check character verified. Errors name the reason: length, a character outside the
    code's alphabet (I, O, S, V, Z are never used: they look like digits), or a wrong check
    character.
    """
    text = cleaned_text(value, _CREDIT_CODE)
    if text is None:
        return None
    try:
        return _normalize_credit_code(text)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 14)
def _normalize_credit_code(text: str) -> str:
    code = _SEPARATORS.sub("", text).upper()
    try:
        return str(uscc.validate(code))
    except ValidationError as exc:
        raise invalid(text, f"{_CREDIT_CODE}: {_why_not_credit_code(code, exc)}") from exc


def _why_not_credit_code(code: str, error: ValidationError) -> str:
    """The reason a code failed stdnum's check, in terms a user can act on."""
    if not code:
        return "no characters left after removing separators"
    if len(code) != 18:
        return f"it has {len(code)} characters, 18 expected"
    wrong = sorted({c for c in code if c not in _CREDIT_CODE_CHARS})
    if wrong:
        listed = ", ".join(repr(c) for c in wrong)
        return f"{listed} not allowed (digits and letters except I O S V Z)"
    if not code[:8].isdigit():
        return "the first 8 characters (authority, type, region) must be digits"
    if isinstance(error, InvalidChecksum):
        return f"the check character {code[-1]!r} is wrong"
    return str(error)


def normalize_tax_id(value: str | None, country: str | None) -> str | None:
    """A tax id in its compact form, validated where ``python-stdnum`` knows the country.

    * CN (or no country and an 18-character value that passes the credit-code check): the unified
      social credit code, as ``normalize_credit_code``.
    * A country with a stdnum ``vat`` module (``get_cc_module(cc, 'vat')``: the EU, GB, CH, JP, AU,
      SG, ...): validated and compacted by it (``'DE 136,695,976'`` → ``'136695976'``; the country
      prefix is dropped, the country lives in its own field). Invalid → ``InvalidValue``.
    * Otherwise: upper-cased, separators removed, letters and digits only.

    ``country`` may be any spelling ``normalize_country`` accepts.
    """
    text = cleaned_text(value, "a tax id")
    if text is None:
        return None
    code = normalize_country(country) if country else None
    try:
        return _normalize_tax_id(text, code)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 14)
def _normalize_tax_id(text: str, country: str | None) -> str:
    if country == "CN":
        return _normalize_credit_code(text)
    module = _vat_module(country) if country else None
    if module is None:
        compact = "".join(c for c in text.upper() if c.isalnum())
        if not compact:
            raise invalid(text, "a tax id (it has no letters or digits)")
        return compact
    expected = f"a valid {country} tax id ({_module_name(module)})"
    try:
        return str(module.validate(text))
    except InvalidLength as exc:
        raise invalid(text, f"{expected}: wrong length") from exc
    except InvalidChecksum as exc:
        raise invalid(text, f"{expected}: wrong check digit") from exc
    except ValidationError as exc:  # format or a component (region, date) of the number
        raise invalid(text, f"{expected}: {exc}") from exc


@lru_cache(maxsize=256)
def _vat_module(country: str) -> Any:
    """stdnum's validator module for the country's VAT/tax number, or None."""
    try:
        return get_cc_module(country.lower(), "vat")
    except ImportError:
        return None


def _module_name(module: ModuleType) -> str:
    doc = (module.__doc__ or module.__name__).strip().splitlines()[0]
    return doc.rstrip(".")
