"""Countries as ISO 3166-1 alpha-2 codes, from whatever a source system holds.

The data comes from Babel's copy of Unicode CLDR, the set of country names every operating system
and browser uses: ``territory_aliases`` maps each alpha-3 code (``CHN``), numeric code (``156``) and
retired code (``UK``, ``DDR``, ``ZAR``) to its alpha-2 code, and ``Locale(x).territories`` names
every country in English, simplified and traditional Chinese, Japanese, Korean and the main European
languages. Babel was preferred to pycountry because pycountry's names are English (ISO's own
spellings) only, while CRM data in China holds 中国 / 中國 / 美国 as often as "China". The
hand-written aliases below add what CLDR does not carry: informal English (USA, UK, PRC, Mainland
China), ISO's "Korea, Republic of" spellings as found in Salesforce's state and country picklists,
and Chinese forms (中华人民共和国, 中国大陆, 中国香港, 台湾省 …).

Hong Kong, Macao and Taiwan are their own ISO codes (HK, MO, TW), as in every CRM and ERP. ``XK``
(Kosovo, user-assigned but used by the EU and most CRMs) is accepted; CLDR's pseudo-regions (EU, ZZ,
XA, XB) are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import cast

from hub.normalize._base import InvalidValue, clean, cleaned_text, invalid, strip_accents

_EXPECTED = "a known country (an ISO 3166-1 code or a country name)"
_NAME_LOCALES = (
    "en",
    "zh",
    "zh_Hant",
    "zh_Hant_HK",
    "ja",
    "ko",
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "nl",
    "ru",
)
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})
_PUNCTUATION = re.compile(r"[.,'’`()\[\]\"“”/_-]+")
_BRACKETED = re.compile(r"\s*[(\[][^)\]]*[)\]]\s*")

_ALIASES = {
    "US": "USA|U.S.|U.S.A.|America|United States of America|The United States|美利坚合众国|美國",
    "GB": "UK|U.K.|Great Britain|Britain|England|Scotland|Wales|Northern Ireland|"
    "United Kingdom of Great Britain and Northern Ireland|大不列颠及北爱尔兰联合王国|英國",
    "CN": "PRC|P.R.C.|PR China|P.R. China|People's Republic of China|China, People's Republic of|"
    "Mainland China|China Mainland|China (Mainland)|Chinese Mainland|China PRC|"
    "中华人民共和国|中華人民共和國|中国大陆|中國大陸|中国内地|中國內地|大陆|大陸|内地|內地",
    "HK": "Hong Kong|Hongkong|Hong Kong SAR|HKSAR|Hong Kong, China|Hong Kong China|"
    "香港|中国香港|中國香港|香港特别行政区|香港特別行政區|中华人民共和国香港特别行政区",
    "MO": "Macau|Macao|Macau SAR|Macao SAR|Macau, China|Macao, China|"
    "澳门|澳門|中国澳门|中國澳門|澳门特别行政区|澳門特別行政區",
    "TW": "Taiwan|Taiwan ROC|Taiwan, Province of China|Taiwan (Province of China)|Chinese Taipei|"
    "Republic of China|Republic of China (Taiwan)|"
    "台湾|台灣|中国台湾|中國台灣|台湾省|中国台湾省|中華民國",
    "KR": "Korea|South Korea|Republic of Korea|Korea, Republic of|Korea (South)|Korea South|"
    "韩国|韓國|南韩|南韓|大韩民国|大韓民國",
    "KP": "North Korea|DPRK|Korea, Democratic People's Republic of|Democratic People's Republic of "
    "Korea|Korea (North)|朝鲜|北韩|北韓",
    "RU": "Russia|Russian Federation|俄罗斯|俄罗斯联邦|俄國",
    "VN": "Vietnam|Viet Nam",
    "IR": "Iran|Iran, Islamic Republic of|Islamic Republic of Iran",
    "SY": "Syria|Syrian Arab Republic",
    "LA": "Laos|Lao PDR|Lao People's Democratic Republic",
    "BO": "Bolivia|Bolivia, Plurinational State of",
    "VE": "Venezuela|Venezuela, Bolivarian Republic of",
    "TZ": "Tanzania|Tanzania, United Republic of",
    "MD": "Moldova|Moldova, Republic of",
    "FM": "Micronesia|Micronesia, Federated States of",
    "CZ": "Czech Republic|Czechia",
    "NL": "Holland|The Netherlands|Netherlands, The|荷蘭",
    "CI": "Ivory Coast|Cote d'Ivoire",
    "TR": "Turkey|Turkiye",
    "MK": "Macedonia|FYROM|Macedonia, the former Yugoslav Republic of",
    "SZ": "Swaziland|Eswatini",
    "MM": "Burma",
    "AE": "UAE|U.A.E.|Emirates|阿联酋",
    "SA": "KSA|Saudi|沙特",
    "CD": "DRC|DR Congo|Congo, The Democratic Republic of the|Congo-Kinshasa|Congo (Kinshasa)",
    "CG": "Congo-Brazzaville|Congo (Brazzaville)|Republic of the Congo",
    "VA": "Vatican|Holy See (Vatican City State)",
    "PS": "Palestine|State of Palestine|Palestine, State of",
    "BN": "Brunei|Brunei Darussalam",
    "CV": "Cape Verde",
    "TL": "East Timor",
    "VG": "Virgin Islands, British|British Virgin Islands|BVI",
    "VI": "Virgin Islands, U.S.|US Virgin Islands",
    "DE": "Deutschland|Federal Republic of Germany",
    "AU": "澳洲",
    "NZ": "纽西兰|紐西蘭",
    "ID": "印尼",
}


def normalize_country(value: str | None) -> str | None:
    """``'CHN'``, ``'156'``, ``'China'``, ``'中华人民共和国'``, ``'cn'`` → ``'CN'``; empty → None.

    Unknown values raise ``InvalidValue``: a country silently dropped would be worse than a rejected
    value the user can fix in the mapping.
    """
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return None
    try:
        return _normalize_country(text)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=4096)
def _normalize_country(text: str) -> str:
    codes, names = _tables()
    cleaned = text
    upper = text.upper()
    if upper in codes:
        return upper
    if cleaned.isdigit() and len(cleaned) <= 3:
        found = names.get(cleaned.zfill(3))
    else:
        found = names.get(_name_key(cleaned))
        if found is None and _BRACKETED.search(cleaned):  # "Deutschland (Germany)", "中国(大陆)"
            found = names.get(_name_key(_BRACKETED.sub(" ", cleaned))) or names.get(
                _name_key(cleaned.replace("(", " ").replace(")", " "))
            )
    if found is None:
        raise invalid(text, _EXPECTED)
    return found


def _name_key(name: str) -> str:
    """Comparison form of a name: case, accents, punctuation, '&'/'and' and 'Saint'/'St' folded."""
    key = strip_accents(clean(name)).casefold().replace("&", " and ")
    words = _PUNCTUATION.sub(" ", key).split()
    if words and words[0] == "the":
        words = words[1:]
    words = ["st" if word == "saint" else word for word in words]
    joiner = "" if words and not words[0].isascii() else " "  # CJK names: spaces carry nothing
    return joiner.join(words)


@lru_cache(maxsize=1)
def _tables() -> tuple[frozenset[str], dict[str, str]]:
    """(alpha-2 codes, every other spelling → alpha-2), built once from CLDR on first use."""
    from babel.core import Locale, get_global

    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    english: Mapping[str, str] = cast("Mapping[str, str]", Locale("en").territories)
    has_numeric = {t[0] for code, t in aliases.items() if code.isdigit() and len(t) == 1}
    codes = frozenset(
        code
        for code in english
        if len(code) == 2 and code.isalpha() and code in has_numeric and code not in _NOT_COUNTRIES
    )
    names: dict[str, str] = {}
    for code, targets in aliases.items():
        if len(targets) == 1 and targets[0] in codes:
            names[code if code.isdigit() else code.lower()] = targets[0]
    for locale in _NAME_LOCALES:  # earlier locales win a clash of spellings
        territories = cast("Mapping[str, str]", Locale.parse(locale).territories)
        for code, name in territories.items():
            if code in codes:
                names.setdefault(_name_key(name), code)
    for code, spellings in _ALIASES.items():
        for spelling in spellings.split("|"):
            names[_name_key(spelling)] = code
    return codes, names
