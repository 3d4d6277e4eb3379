"""Person names in any script: display form, composing and splitting, and comparison keys.

Chinese, Japanese and Korean names are written family name first with no space (张 + 伟 → 张伟);
Latin names "First Last". Transliterated foreign names in Chinese keep their middle dot
(唐纳德·特朗普), every look-alike dot (•, ・, ‧) folded to U+00B7. Characters are kept as written:
no simplified/traditional conversion (張偉 stays 張偉); the comparison keys meet through pinyin
instead.

Known limits: a Japanese name written without a space (山田太郎) is split after its first character,
because the family/given boundary is not in the text; Cantonese or Wade-Giles romanisations (Chan,
Wong) do not meet their Hanzi through pinyin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from hub.normalize._base import (
    InvalidValue,
    cleaned_text,
    has_cjk,
    invalid,
    is_cjk,
    join_cjk,
    strip_accents,
    to_pinyin,
    word_set,
)

_EXPECTED = "a person's name"
_DOTS = str.maketrans({c: "·" for c in "•・‧⋅∙•"})
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_LATIN_SEPARATORS = re.compile(r"[\s,;/]+")
_DROPPED_IN_WORDS = re.compile(r"[.'’`‘\"()\-]+")

# Two-character (复姓) surnames, simplified and traditional spellings.
COMPOUND_SURNAMES = word_set(
    """
    欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 独孤
    南宫 西门 百里 呼延 万俟 闻人 申屠 太史 赫连 澹台 公冶 宗政 濮阳 淳于 单于 太叔 仲孙
    钟离 宰父 谷梁 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 拓跋 夹谷 第五
    梁丘 左丘 东郭 南门 羊舌 微生 公羊 段干 司空
    歐陽 司馬 諸葛 東方 尉遲 長孫 軒轅 獨孤 南宮 鍾離 聞人 萬俟 單于 閭丘 東郭 夾谷
    """
)

# Surnames whose reading as a surname differs from the character's common reading (曾 is "zeng" as a
# surname, "ceng" in 曾经). Several readings where usage differs (乐: yue or le).
_SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng",), "单": ("shan",), "單": ("shan",), "解": ("xie",), "仇": ("qiu",),
    "朴": ("piao",), "区": ("ou",), "區": ("ou",), "查": ("zha",), "乐": ("yue", "le"),
    "樂": ("yue", "le"), "覃": ("qin", "tan"), "翟": ("zhai", "di"), "繁": ("po",),
    "盖": ("ge", "gai"), "蓋": ("ge", "gai"), "缪": ("miao",), "繆": ("miao",), "秘": ("bi",),
    "员": ("yun",), "種": ("chong",), "种": ("chong",), "召": ("shao",), "隗": ("wei",),
    "句": ("gou",), "尉": ("yu", "wei"), "柏": ("bai",), "贲": ("ben",), "郇": ("xun",),
    "重": ("chong",), "长孙": ("zhangsun",), "長孫": ("zhangsun",), "尉迟": ("yuchi",),
    "尉遲": ("yuchi",), "万俟": ("moqi",), "萬俟": ("moqi",), "单于": ("chanyu",),
    "單于": ("chanyu",), "澹台": ("tantai",),
}  # fmt: skip

_PARTICLES = word_set(
    "van von der den de del della di da dos das do du la le bin binti al el ter ten"
)
_SUFFIXES = word_set("jr sr ii iii iv phd md esq")


def normalize_person_name(value: str | None) -> str | None:
    """``'  张 伟 '`` → ``'张伟'``; ``'Wei   Zhang'`` → ``'Wei Zhang'``; empty → None.

    Case is kept as written (McDonald, van der Berg). A value with no letter at all, or an email
    address in a name field, raises ``InvalidValue``.
    """
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return None
    try:
        return _normalize_person_name(text)
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 16)
def _normalize_person_name(text: str) -> str:
    _check_name(text)
    if has_cjk(text):
        return join_cjk(text.translate(_DOTS))
    return text


def _check_name(text: str) -> None:
    if "@" in text:
        raise invalid(text, _EXPECTED + " (it looks like an email address)")
    if not any(c.isalpha() for c in text):
        raise invalid(text, _EXPECTED + " (it has no letters)")


def compose_person_name(first: str | None, last: str | None) -> str | None:
    """Full name from given (``first``) and family (``last``) names: ``('伟', '张')`` → ``'张伟'``,
    ``('Wei', 'Zhang')`` → ``'Wei Zhang'``; one part missing → the other; both missing → None."""
    given = normalize_person_name(first)
    family = normalize_person_name(last)
    if not given or not family:
        return given or family
    if _all_cjk(given) and _all_cjk(family):
        return family + given
    return f"{given} {family}"


def _all_cjk(text: str) -> bool:
    return all(is_cjk(c) or c == "·" for c in text)


def split_person_name(full: str | None) -> tuple[str | None, str | None]:
    """``(first, last)``, i.e. (given, family), of a full name; ``(None, None)`` when empty.

    CJK: family first (two-character compound surnames such as 欧阳 and 司马 recognised, a space
    typed between the parts trusted), ``唐纳德·特朗普`` split at the dot. Latin: ``'Zhang, Wei'`` is
    family-comma-given; a single word upper-cased among others (``'ZHANG Wei'``) is the family name;
    otherwise the last word with its particles (``de la``, ``van der``) and suffix (``Jr.``) is.
    A single word is returned as the family name (what CRMs that require a last name expect).
    """
    text = cleaned_text(full, _EXPECTED)
    if text is None:
        return None, None
    try:
        return _split_person_name(text)
    except InvalidValue as exc:
        raise exc.naming(full, seen=text) from None


@lru_cache(maxsize=1 << 14)
def _split_person_name(text: str) -> tuple[str | None, str | None]:
    _check_name(text)
    if has_cjk(text):
        return _split_cjk(text.translate(_DOTS))
    return _split_latin(text)


def _split_cjk(text: str) -> tuple[str | None, str | None]:
    if "·" in text:
        given, _, family = text.replace(" ", "").rpartition("·")
        return given or None, family or None
    parts = text.split()
    if len(parts) == 2 and _all_cjk(parts[0]) and _all_cjk(parts[1]):
        return parts[1], parts[0]
    compact = join_cjk(text)
    if len(compact) == 1:
        return None, compact
    if len(compact) >= 3 and compact[:2] in COMPOUND_SURNAMES:
        return compact[2:], compact[:2]
    return compact[1:], compact[0]


def _split_latin(text: str) -> tuple[str | None, str | None]:
    if "," in text:
        family, _, given = text.partition(",")
        return given.strip(" ,") or None, family.strip() or None
    words = text.split()
    if len(words) == 1:
        return None, words[0]
    # Initials ("S.", "J.R.") are no upper-cased family name.
    shouting = [
        i
        for i, w in enumerate(words)
        if w.isupper() and "." not in w and sum(map(str.isalpha, w)) > 1
    ]
    if len(shouting) == 1 and len(words) == 2:
        family_at = shouting[0]
        return words[1 - family_at], words[family_at]
    start = len(words) - 1
    if _bare(words[start]) in _SUFFIXES and start > 1:
        start -= 1
    while start > 1 and words[start - 1].lower() in _PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


def _bare(word: str) -> str:
    return word.lower().strip(".")


def person_name_keys(value: str | None) -> set[str]:
    """Order-insensitive comparison keys: two names that share a key may be the same name.

    Latin names: accents stripped, lower-cased, punctuation and hyphens dropped (``Xiao-Ming`` →
    ``xiaoming``), words sorted; a second key without single-letter initials. Hanzi names: the name
    as written, plus pinyin (tone-less, ü as v, u and yu) of family and given names, sorted, with
    the given name both joined and by syllable, and every surname reading (曾 → zeng). So 张伟,
    ``Zhang Wei``, ``Wei Zhang`` and ``ZHANG, Wei`` all hold ``'wei zhang'``. Empty → empty set.
    """
    text = cleaned_text(value, _EXPECTED)
    if text is None:
        return set()
    try:
        return set(_person_name_keys(text))
    except InvalidValue as exc:
        raise exc.naming(value, seen=text) from None


@lru_cache(maxsize=1 << 16)
def _person_name_keys(text: str) -> frozenset[str]:
    name = _normalize_person_name(text)
    if not has_cjk(name):
        return _latin_keys(name)
    keys = {name}
    if not _HAN.search(name):  # kana or Hangul only: no pinyin reading
        return frozenset(keys)
    # Split the normalised name (not the text as typed): keys must be the same whether they are
    # computed from a source value or from the golden record's stored name.
    given, family = _split_person_name(name)
    given_syllables = [_latin_word(s) for s in to_pinyin(given)] if given else []
    family_readings = _SURNAME_READINGS.get(family or "") or (
        "".join(_latin_word(s) for s in to_pinyin(family or "")),
    )
    for family_reading in family_readings:
        keys.add(_sorted_key([family_reading, "".join(given_syllables)]))
        if len(given_syllables) > 1:
            keys.add(_sorted_key([family_reading, *given_syllables]))
    for key in [k for k in keys if "v" in k and k.isascii()]:  # 吕: lv, Lu, Lyu (passports)
        keys.update((key.replace("v", "u"), key.replace("v", "yu")))
    keys.discard("")
    return frozenset(keys)


def _latin_keys(name: str) -> frozenset[str]:
    words = [_latin_word(w) for w in _LATIN_SEPARATORS.split(name)]
    words = [w for w in words if w]
    keys = {_sorted_key(words)}
    without_initials = [w for w in words if len(w) > 1]
    if without_initials and len(without_initials) < len(words):
        keys.add(_sorted_key(without_initials))
    return frozenset(keys)


def _latin_word(word: str) -> str:
    return _DROPPED_IN_WORDS.sub("", strip_accents(word).casefold())


def _sorted_key(words: Sequence[str]) -> str:
    return " ".join(sorted(w for w in words if w))
