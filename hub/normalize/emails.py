"""Email addresses: one spelling per mailbox, so the same person is found under the same key
everywhere.

The syntax accepted is the practical subset of RFC 5322 §3.4.1 that real mail systems hand out: a
dot-atom local part (quoted local parts such as ``"john doe"@x.com`` are rejected: no CRM or mail
provider issues them, and they mostly come from broken exports) and a host-name domain with at least
two labels and an alphabetic (or IDN ``xn--``) top-level domain; IP-address literals are rejected.
Non-ASCII local parts (RFC 6531, e.g. Coremail's ``张伟@example.cn``) are accepted when they are
letters or digits. No DNS look-up is made: deliverability is not this module's question.

Why the whole address is lower-cased: RFC 5321 §2.4 lets a server treat the local part as
case-sensitive, but no mainstream provider does (Gmail, Outlook, QQ, NetEase, Exchange all fold
case), and the systems the hub syncs disagree on case (HubSpot stores emails lower-cased, Salesforce
keeps what was typed). A key that differs by case alone would split one person into two golden
records; the opposite mistake has never been seen in practice.

IDN domains are stored as ASCII (punycode, IDNA 2008 with UTS #46 mapping via ``idna``): that is
what SMTP, DNS and every CRM's email field accept, and it is the same form ``registrable_domain``
returns, so an email's domain and a website's domain compare equal.

Why not ``email-validator`` (2.4): ≈ 31 µs per call with ``check_deliverability=False`` on this
machine, over the 10 µs budget; the code below takes a median ≈ 5 µs per cache miss and ≈ 1.8 µs
per hit (``bench/normalize_speed.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from hub.normalize._base import InvalidValue, cleaned_text, invalid, shown

_EXPECTED = "a valid email address"
_ATEXT = "a-z0-9!#$%&'*+/=?^_`{|}~-"
_LOCAL_ASCII = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*\Z")
_ATEXT_SET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_TLD = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})\Z")
# Full stops typed with a Chinese or Japanese input method, which NFKC leaves alone; UTS #46 maps
# them to '.' in domains.
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff61": ".", "\uff0e": "."})


# The common case, an ASCII address with a plain dot-atom local part and host-name labels: a subset
# of what the checks below accept, lower-cased to the same result. It skips the clean-up and the cache
# (a bulk import holds mostly distinct addresses, so the cache misses). Tested against the full path.
_PLAIN = re.compile(
    r"[a-z0-9_+-]{1,64}(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)


def _plain_email(value: str) -> str | None:
    if not value.isascii():
        return None
    address = value.strip().lower()
    if len(address) > 254 or not _PLAIN.fullmatch(address) or address.index("@") > 64:
        return None
    return address


def normalize_email(value: str | None) -> str | None:
    """``' <Zhang.Wei＠Example.COM> '`` → ``'zhang.wei@example.com'``; empty → None.

    Accepted wrappers: surrounding ``<...>``, a display name (``Zhang Wei <zw@x.cn>``) and
    ``mailto:`` (its ``?subject=...`` query dropped). Raises ``InvalidValue`` naming the value and
    the reason.
    """
    if type(value) is str and (plain := _plain_email(value)) is not None:
        return plain
    return _full_email(value)


def _full_email(value: str | None) -> str | None:
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return None
    try:
        return _normalize_email(text)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 16)
def _normalize_email(text: str) -> str:
    address = _unwrap(text).translate(_IDEOGRAPHIC_DOTS).lower()
    if not address:
        raise invalid(text, _EXPECTED + " (nothing inside the brackets)")
    if " " in address:
        raise invalid(text, _EXPECTED + " (it contains a space)")
    at_count = address.count("@")
    if at_count != 1:
        why = "no '@'" if at_count == 0 else "more than one '@'"
        raise invalid(text, f"{_EXPECTED} ({why})")
    local, domain = address.split("@")
    _check_local(text, local)
    ascii_domain = _check_domain(text, domain)
    result = f"{local}@{ascii_domain}"
    if len(result) > 254:
        raise invalid(text, _EXPECTED + " (longer than 254 characters)")
    return result


def _unwrap(address: str) -> str:
    if address.endswith(">") and "<" in address:
        address = address[address.rfind("<") + 1 : -1].strip()
    if address[:7].lower() == "mailto:":
        address = address[7:].split("?", 1)[0].strip()
    return address


def _check_local(text: str, local: str) -> None:
    if not local:
        raise invalid(text, _EXPECTED + " (nothing before '@')")
    if len(local) > 64:
        raise invalid(text, _EXPECTED + " (the part before '@' is longer than 64 characters)")
    if _LOCAL_ASCII.match(local):
        return
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise invalid(text, _EXPECTED + " (a dot at the start or end, or two dots in a row)")
    for char in local:
        if char != "." and char not in _ATEXT_SET and not (not char.isascii() and char.isalnum()):
            raise invalid(text, f"{_EXPECTED} (character {char!r} is not allowed before '@')")


def _check_domain(text: str, domain: str) -> str:
    """The domain in ASCII form, or an error saying what is wrong with it."""
    if not domain:
        raise invalid(text, _EXPECTED + " (no domain after '@')")
    if domain.startswith("["):
        raise invalid(text, _EXPECTED + " (IP-address domains are not accepted)")
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        raise invalid(text, _EXPECTED + " (a dot at the start or end of the domain, or two dots)")
    if not domain.isascii():
        domain = to_ascii_domain(domain, text, _EXPECTED)
    labels = domain.split(".")
    if len(labels) < 2:
        raise invalid(text, _EXPECTED + " (the domain has no top-level domain such as '.com')")
    if len(domain) > 253:
        raise invalid(text, _EXPECTED + " (the domain is longer than 253 characters)")
    for label in labels:
        if not _LABEL.match(label):
            raise invalid(text, f"{_EXPECTED} (domain label {label!r} is not a valid host name)")
    if not _TLD.match(labels[-1]):
        raise invalid(text, f"{_EXPECTED} (top-level domain {labels[-1]!r} is not valid)")
    return domain


def to_ascii_domain(domain: str, text: str, expected: str) -> str:
    """An internationalised domain in its ASCII (punycode) form, IDNA 2008 + UTS #46 mapping."""
    import idna  # only IDN domains pay for the import

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidValue(
            f"{shown(text)} is not {expected} (international domain: {exc})", value=text
        ) from exc
