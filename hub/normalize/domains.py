"""Web domains: the registrable domain (eTLD+1) of a URL, host or email address, and free-mail
providers.

The registrable domain is found with ``publicsuffixlist``, which ships Mozilla's Public Suffix List
offline (ICANN and private sections both: ``foo.github.io`` is foo's own domain). Output is
lower-case ASCII, IDN labels in punycode (IDNA 2008 + UTS #46, as ``normalize_email``): one spelling
whether a source typed ``例子.中国`` or ``xn--fsqu00a.xn--fiqs8s``, and the form DNS, URLs and CRMs
store.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hub.normalize._base import InvalidValue, cleaned_text, invalid, word_set
from hub.normalize.emails import to_ascii_domain

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

_EXPECTED = "a web address or domain"
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_PATH_START = re.compile(r"[/?#]")
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff61": ".", "\uff0e": "."})

# Webmail providers anyone can sign up to: a shared domain says nothing about which company a person
# works for, so identity must never use it as a company key. Registrable domains.
_FREE_MAIL = word_set(
    """
    gmail.com googlemail.com outlook.com hotmail.com live.com msn.com passport.com windowslive.com
    yahoo.com ymail.com rocketmail.com aol.com aim.com icloud.com me.com mac.com
    proton.me protonmail.com protonmail.ch pm.me tutanota.com tuta.io zoho.com zohomail.com
    gmx.com gmx.net gmx.de web.de t-online.de freenet.de mail.com email.com inbox.com
    mail.ru bk.ru inbox.ru list.ru yandex.ru yandex.com ya.ru rambler.ru
    qq.com foxmail.com 163.com 126.com yeah.net 188.com netease.com sina.com sina.cn
    sohu.com aliyun.com 139.com 189.cn wo.cn wo.com.cn 21cn.com tom.com
    263.net 2980.com
    naver.com daum.net hanmail.net nate.com
    rediffmail.com orange.fr free.fr laposte.net sfr.fr libero.it virgilio.it
    seznam.cz wp.pl o2.pl interia.pl
    hushmail.com fastmail.com fastmail.fm hey.com
    """
)
# Brands whose free mail lives under many country suffixes (yahoo.co.jp, hotmail.fr, outlook.de).
_FREE_MAIL_BRANDS = frozenset({"yahoo", "hotmail", "outlook", "live", "gmx", "yandex"})


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(value: str | None) -> str | None:
    """``'https://www.Example.co.uk/path'`` → ``'example.co.uk'``; ``'zw@mail.huawei.com'`` →
    ``'huawei.com'``; empty → None. An IP address, a bare public suffix (``com.cn``) or a
    single-label host (``localhost``) raises ``InvalidValue``."""
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return None
    try:
        return _registrable_domain(text)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 16)
def _registrable_domain(text: str) -> str:
    host = _host_of(text)
    if ":" in host or host[-1:].isdigit():  # only then can it be an IP address (saves ~2 µs)
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            pass
        else:
            raise invalid(text, f"{_EXPECTED} (an IP address has no registrable domain)")
    if not host.isascii():
        host = to_ascii_domain(host, text, _EXPECTED)
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise invalid(text, f"{_EXPECTED} ({host!r} is not a host name with a dot in it)")
    domain = _psl().privatesuffix(host)
    if domain is None:
        raise invalid(text, f"{_EXPECTED} ({host!r} is a public suffix, not a domain of its own)")
    return str(domain)


def _host_of(text: str) -> str:
    """The host name in a URL, ``host:port/path``, ``user@host`` or a plain host, lower-case."""
    cleaned = text.translate(_IDEOGRAPHIC_DOTS).lower()
    if " " in cleaned:
        raise invalid(text, f"{_EXPECTED} (it contains a space)")
    if cleaned.startswith("mailto:"):
        cleaned = cleaned[7:]
    if "://" in cleaned or cleaned.startswith("//"):
        try:
            host = urlsplit(cleaned if "://" in cleaned else "http:" + cleaned).hostname or ""
        except ValueError as exc:
            raise invalid(text, f"{_EXPECTED} ({exc})") from exc
    else:
        host = _PATH_START.split(cleaned, maxsplit=1)[0]
        host = host.rpartition("@")[2]
        if not host.startswith("[") and host.count(":") == 1:
            host = host.partition(":")[0]
    host = host.rstrip(".")
    if not host:
        raise invalid(text, f"{_EXPECTED} (no host name in it)")
    return host


def is_free_mail_domain(domain: str) -> bool:
    """True for webmail anyone can sign up to (gmail.com, qq.com, 163.com, yahoo.co.jp, ...).

    Accepts a domain, a host (``vip.qq.com``) or an email address; anything that is not a domain is
    simply not a free-mail domain (False), never an error.
    """
    try:
        text = cleaned_text(domain, _EXPECTED)
    except InvalidValue:
        return False
    return text is not None and _is_free_mail(text)


@lru_cache(maxsize=4096)
def _is_free_mail(text: str) -> bool:
    try:
        registrable = _registrable_domain(text)
    except InvalidValue:
        return False
    if registrable in _FREE_MAIL:
        return True
    brand = registrable.partition(".")[0]
    return brand in _FREE_MAIL_BRANDS
