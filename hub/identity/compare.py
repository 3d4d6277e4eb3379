"""Field comparisons for probabilistic matching: each one turns two values into a discrete level.

A comparator has ordered levels: 0 is always ``missing`` (one side has no value; it weighs nothing), 1 is
the strongest agreement and the last is ``different``. The scorer learns how often each level happens
among true matches (m) and among random pairs (u), so a level is evidence only as far as the data says.

Values are first *prepared* (names to pinyin keys, companies to their core name, phones to digits), once
per record; comparing two prepared values is then cheap, which is what keeps a batch of millions of
pairs affordable. Preparation of a string value is cached, since names, companies and cities repeat.

Which fields are compared with which comparator is configuration (``ComparisonSpec``); a spec may name
several fields (``email`` and ``email2``; ``mobile`` and ``phone``): every value of one record is compared
with every value of the other and the best level counts, since systems disagree on which slot holds
what.

References: Jaro-Winkler and token-set ratio are rapidfuzz's (https://rapidfuzz.github.io/RapidFuzz/);
the level design follows Splink's comparison levels (https://moj-analytical-services.github.io/splink/).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from hub import normalize as n
from hub.identity.keys import is_role_mailbox
from hub.normalize._base import clean, has_cjk, strip_accents

MISSING = 0
_CACHE = 1 << 15  # per-value caches: a person's records are near one another

ComparatorName = Literal[
    "person_name",
    "company_name",
    "email",
    "email_domain",
    "domain",
    "phone",
    "date",
    "identifier",
    "exact",
    "text",
    "place",
    "postcode",
    "street",
    "street_number",
]


class Comparator(Protocol):
    """Compares prepared values of one kind. ``levels[0]`` is ``missing``; ``levels[-1]`` ``different``."""

    @property
    def levels(self) -> tuple[str, ...]: ...

    @property
    def tf_levels(self) -> frozenset[int]:
        """Levels at which term frequency adjusts the weight: agreeing on a common value says less."""
        ...

    def prepare(self, value: Any) -> Any | None: ...

    def compare(self, a: Any, b: Any) -> int: ...

    def tf_key(self, prepared: Any) -> str | None: ...


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _jw(a: str, b: str) -> float:
    return float(JaroWinkler.normalized_similarity(a, b))


@lru_cache(maxsize=1)
def _syllables() -> dict[str, str]:
    """Han character → its first (most common) tone-less reading, ü as v, from pypinyin's table."""
    import unicodedata

    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for code, readings in pinyin_dict.items():
        first = unicodedata.normalize("NFD", readings.split(",", 1)[0]).replace("u\u0308", "v")
        table[chr(code)] = "".join(c for c in first if not unicodedata.combining(c))
    return table


def pinyin_syllables(text: str) -> list[str]:
    """Tone-less pinyin per Han character, first reading (``张伟`` → ``['zhang', 'wei']``); other
    characters kept as they are, lower-cased.

    Why not ``pypinyin.lazy_pinyin``: it costs ~135 µs a call (phrase segmentation), which across a
    million names is minutes; this is a table look-up. Measured on 20,000 distinct generated names,
    the two agree on all but 4, where the phrase table was wrong for a name (于思林: yu sai lin).
    Place names, where phrases matter (重庆 chongqing, not zhongqing), use ``place_pinyin``."""
    table = _syllables()
    out: list[str] = []
    for char in text:
        reading = table.get(char)
        if reading is not None:
            out.append(reading)
        elif not char.isspace():
            out.append(char.casefold())
    return out


@lru_cache(maxsize=_CACHE)
def to_pinyin(text: str) -> str:
    """``pinyin_syllables`` joined without spaces (``深圳`` → ``shenzhen``)."""
    return "".join(pinyin_syllables(text))


@lru_cache(maxsize=1 << 14)
def place_pinyin(text: str) -> str:
    """Pinyin of a place name with pypinyin's phrase table (重庆 → chongqing, 厦门 → xiamen); place
    names are few and repeat, so the cache absorbs the cost."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).replace(" ", "").casefold()


# --------------------------------------------------------------------------------------------- names

# Given-name variants of the same name (English diminutives and short forms). Each row is one name; the
# first word is the canonical spelling. Sources: common-knowledge lists such as
# https://github.com/carltonnorthern/nicknames (names.csv), trimmed to unambiguous, frequent ones.
_NICKNAME_ROWS = """
william bill billy will willy liam
robert bob bobby rob robbie bert
elizabeth liz lizzie beth betty betsy eliza libby
james jim jimmy jamie
michael mike mikey mick
thomas tom tommy
richard dick rick ricky rich
katherine kate katie kathy cathy catherine kathryn kat
christopher chris kit
christine chris chrissy kristin
alexander alex alec sasha
alexandra alex sandra sandy lexi
daniel dan danny
david dave davy
joseph joe joey
john jack johnny jon
jonathan jon
matthew matt matty
nicholas nick nicky
patrick pat paddy
patricia pat patty trish
samuel sam sammy
samantha sam sammie
stephen steve stevie steven
anthony tony
margaret maggie peggy meg madge
jennifer jenny jen
susan sue susie suzanne
andrew andy drew
benjamin ben benny
charles charlie chuck chas
edward ed eddie ted ned
frederick fred freddie
gregory greg
henry harry hank
lawrence larry laurie
ronald ron ronnie
timothy tim timmy
victoria vicky tori
abigail abby gail
rebecca becky becca
deborah debbie deb
jeffrey jeff geoffrey
kenneth ken kenny
leonard leo len lenny
amanda mandy
nathan nate nathaniel
phillip phil philip
theodore ted teddy theo
zachary zach zack
gwendolyn wendy gwen
dorothy dot dottie
eugene gene
gerald gerry jerry
raymond ray
donald don donny
douglas doug
albert al bert
walter walt wally
francis frank fran
frances fran frankie
judith judy
jacqueline jackie
pamela pam
barbara barb barbie
"""


@lru_cache(maxsize=1)
def _nicknames() -> dict[str, str]:
    """Each known variant → its canonical given name. A variant of several names (chris, pat, alex)
    maps to the first row it appears in; the pair still meets when both sides map the same way."""
    table: dict[str, str] = {}
    for row in _NICKNAME_ROWS.split("\n"):
        words = row.split()
        if words:
            for word in words:
                table.setdefault(word, words[0])
    return table


def canonical_given_name(word: str) -> str:
    """``'bill'`` → ``'william'``; unknown names unchanged."""
    return _nicknames().get(word, word)


@dataclass(frozen=True, slots=True)
class PreparedName:
    """Small on purpose (tuples, shared strings): a million of these are held at once in a batch,
    and every forked comparison worker copies the pages it reads."""

    text: str  # casefolded display form
    keys: tuple[str, ...]  # order-insensitive keys incl. pinyin (hub.normalize.person_name_keys)
    nick_keys: tuple[str, ...]  # ASCII keys with every given name in its canonical form
    latin_keys: tuple[str, ...]  # the ASCII keys, for Jaro-Winkler
    family: str  # family name in Latin letters (pinyin for Hanzi)
    primary: str  # the key used for term frequency ("wei zhang" for 张伟, Zhang Wei, 张玮)
    hanzi: bool  # written in Han characters: typos there are homophones, not letter slips
    initialled: bool  # a given name written as an initial (W. Zhang)


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return any(k in b for k in a)


@lru_cache(maxsize=_CACHE)
def prepare_person_name(text: str) -> PreparedName | None:
    try:
        given, family = n.split_person_name(text)
        key_set = _name_keys(text, given, family)
    except n.InvalidValue:
        return None
    if not key_set:
        return None
    keys = tuple(sorted(key_set))
    latin = tuple(k for k in keys if k.isascii())
    if len(latin) == len(keys):
        latin = keys
    hanzi = has_cjk(text)
    nick = latin
    if not hanzi:  # pinyin syllables are no English given names
        nicknames = _nicknames()
        folded = tuple(
            sorted({" ".join(sorted(nicknames.get(w, w) for w in k.split())) for k in latin})
        )
        nick = latin if folded == latin else folded
    shown = clean(text).casefold()
    return PreparedName(
        text=text if shown == text else shown,
        keys=keys,
        nick_keys=nick,
        latin_keys=latin,
        family=_latin_name_part(family),
        primary=min(latin, key=lambda k: (-len(k), k)) if latin else keys[0],
        hanzi=hanzi,
        initialled=any(len(w) == 1 for k in latin for w in k.split()),
    )


_NAME_PUNCTUATION = re.compile(r"[\s.'’`‘\"()\-]+")


def _name_keys(text: str, given: str | None, family: str | None) -> frozenset[str]:
    """``hub.normalize.person_name_keys``, with the given name of a Han-character name read through
    ``pinyin_syllables`` (the normaliser's pypinyin call is the cost of a million-record batch).
    The family name still goes through the normaliser, for its surname readings (曾 → zeng), once
    per distinct surname. The same keys: the written name, then family and given pinyin sorted,
    the given name joined and by syllable, ü also as u and yu."""
    if not has_cjk(text) or not family or not any(c in _syllables() for c in text):
        return frozenset(n.person_name_keys(text))
    readings = sorted(_family_readings(family))
    syllables = [s for s in pinyin_syllables(given or "") if s.isalnum()]
    keys = {n.normalize_person_name(text) or text}
    for reading in readings:
        keys.add(" ".join(sorted([reading, "".join(syllables)])).strip())
        if len(syllables) > 1:
            keys.add(" ".join(sorted([reading, *syllables])))
    for key in [k for k in keys if "v" in k and k.isascii()]:  # 吕 lv = Lu = Lyu
        keys.update((key.replace("v", "u"), key.replace("v", "yu")))
    keys.discard("")
    return frozenset(keys)


@lru_cache(maxsize=1 << 12)
def _family_readings(family: str) -> frozenset[str]:
    """A family name's readings: the table's, and for a one-character surname the normaliser's
    surname readings (曾 is zeng as a surname, 乐 yue or le)."""
    if len(family) == 1:
        special = {k for k in n.person_name_keys(family) if k.isascii() and " " not in k}
        if special:
            return frozenset(special)
    return frozenset({to_pinyin(family)})


def _latin_name_part(part: str | None) -> str:
    if not part:
        return ""
    if has_cjk(part):
        return to_pinyin(part)
    return _NAME_PUNCTUATION.sub("", strip_accents(part).casefold())


def _is_typo(x: str, y: str) -> bool:
    """One slip of the keyboard (two for long names): Jonathan/Jonathon, Micheal/Michael. A whole
    syllable more or less (wei zhang / weilei zhang: 张伟 and 张伟磊) is another name, however
    similar the strings look to Jaro-Winkler."""
    limit = 2 if min(len(x), len(y)) >= 12 else 1
    return bool(OSA.distance(x, y, score_cutoff=limit) <= limit)


def _initial_of(short: str, full: str) -> bool:
    """``w zhang`` abbreviates ``wei zhang``: the same words but one, written as its initial."""
    words, others = short.split(), full.split()
    initials = [w for w in words if len(w) == 1]
    if len(initials) != 1 or len(words) != len(others) or len(words) < 2:
        return False
    rest = list(others)
    for word in words:
        if len(word) > 1:
            if word not in rest:
                return False
            rest.remove(word)
    return len(rest) == 1 and len(rest[0]) > 1 and rest[0][0] == initials[0]


def _shared(
    a: PreparedName, b: PreparedName, mine: tuple[str, ...], theirs: tuple[str, ...]
) -> bool:
    """Whether the two key sets overlap on more than a family name alone: an initialled name keeps
    that as a key (``W. Zhang`` → ``zhang``), and S. Nelson and L. Nelson share only it."""
    common = [k for k in mine if k in theirs]
    if not common:
        return False
    return not (a.initialled or b.initialled) or any(" " in k for k in common)


def _has_given(name: PreparedName) -> bool:
    return any(" " in k for k in name.keys)  # a family name alone has one-word keys only


def _whole(name: PreparedName) -> tuple[str, ...]:
    """The ASCII keys, less an initialled name's family name alone (no typo of anything)."""
    if not name.initialled:
        return name.latin_keys
    return tuple(k for k in name.latin_keys if " " in k)


class PersonNameComparator:
    """张伟 ≈ Zhang Wei ≈ Wei Zhang ≈ 张玮 (same pinyin); Bill ≈ William; typos by Jaro-Winkler;
    ``W. Zhang`` ≈ ``Wei Zhang`` by initial; ``David Zhang`` vs 张伟 agree on the family name only.
    Two names in Hanzi with one family name and given names that sound different (陈宸扬, 陈勇勇)
    differ: in Hanzi a slip is a homophone, and there is no English name beside a Chinese one."""

    levels = (
        "missing", "exact", "same_keys", "nickname", "close", "initial", "family_only", "different",
    )  # fmt: skip
    tf_levels = frozenset({1, 2})

    def __init__(self, close: float = 0.92) -> None:
        self.close = close

    def prepare(self, value: Any) -> PreparedName | None:
        text = _text(value)
        return prepare_person_name(text) if text else None

    def compare(self, a: PreparedName, b: PreparedName) -> int:
        if a.text == b.text:
            return 1
        if _shared(a, b, a.keys, b.keys):
            return 2
        if _shared(a, b, a.nick_keys, b.nick_keys):
            return 3
        same_family = bool(a.family) and a.family == b.family
        if a.initialled != b.initialled:
            for x in a.latin_keys:
                for y in b.latin_keys:
                    if _initial_of(x, y) or _initial_of(y, x):
                        return 5
        if not (a.hanzi and b.hanzi):  # two names written in Hanzi that sound different differ
            for x in _whole(a):
                for y in _whole(b):
                    if _is_typo(x, y) and _jw(x, y) >= self.close:
                        return 4
        if same_family and a.hanzi and b.hanzi and _has_given(a) and _has_given(b):
            return 7  # 陈宸扬 and 陈勇勇; but 王 (no given name written) and 王伟 share the family
        return 6 if same_family else 7

    def tf_key(self, prepared: PreparedName) -> str | None:
        return prepared.primary


def person_names_differ(a: str, b: str) -> bool:
    """Whether two written names are two people's, for a shared weak key (an office line): they
    agree on nothing, or only on a family name while both give a given name (王 and 王伟 may be one
    person written short; 李皓涛 and 李逸伟, or David Zhang and 张伟, are not known to be)."""
    x, y = prepare_person_name(a), prepare_person_name(b)
    if x is None or y is None:
        return False
    level = _PERSON_NAMES.levels[_PERSON_NAMES.compare(x, y)]
    if level == "different":
        return True
    return level == "family_only" and _has_given(x) and _has_given(y)


_PERSON_NAMES = PersonNameComparator()


# ----------------------------------------------------------------------------------------- companies

# Industry words as Chinese company names spell them, with the English word a translation uses, so
# 腾达电子 and "Tengda Electronics" compare equal. Longest first when matching.
_CJK_GLOSSARY = {
    "信息技术": "information technology", "科技": "technology", "技术": "technology",
    "电子": "electronics", "贸易": "trading", "商贸": "trading", "网络": "network",
    "信息": "information", "软件": "software", "实业": "industrial", "工业": "industrial",
    "投资": "investment", "咨询": "consulting", "物流": "logistics", "机械": "machinery",
    "医药": "pharmaceutical", "生物": "biotech", "化工": "chemical", "建设": "construction",
    "工程": "engineering", "环保": "environmental", "新能源": "new energy", "能源": "energy",
    "汽车": "automotive", "食品": "food", "服饰": "apparel", "传媒": "media", "文化": "culture",
    "教育": "education", "智能": "intelligent", "通信": "communication", "电气": "electric",
    "设备": "equipment", "材料": "material", "国际": "international", "集团": "group",
    "控股": "holdings", "发展": "development", "管理": "management", "服务": "service",
    "制造": "manufacturing", "数据": "data", "系统": "system", "电器": "appliance",
    "精密": "precision", "光电": "optoelectronics", "半导体": "semiconductor", "仪器": "instrument",
    "金融": "financial", "餐饮": "catering", "酒店": "hotel", "地产": "real estate",
    "房地产": "real estate", "置业": "real estate", "供应链": "supply chain", "电商": "ecommerce",
    "电子商务": "ecommerce", "进出口": "import export", "包装": "packaging", "纺织": "textile",
    "家具": "furniture", "塑料": "plastics", "五金": "hardware", "医疗": "medical", "器械": "device",
    "云计算": "cloud computing", "人工智能": "artificial intelligence", "航空": "aviation",
}  # fmt: skip
_LATIN_SYNONYMS = {
    "tech": "technology", "technologies": "technology", "technological": "technology",
    "electronic": "electronics", "trade": "trading", "intl": "international",
    "info": "information", "networks": "network", "logistic": "logistics",
    "pharma": "pharmaceutical", "pharmaceuticals": "pharmaceutical", "bio": "biotech",
    "biotechnology": "biotech", "chemicals": "chemical", "industries": "industrial",
    "industry": "industrial", "holding": "holdings", "services": "service", "systems": "system",
    "solutions": "solution", "communications": "communication", "telecom": "communication",
    "equipments": "equipment", "materials": "material", "investments": "investment",
    "consultancy": "consulting", "auto": "automotive", "automobile": "automotive",
    "foods": "food", "appliances": "appliance", "instruments": "instrument",
    "devices": "device", "semiconductors": "semiconductor", "mfg": "manufacturing",
    "manufacture": "manufacturing", "engineering": "engineering", "eng": "engineering",
    "dev": "development", "mgmt": "management", "sci": "science",
}  # fmt: skip
# Words that carry no identity once translation has been aligned ("Science and Technology" = 科技).
_LATIN_NOISE = frozenset({"and", "of", "the", "science", "co", "company", "limited", "ltd"})


@lru_cache(maxsize=1)
def _cjk_glossary_words() -> tuple[str, ...]:
    return tuple(sorted(_CJK_GLOSSARY, key=len, reverse=True))


# Provinces and large cities a Chinese company name often starts with (深圳市腾达电子 is registered
# in Shenzhen; "Tengda Electronics" drops the place). Not stripped from the key itself, where a place
# can be the name (北京银行): only the cross-script comparison form drops it.
_REGIONS = """
北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东
海南 四川 贵州 云南 陕西 甘肃 青海 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 深圳 广州 杭州 南京 苏州
成都 武汉 西安 长沙 郑州 青岛 大连 宁波 厦门 沈阳 济南 合肥 福州 昆明 哈尔滨 长春 石家庄 太原
南昌 南宁 贵阳 兰州 海口 无锡 佛山 东莞 珠海 中山 惠州 温州 绍兴 嘉兴 金华 台州 常州 南通 徐州
扬州 烟台 潍坊 泉州 厦门 唐山
""".split()  # noqa: SIM905 - data, one word per item


@lru_cache(maxsize=1)
def _region_prefixes() -> tuple[tuple[str, ...], frozenset[str]]:
    """Chinese place names a company name may start with (深圳市, 北京), and their pinyin."""
    hanzi = tuple(sorted(set(_REGIONS), key=len, reverse=True))
    latin = frozenset(to_pinyin(r) for r in _REGIONS)
    return hanzi, latin


@dataclass(frozen=True, slots=True)
class PreparedCompany:
    key: str  # hub.normalize.company_name_key: legal form, brackets and branch removed
    pinyin: str  # that key in pinyin without spaces
    tokens: str  # a leading place name dropped, industry words translated, brand in pinyin


@lru_cache(maxsize=_CACHE)
def prepare_company_name(text: str) -> PreparedCompany | None:
    try:
        key = n.company_name_key(text)
    except n.InvalidValue:
        return None
    if not key:
        return None
    # As hub.normalize.company_name_pinyin_key, through the table look-up (see pinyin_syllables).
    pinyin = key.replace(" ", "") if key.isascii() else to_pinyin(key)
    return PreparedCompany(key, pinyin, company_tokens(key))


@lru_cache(maxsize=_CACHE)
def company_tokens(key: str) -> str:
    """The comparable words of a company core name, across scripts: ``深圳市腾达电子`` and
    ``shenzhen tengda electronics`` both → ``'tengda electronics'``."""
    hanzi_regions, latin_regions = _region_prefixes()
    if has_cjk(key):
        text = key.replace(" ", "")
        for region in hanzi_regions:
            if text.startswith(region) and len(text) > len(region) + 1:
                text = text[len(region) :].lstrip("省市区县")
                break
        tail: list[str] = []
        glossary = _cjk_glossary_words()
        while text:
            for word in glossary:
                if text.endswith(word) and len(text) > len(word):
                    tail.insert(0, _CJK_GLOSSARY[word])
                    text = text[: -len(word)]
                    break
            else:
                break
        brand = to_pinyin(text)
        words = [brand, *" ".join(tail).split()]
    else:
        words = key.replace("-", " ").split()
        if len(words) > 1 and words[0] in latin_regions:
            words = words[1:]
        words = [_LATIN_SYNONYMS.get(w, w) for w in words]
    kept = [w for w in words if w and w not in _LATIN_NOISE]
    return " ".join(kept) if kept else " ".join(words)


class CompanyNameComparator:
    """Core names compared after legal forms, brackets and branch suffixes are stripped (华为技术有限公司 =
    华为技术（深圳）有限公司 = 华为技术有限公司北京分公司; Acme Corp. = ACME Inc), then across scripts
    (阿里巴巴 = Alibaba; 腾达电子 = Tengda Electronics), then by token-set ratio (a short name inside the
    long one: 华为 ⊂ 华为技术)."""

    levels = ("missing", "exact", "same_in_translation", "subset", "close", "similar", "different")
    tf_levels = frozenset({1})

    def __init__(self, close: float = 88.0, similar: float = 70.0) -> None:
        self.close = close
        self.similar = similar

    def prepare(self, value: Any) -> PreparedCompany | None:
        text = _text(value)
        return prepare_company_name(text) if text else None

    def compare(self, a: PreparedCompany, b: PreparedCompany) -> int:
        if a.key == b.key:
            return 1
        if a.pinyin == b.pinyin or a.tokens == b.tokens:
            return 2
        score = fuzz.token_set_ratio(a.tokens, b.tokens)
        if score >= 100.0:
            return 3
        if score >= self.close:
            return 4
        if score >= self.similar:
            return 5
        return 6

    def tf_key(self, prepared: PreparedCompany) -> str | None:
        return prepared.key


# ---------------------------------------------------------------------------------- emails and phones


@lru_cache(maxsize=_CACHE)
def prepare_domain(text: str) -> str | None:
    """The organisation's web domain from a domain, a URL or an email address; None for free mail."""
    host = text.rpartition("@")[2] if "@" in text else text
    try:
        domain = n.registrable_domain(host)
    except n.InvalidValue:
        return None
    return domain if domain and not n.is_free_mail_domain(domain) else None


class DomainComparator:
    """A company's web domain, wherever it is written: its website, its domain field, the domain of
    its email addresses (``info@tengda.cn`` and ``www.tengda.cn``). Free-mail domains are missing."""

    levels = ("missing", "exact", "different")
    tf_levels = frozenset({1})

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_domain(text.strip()) if text else None

    def compare(self, a: str, b: str) -> int:
        return 1 if a == b else 2

    def tf_key(self, prepared: str) -> str | None:
        return prepared


@dataclass(frozen=True, slots=True)
class PreparedEmail:
    address: str
    domain: str  # interned: one string per domain however many addresses use it
    role: bool  # info@, sales@: shared by many people
    free: bool  # gmail.com, qq.com: a domain says nothing about the company

    @property
    def local(self) -> str:
        return self.address[: len(self.address) - len(self.domain) - 1]


_CANONICAL_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+")


@lru_cache(maxsize=_CACHE)
def prepare_email(text: str) -> PreparedEmail | None:
    address: str | None = text
    if not _CANONICAL_EMAIL.fullmatch(text):  # else already what normalize_email returns
        try:
            address = n.normalize_email(text)
        except n.InvalidValue:
            return None
    if not address:
        return None
    domain = sys.intern(address.rpartition("@")[2])
    return PreparedEmail(address, domain, is_role_mailbox(address), n.is_free_mail_domain(domain))


def _email_typo(a: PreparedEmail, b: PreparedEmail) -> bool:
    """One slip in an address, told apart from addresses that differ by one character by design:
    colleagues' ``aluo@`` / ``mluo@`` (initial + family name), ``liu.sifang@`` / ``liu.sifang2@`` (a
    digit added to tell namesakes apart), ``zhangyuwei@`` / ``zhangyawei@`` (two pinyin names), and
    QQ numbers one digit apart (other accounts). Counted as typos: two adjacent characters swapped,
    or a letter dropped or doubled past the first character of a local part of six or more."""
    if a.domain != b.domain:
        return a.local == b.local and OSA.distance(a.domain, b.domain, score_cutoff=1) <= 1
    x, y = a.local, b.local
    if OSA.distance(x, y, score_cutoff=1) > 1:
        return False
    if len(x) == len(y):
        diff = [i for i in range(len(x)) if x[i] != y[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and not x.isdigit()
    short, long_ = (x, y) if len(x) < len(y) else (y, x)
    if len(short) < 6:
        return False
    at = next((i for i in range(len(short)) if short[i] != long_[i]), len(short))
    return at > 0 and long_[at].isalpha()


class EmailComparator:
    """The address as a personal identifier: exact; one typo (see ``_email_typo``); different.
    A role mailbox (info@, sales@) is no person's address and counts as missing here; that two
    records name one is organisation evidence, which ``email_domain`` weighs.

    Not levels here, on purpose: the same local part at another domain (david.wagner@acme.com and
    david.wagner@gmail.com) is mostly the person's name again, already weighed by the name
    comparison, and two David Wagners at two companies share it; that two addresses share a company
    domain is organisation evidence, compared apart (``email_domain``)."""

    levels = ("missing", "exact", "one_edit", "different")
    tf_levels = frozenset({1})

    def prepare(self, value: Any) -> PreparedEmail | None:
        text = _text(value)
        email = prepare_email(text) if text else None
        return None if email is None or email.role else email

    def compare(self, a: PreparedEmail, b: PreparedEmail) -> int:
        if a.address == b.address:
            return 1
        if _email_typo(a, b):
            return 2
        return 3

    def tf_key(self, prepared: PreparedEmail) -> str | None:
        return prepared.address


class EmailDomainComparator:
    """The organisation behind an address: the same company domain or not. Free-mail domains
    (gmail.com, qq.com) say nothing about an organisation and count as missing."""

    levels = ("missing", "same_domain", "different")
    tf_levels = frozenset({1})

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        email = prepare_email(text) if text else None
        return email.domain if email and not email.free else None

    def compare(self, a: str, b: str) -> int:
        return 1 if a == b else 2

    def tf_key(self, prepared: str) -> str | None:
        return prepared


@dataclass(frozen=True, slots=True)
class PreparedPhone:
    e164: str
    code: int  # digits in the country calling code
    mobile: bool  # a mobile number (personal), not a fixed line (a switchboard, a household)

    @property
    def digits(self) -> str:
        """The national significant number."""
        return self.e164[1 + self.code :]


@lru_cache(maxsize=_CACHE)
def prepare_phone(text: str) -> PreparedPhone | None:
    if not text.startswith("+"):
        try:
            text = n.normalize_phone(text) or ""
        except n.InvalidValue:
            return None
    digits = _national_number(text)
    if not digits:
        return None
    return PreparedPhone(text, len(text) - 1 - len(digits), _is_mobile(text, digits))


def _is_mobile(e164: str, digits: str) -> bool:
    """Mainland China: 11 digits starting with 1 (MIIT numbering plan) — no parse needed for the
    numbers most records hold. Elsewhere libphonenumber's type; a number it cannot tell apart
    (FIXED_LINE_OR_MOBILE, as in the US) counts as a fixed line, the cautious side."""
    if e164.startswith("+86"):
        return len(digits) == 11 and digits.startswith("1")
    import phonenumbers

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE)


@lru_cache(maxsize=1)
def _calling_codes() -> frozenset[str]:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    return frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)


def _national_number(e164: str) -> str:
    """The national significant number of an E.164 number: what follows the country calling code
    (E.164 numbers carry no trunk prefix). Calling codes are prefix-free, so the first 1–3 digits
    that form one are it. As ``hub.normalize.phone_digits_key`` without a full parse per number."""
    digits = e164.lstrip("+")
    codes = _calling_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            return digits[size:]
    return digits


def _transposed(x: str, y: str) -> bool:
    """Equal but for two adjacent characters swapped."""
    diff = [i for i in range(len(x)) if x[i] != y[i]]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and x[diff[0]] == y[diff[1]]
        and x[diff[1]] == y[diff[0]]
    )


class PhoneComparator:
    """Exact E.164; two adjacent digits swapped (the typing slip); the same last 8 digits (a number
    stored with and without its area or country code); different. One digit off is not a level:
    extensions of one company's lines and consecutive mobile numbers differ so, by design.

    ``kind``: ``mobile`` compares mobile numbers only (personal), ``landline`` fixed lines only
    (a switchboard, a household line: shared, so a person config groups them with the
    organisation), ``any`` both. Which field a number was typed in does not matter."""

    levels = ("missing", "exact", "transposed", "same_last_8", "different")
    tf_levels = frozenset({1})

    def __init__(self, kind: str = "any") -> None:
        if kind not in ("any", "mobile", "landline"):
            raise ValueError(f"phone kind {kind!r}: any, mobile or landline")
        self.kind = kind

    def prepare(self, value: Any) -> PreparedPhone | None:
        text = _text(value)
        phone = prepare_phone(text.strip()) if text else None
        if phone is None or self.kind == "any" or phone.mobile == (self.kind == "mobile"):
            return phone
        return None

    def compare(self, a: PreparedPhone, b: PreparedPhone) -> int:
        if a.e164 == b.e164:
            return 1
        da, db = a.digits, b.digits
        if len(da) == len(db) and len(da) >= 7 and _transposed(da, db):
            return 2
        if len(da) >= 8 and len(db) >= 8 and da[-8:] == db[-8:]:
            return 3
        return 4

    def tf_key(self, prepared: PreparedPhone) -> str | None:
        return prepared.e164


# ------------------------------------------------------------------------------------------- dates

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


@lru_cache(maxsize=_CACHE)
def prepare_date(text: str) -> tuple[int, int, int] | None:
    found = _ISO_DATE.match(text)
    if found is None:
        try:
            day = n.parse_date(text)
        except n.InvalidValue:
            return None
        return (day.year, day.month, day.day) if day else None
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


class DateComparator:
    """Exact; day and month swapped (03/02 vs 02/03, the US/European mix-up); one of year, month or
    day differs (a typo); the same year; different."""

    levels = ("missing", "exact", "day_month_swapped", "one_part_differs", "same_year", "different")
    tf_levels = frozenset({1})

    def prepare(self, value: Any) -> tuple[int, int, int] | None:
        text = _text(value)
        return prepare_date(text.strip()[:10]) if text else None

    def compare(self, a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
        if a == b:
            return 1
        if a[0] == b[0] and a[1] == b[2] and a[2] == b[1]:
            return 2
        if (a[0] == b[0]) + (a[1] == b[1]) + (a[2] == b[2]) == 2:
            return 3
        if a[0] == b[0]:
            return 4
        return 5

    def tf_key(self, prepared: tuple[int, int, int]) -> str | None:
        return f"{prepared[0]:04d}-{prepared[1]:02d}-{prepared[2]:02d}"


# ------------------------------------------------------------------------------ identifiers and text

_ID_NOISE = re.compile(r"[\s\-_./]+")


@lru_cache(maxsize=_CACHE)
def prepare_identifier(text: str) -> str | None:
    return _ID_NOISE.sub("", clean(text).casefold()) or None


class IdentifierComparator:
    """Membership numbers, credit codes, tax ids: exact, one edit (a typo, at least 5 characters), or
    different. Case, spaces and dashes are not part of an identifier."""

    levels = ("missing", "exact", "one_edit", "different")
    tf_levels = frozenset({1})

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_identifier(text) if text else None

    def compare(self, a: str, b: str) -> int:
        if a == b:
            return 1
        if min(len(a), len(b)) >= 5 and OSA.distance(a, b, score_cutoff=1) <= 1:
            return 2
        return 3

    def tf_key(self, prepared: str) -> str | None:
        return prepared


@lru_cache(maxsize=_CACHE)
def prepare_plain(text: str) -> str | None:
    return strip_accents(clean(text).casefold()) or None


class ExactComparator:
    levels = ("missing", "exact", "different")
    tf_levels = frozenset({1})

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_plain(text) if text else None

    def compare(self, a: str, b: str) -> int:
        return 1 if a == b else 2

    def tf_key(self, prepared: str) -> str | None:
        return prepared


class TextComparator:
    """Free text (a title, a department): exact, Jaro-Winkler close, similar, different."""

    levels = ("missing", "exact", "close", "similar", "different")
    tf_levels = frozenset({1})

    def __init__(self, close: float = 0.92, similar: float = 0.8) -> None:
        self.close = close
        self.similar = similar

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_plain(text) if text else None

    def compare(self, a: str, b: str) -> int:
        if a == b:
            return 1
        score = _jw(a, b)
        return 2 if score >= self.close else 3 if score >= self.similar else 4

    def tf_key(self, prepared: str) -> str | None:
        return prepared


# --------------------------------------------------------------------------------------- addresses

_PLACE_SUFFIX_CJK = re.compile(r"(?:特别行政区|自治区|自治州|新区|省|市|区|县|镇|乡|街道)$")
_PLACE_SUFFIX_LATIN = re.compile(
    r"\s+(?:city|district|province|county|shi|qu|sheng|xian|new area)$|^(?:city of)\s+"
)


@lru_cache(maxsize=_CACHE)
def prepare_place(text: str) -> str | None:
    """A city, district or province: ``深圳市`` = ``深圳`` = ``Shenzhen`` = ``Shenzhen City``."""
    place = clean(text).casefold()
    if has_cjk(place):
        place = place.replace(" ", "")
        stripped = _PLACE_SUFFIX_CJK.sub("", place)
        place = stripped if len(stripped) >= 2 else place
        return place_pinyin(place) or None
    place = _PLACE_SUFFIX_LATIN.sub("", strip_accents(place))
    return re.sub(r"[\s\-'.]+", "", place) or None


class PlaceComparator:
    levels = ("missing", "exact", "close", "different")
    tf_levels = frozenset({1})

    def __init__(self, close: float = 0.9) -> None:
        self.close = close

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_place(text) if text else None

    def compare(self, a: str, b: str) -> int:
        if a == b:
            return 1
        return 2 if _jw(a, b) >= self.close else 3

    def tf_key(self, prepared: str) -> str | None:
        return prepared


class PostcodeComparator:
    """Exact; the same leading digits (``prefix`` of them: the same delivery area); different."""

    levels = ("missing", "exact", "same_area", "different")
    tf_levels = frozenset({1})

    def __init__(self, prefix: float = 4) -> None:
        self.prefix = int(prefix)

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_identifier(text) if text else None

    def compare(self, a: str, b: str) -> int:
        if a == b:
            return 1
        return 2 if len(a) > self.prefix and a[: self.prefix] == b[: self.prefix] else 3

    def tf_key(self, prepared: str) -> str | None:
        return prepared


# Street words in Chinese and their usual English renderings, to one pinyin spelling, so 科苑南路,
# "Keyuan Nan Lu" and "Keyuan South Road" compare equal.
_STREET_WORDS = {
    "road": "lu", "rd": "lu", "street": "jie", "st": "jie", "avenue": "dadao", "ave": "dadao",
    "boulevard": "dadao", "blvd": "dadao", "lane": "xiang", "ln": "xiang", "alley": "hutong",
    "south": "nan", "s": "nan", "north": "bei", "n": "bei", "east": "dong", "e": "dong",
    "west": "xi", "w": "xi", "middle": "zhong", "central": "zhong", "no": "", "number": "",
}  # fmt: skip
_NUMBERS = re.compile(r"\d+")
_CJK_NUMBER = re.compile(r"(\d+)\s*号")
_STREET_NUMBER_WORDS = re.compile(r"\d+\s*(?:号|號|弄|栋|幢|楼|層|层|室|单元)?")


@lru_cache(maxsize=_CACHE)
def prepare_street(text: str) -> str | None:
    """The street name without its house number, in one spelling across scripts."""
    street = clean(text).casefold()
    if has_cjk(street):
        street = _STREET_NUMBER_WORDS.sub(" ", street).replace(" ", "")
        return to_pinyin(street) or None
    words = re.sub(r"[^\w\s]", " ", strip_accents(street)).split()
    words = [_STREET_WORDS.get(w, w) for w in words if not w.isdigit()]
    return "".join(words) or None


class StreetComparator:
    levels = ("missing", "exact", "close", "similar", "different")
    tf_levels = frozenset({1})

    def __init__(self, close: float = 0.92, similar: float = 0.82) -> None:
        self.close = close
        self.similar = similar

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_street(text) if text else None

    def compare(self, a: str, b: str) -> int:
        if a == b:
            return 1
        score = _jw(a, b)
        return 2 if score >= self.close else 3 if score >= self.similar else 4

    def tf_key(self, prepared: str) -> str | None:
        return prepared


@lru_cache(maxsize=_CACHE)
def prepare_street_number(text: str) -> str | None:
    """The house number: before 号 in a Chinese address, else the first number (``12 High St``)."""
    cjk = _CJK_NUMBER.search(text)
    if cjk:
        return cjk.group(1).lstrip("0") or "0"
    found = _NUMBERS.search(text)
    return (found.group(0).lstrip("0") or "0") if found else None


class StreetNumberComparator:
    levels = ("missing", "exact", "different")
    tf_levels: frozenset[int] = frozenset()

    def prepare(self, value: Any) -> str | None:
        text = _text(value)
        return prepare_street_number(text) if text else None

    def compare(self, a: str, b: str) -> int:
        return 1 if a == b else 2

    def tf_key(self, prepared: str) -> str | None:
        return prepared


_COMPARATORS: dict[str, Callable[..., Comparator]] = {
    "person_name": PersonNameComparator,
    "company_name": CompanyNameComparator,
    "email": EmailComparator,
    "email_domain": EmailDomainComparator,
    "domain": DomainComparator,
    "phone": PhoneComparator,
    "date": DateComparator,
    "identifier": IdentifierComparator,
    "exact": ExactComparator,
    "text": TextComparator,
    "place": PlaceComparator,
    "postcode": PostcodeComparator,
    "street": StreetComparator,
    "street_number": StreetNumberComparator,
}


# ------------------------------------------------------------------------------------ configuration


class ComparisonSpec(BaseModel):
    """One comparison: which fields, which comparator, whether common values weigh less.

    ``field`` is shorthand for a single field. ``options`` are the comparator's thresholds
    (``{"close": 0.9}`` for names; ``{"prefix": 3}`` for postcodes).

    ``group`` names comparisons that measure one underlying fact, such as the organisation (company
    name, company email domain) or the address (street, house number, postcode, city): within a
    group only the strongest evidence for and the strongest against count, so correlated agreement
    is not added up as if independent (see ``hub.identity.scorer``). ``shared_group``: when the
    value two records agree on is also held by other entities (a switchboard, a role mailbox), the
    agreement is evidence about that group (the organisation), not about the person, and is pooled
    with it; a value no one else holds stays personal evidence (``tf_adjust`` must be on, since
    that is where value counts come from).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    fields: tuple[str, ...] = ()
    field: str | None = None
    comparator: ComparatorName
    tf_adjust: bool = False
    group: str | None = None
    shared_group: str | None = None
    options: dict[str, float | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fields(self) -> ComparisonSpec:
        fields = self.fields or ((self.field,) if self.field else ())
        if not fields:
            raise ValueError("a comparison needs `field` or `fields`")
        object.__setattr__(self, "fields", tuple(fields))
        object.__setattr__(self, "field", None)
        if not self.name:
            object.__setattr__(self, "name", fields[0])
        return self


class Comparison:
    """A configured comparison: prepares a record's values for it, and compares two prepared records.

    A record's prepared value is the comparator's prepared value for a single field, or a tuple of the
    distinct prepared values of several fields (compared all against all, best level kept).
    """

    __slots__ = (
        "comparator",
        "compare",
        "fields",
        "levels",
        "name",
        "spec",
        "tf_adjust",
        "tf_levels",
    )

    def __init__(self, spec: ComparisonSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.fields = spec.fields
        comparator = _COMPARATORS[spec.comparator](**spec.options)
        self.comparator = comparator
        self.levels: tuple[str, ...] = comparator.levels
        self.tf_adjust = spec.tf_adjust
        self.tf_levels: frozenset[int] = comparator.tf_levels if spec.tf_adjust else frozenset()
        self.compare: Callable[[Any, Any], int] = (
            comparator.compare if len(self.fields) == 1 else self._compare_many
        )

    def prepare(self, record: Mapping[str, Any]) -> Any | None:
        prepare = self.comparator.prepare
        if len(self.fields) == 1:
            return prepare(record.get(self.fields[0]))
        found: list[Any] = []
        for name in self.fields:
            value = prepare(record.get(name))
            if value is not None and value not in found:
                found.append(value)
        return tuple(found) if found else None

    def _compare_many(self, a: Sequence[Any], b: Sequence[Any]) -> int:
        compare = self.comparator.compare
        if len(a) == 1 and len(b) == 1:
            return compare(a[0], b[0])
        best = len(self.levels)
        for x in a:
            for y in b:
                level = compare(x, y)
                if level < best:
                    best = level
                    if level == 1:
                        return 1
        return best

    def values(self, prepared: Any) -> list[Any]:
        if prepared is None:
            return []
        return list(prepared) if len(self.fields) > 1 else [prepared]

    def tf_keys(self, prepared: Any) -> list[str]:
        """The values whose frequency is counted for term-frequency adjustment."""
        keys = (self.comparator.tf_key(v) for v in self.values(prepared))
        return [k for k in keys if k]

    def pair_tf_key(self, a: Any, b: Any, level: int) -> str | None:
        """The value two records agree on at ``level`` (the one whose frequency adjusts the weight)."""
        if len(self.fields) == 1:
            return self.comparator.tf_key(a)
        compare = self.comparator.compare
        for x in a:
            for y in b:
                if compare(x, y) == level:
                    return self.comparator.tf_key(x)
        return None

    def level_name(self, level: int) -> str:
        return self.levels[level]


def build_comparisons(specs: Sequence[ComparisonSpec]) -> list[Comparison]:
    return [Comparison(spec) for spec in specs]


def prepare_record(comparisons: Sequence[Comparison], record: Mapping[str, Any]) -> tuple[Any, ...]:
    """A record's prepared value for every comparison, in order (None where it has no value)."""
    return tuple(c.prepare(record) for c in comparisons)


def compare_prepared(
    comparisons: Sequence[Comparison], a: Sequence[Any], b: Sequence[Any]
) -> list[int]:
    """The level of every comparison for two prepared records (0 where either has no value)."""
    levels: list[int] = []
    for comparison, x, y in zip(comparisons, a, b, strict=True):
        levels.append(MISSING if x is None or y is None else comparison.compare(x, y))
    return levels
