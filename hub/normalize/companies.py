"""Company names reduced to the core that identifies the company, for matching.

``company_name_key``: NFKC, lower-case, accents dropped (Latin only), punctuation removed, every
bracketed part removed (region qualifiers such as 华为技术（深圳）有限公司, "ACME (China) Co.,
Ltd.", "(Beijing) Branch"), a branch suffix removed (北京分公司, 上海办事处, 深圳分行, "Shanghai
Branch", "Representative Office"), then legal forms removed from the end, repeatedly ("GmbH & Co.
KG", "Pty Ltd", 股份有限公司, 有限责任公司, 株式会社 also at the front as Japanese names put it).

Decision on 集团 / "Group" / 控股 / "Holdings": kept. A group and its operating companies are
different customers (contracts are signed by one legal entity), and they carry different credit
codes; what differs by that word is for the similarity score to weigh, not for the key to erase. A
bracketed "（集团）" goes with every other bracketed part.

Known limit: a leading region (北京字节跳动科技有限公司 vs 字节跳动科技有限公司) is kept, because in
names such as 北京银行 it is the name itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hub.normalize._base import (
    InvalidValue,
    cleaned_text,
    invalid,
    join_cjk,
    strip_accents,
    to_pinyin,
    word_set,
)

_EXPECTED = "a company name"
_BRACKETS = str.maketrans("【〔[{〈<】〕]}〉>", "((((((" + "))))))")
_BRACKETED = re.compile(r"\s*\([^()]*\)\s*")
_DELETED = re.compile(r"['’`‘´]")  # McDonald's → mcdonalds
_PUNCTUATION = re.compile(r"[^\w\s]|_")

_CJK_LEGAL_FORMS = tuple(
    sorted(
        word_set(
            """
            股份有限公司 有限责任公司 有限責任公司 有限公司 股份公司 责任公司 合伙企业 合夥企業
            有限合伙 普通合伙 特殊普通合伙 个人独资企业 個人獨資企業 公司
            株式会社 有限会社 合同会社 주식회사 유한회사
            """
        ),
        key=lambda form: (-len(form), form),
    )
)
_LEADING_LEGAL_FORMS = ("株式会社", "有限会社", "合同会社", "주식회사")
_LATIN_LEGAL_FORMS = word_set(
    """
    inc incorporated corp corporation co company cos ltd limited llc llp lp plc
    gmbh mbh ag kg kgaa ohg ug ev se sa sas sasu sarl srl spa bv nv vof
    pty pte pvt kk yk ab as asa oy oyj aps sl slu sdn bhd lda ltda cv sab
    ooo zao oao pjsc jsc ojsc ltee
    """
)
_CONNECTORS = frozenset({"and", "und", "et", "y"})
_CJK_BRANCH = re.compile(
    r"(?:分公司|分行|支行|分店|分厂|分廠|办事处|辦事處|代表处|代表處|营业部|營業部|分部|分所|分支机构|分社)$"
)
_LATIN_BRANCHES = (
    ("branch", "office"),
    ("representative", "office"),
    ("rep", "office"),
    ("liaison", "office"),
    ("branch",),
)
_REGIONS = word_set(
    """
    北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北
    湖南 广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门
    深圳 广州 杭州 南京 苏州 成都 武汉 西安 长沙 郑州 青岛 大连 宁波 厦门 沈阳 济南 合肥
    福州 昆明 哈尔滨 长春 石家庄 太原 南昌 南宁 贵阳 兰州 海口 三亚 乌鲁木齐 呼和浩特 银川
    西宁 拉萨 无锡 佛山 东莞 珠海 中山 惠州 温州 绍兴 嘉兴 金华 台州 常州 南通 徐州 扬州
    烟台 潍坊 临沂 洛阳 宜昌 襄阳 株洲 泉州 漳州 唐山 保定 廊坊 芜湖 绵阳 遵义 柳州 桂林
    汕头 江门 湛江 昆山 义乌 浦东 海淀 朝阳 南山 福田
    """
)
_CJK_REGION_AT_END = re.compile(
    "(?:"
    + "|".join(sorted(_REGIONS, key=len, reverse=True))
    + ")(?:省|市|自治区|特别行政区|地区|新区|区|县)?$"
)
_LATIN_REGIONS_EXTRA = frozenset(
    {"hong kong", "hongkong", "macau", "macao", "taipei", "china", "prc"}
)


def company_name_key(value: str | None) -> str | None:
    """The core of a company name: ``'华为技术有限公司'`` → ``'华为技术'``, ``'Acme Corp.'`` →
    ``'acme'``, ``'ACME, Inc'`` → ``'acme'``, ``'华为技术有限公司北京分公司'`` → ``'华为技术'``;
    empty → None.

    When stripping would leave nothing (a company literally named "Company Ltd"), the last form
    standing is kept. A value without a letter or digit raises ``InvalidValue``.
    """
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return None
    try:
        return _company_name_key(text)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 16)
def _company_name_key(text: str) -> str:
    name = strip_accents(text.casefold()).translate(_BRACKETS).replace("&", " and ")
    unbracketed = name
    while "(" in unbracketed:
        reduced = _BRACKETED.sub(" ", unbracketed)
        if reduced == unbracketed:
            break
        unbracketed = reduced
    words = _words(unbracketed) or _words(name)
    if not words:
        raise invalid(text, _EXPECTED + " (it has no letters or digits)")
    core = join_cjk(" ".join(words))
    core = _strip_branch(core)
    return _strip_legal_forms(core)


def _words(name: str) -> list[str]:
    """A name's words without punctuation; single letters joined (S.A. → sa, L.L.C. → llc)."""
    words: list[str] = []
    in_letter_run = False
    for word in _PUNCTUATION.sub(" ", _DELETED.sub("", name)).split():
        single_letter = len(word) == 1 and word.isascii() and word.isalpha()
        if single_letter and in_letter_run:
            words[-1] += word
        else:
            words.append(word)
        in_letter_run = single_letter
    return words


def _strip_branch(core: str) -> str:
    cjk = _CJK_BRANCH.search(core)
    if cjk and cjk.start() > 0:
        return _cut_region(core[: cjk.start()].rstrip(), latin=False)
    words = core.split(" ")
    for branch in _LATIN_BRANCHES:
        if len(words) > len(branch) and tuple(words[-len(branch) :]) == branch:
            return _cut_region(" ".join(words[: -len(branch)]), latin=True)
    return core


def _cut_region(head: str, *, latin: bool) -> str:
    """What stays of a name once its branch word is gone: up to the legal form that precedes the
    branch's place name (``华为技术有限公司北京`` → ``华为技术有限公司``), else without a known
    region at the end (``华为北京`` → ``华为``), else as it is."""
    if latin:
        words = head.split(" ")
        for at in range(len(words) - 1, max(len(words) - 4, 0) - 1, -1):
            if words[at] in _LATIN_LEGAL_FORMS and at > 0:
                return " ".join(words[: at + 1])
        for size in (2, 1):
            if len(words) > size and " ".join(words[-size:]) in _latin_regions():
                return " ".join(words[:-size])
        return head
    legal_end = max(
        (head.rfind(form) + len(form) for form in _CJK_LEGAL_FORMS if form in head), default=-1
    )
    if legal_end > 2 and len(head) - legal_end <= 12:
        return head[:legal_end]
    region = _CJK_REGION_AT_END.search(head)
    if region and region.start() > 0:
        return head[: region.start()].rstrip()
    return head


@lru_cache(maxsize=1)
def _latin_regions() -> frozenset[str]:
    return frozenset({"".join(to_pinyin(region)) for region in _REGIONS} | _LATIN_REGIONS_EXTRA)


def _strip_legal_forms(core: str) -> str:
    for prefix in _LEADING_LEGAL_FORMS:
        if core.startswith(prefix) and len(core) > len(prefix):
            core = core[len(prefix) :].lstrip()
    if core.startswith("the ") and len(core) > 4:
        core = core[4:]
    while core not in _CJK_LEGAL_FORMS:
        for form in _CJK_LEGAL_FORMS:
            if core.endswith(form) and len(core) > len(form):
                core = core[: -len(form)].rstrip()
                break
        else:
            head, _, last = core.rpartition(" ")
            if not head or (last not in _LATIN_LEGAL_FORMS and last not in _CONNECTORS):
                return core
            core = head
    return core


def company_name_pinyin_key(value: str | None) -> str | None:
    """The core name in tone-less pinyin without spaces, so ``'阿里巴巴'`` ≈ ``'Alibaba'``
    (both ``'alibaba'``) and ``'阿里巴巴（中国）网络技术有限公司'`` → ``'alibabawangluojishu'``."""
    core = company_name_key(value)
    if core is None:
        return None
    return _pinyin_of(core)


@lru_cache(maxsize=1 << 16)
def _pinyin_of(core: str) -> str:
    if core.isascii():
        return core.replace(" ", "")
    return "".join(to_pinyin(core))
