"""Per-call cost of every normaliser in ``hub.normalize`` over 100k realistic values.

Run: ``.venv/bin/python bench/normalize_speed.py [--count 100000]``. For each function it prints
the median and mean µs per call on a cache miss (100k distinct messy values, caches cleared first)
and the mean on a cache hit (the same 1,000 values over and over, as repeated companies give).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from stdnum.cn import uscc

from hub import normalize as n

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
COMPOUND = ["欧阳", "司马", "诸葛", "上官", "慕容", "令狐"]
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英小红晓东海燕华建国志文辉鹏"
LATIN_FIRST = ["John", "Mary", "José", "Anna", "Wei", "Li", "Xiaoming", "Björn", "Zoë", "Ahmed"]
LATIN_LAST = ["Smith", "Müller", "García", "Zhang", "Wang", "O'Brien", "van der Berg", "Nguyen"]
WORDS = ["Acme", "Global", "Pacific", "Sino", "Tech", "Dragon", "Blue", "Star", "Orient", "Prime"]
CN_CORE = ["华为", "腾讯", "阿里巴巴", "字节跳动", "美的", "海尔", "格力", "比亚迪", "小米", "联想"]
CN_TRADE = ["科技", "技术", "网络", "电子", "贸易", "实业", "信息技术", "物流"]
CN_LEGAL = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]
LATIN_LEGAL = ["Inc.", "Co., Ltd.", "GmbH", "LLC", "Ltd", "Corporation", "S.A.", "Pty Ltd"]
_COUNTRY_SPELLINGS = (
    "CN|China|中国|USA|United States|美国|UK|GBR|826|Germany|德国|Japan|日本|香港|Hong Kong|台湾|"
    "Korea, Republic of|Singapore|新加坡|France|法国|Mainland China|PRC|Australia"
)
COUNTRIES = _COUNTRY_SPELLINGS.split("|")
# Allocated Chinese mobile prefixes (179 and 140 are not: phonenumbers rightly refuses them).
MOBILE_PREFIXES = "130 131 135 136 137 138 139 150 151 152 158 159 166 176 177 180 186 188 199"
MOBILE_PREFIXES_LIST = MOBILE_PREFIXES.split()
TLDS = ["com", "cn", "com.cn", "net", "co.uk", "de", "io", "org", "hk", "co.jp"]
FREE = ["qq.com", "163.com", "gmail.com", "126.com", "outlook.com", "foxmail.com", "sina.com"]


def _emails(rng: random.Random, count: int) -> Iterator[str]:
    for i in range(count):
        local = rng.choice(["zhang.wei", "li_na", "john.smith", "wang", "sales", "m.müller"]) + str(
            i
        )
        domain = (
            rng.choice(FREE)
            if rng.random() < 0.4
            else f"{rng.choice(WORDS).lower()}{i % 5000}.{rng.choice(TLDS)}"
        )
        address = f"{local}@{domain}"
        style = rng.random()
        if style < 0.3:
            address = address.upper()
        elif style < 0.4:
            address = f" <{address}> "
        elif style < 0.45:
            address = address.replace("@", "＠")
        yield address


def _phones(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        mobile = f"{rng.choice(MOBILE_PREFIXES_LIST)}{rng.randrange(10**8):08d}"
        layout = rng.random()
        if layout < 0.3:
            yield f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
        elif layout < 0.5:
            yield f"+86-{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
        elif layout < 0.6:
            yield f"0086{mobile}"
        elif layout < 0.8:
            yield f"0{rng.choice(['10', '21', '755'])}-{rng.randrange(10**7, 10**8)}"
        else:
            yield mobile


def _credit_codes(rng: random.Random, count: int) -> Iterator[str]:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for _ in range(count):
        body = (
            "91" + f"{rng.randrange(10**6):06d}" + "".join(rng.choice(alphabet) for _ in range(9))
        )
        code = body + uscc.calc_check_digit(body + "0")
        yield code.lower() if rng.random() < 0.2 else f"{code[:8]} {code[8:]}"


def _domains(rng: random.Random, count: int) -> Iterator[str]:
    for i in range(count):
        host = f"{rng.choice(WORDS).lower()}{i}.{rng.choice(TLDS)}"
        shape = rng.random()
        if shape < 0.4:
            yield f"https://www.{host}/about?x=1"
        elif shape < 0.7:
            yield f"www.{host}"
        else:
            yield f"sales@{host}"


def _person_names(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        if rng.random() < 0.6:
            family = rng.choice(COMPOUND) if rng.random() < 0.05 else rng.choice(SURNAMES)
            yield family + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        elif rng.random() < 0.5:
            yield f"{rng.choice(LATIN_FIRST)} {rng.choice(LATIN_LAST)}"
        else:
            yield f"{rng.choice(LATIN_LAST).upper()}, {rng.choice(LATIN_FIRST)}"


def _company_names(rng: random.Random, count: int) -> Iterator[str]:
    for i in range(count):
        if rng.random() < 0.6:
            region = rng.choice(["", "（深圳）", "（北京）", ""])
            branch = rng.choice(["", "", "", "上海分公司"])
            core = rng.choice(CN_CORE) + rng.choice(CN_TRADE) + str(i % 977)
            yield core + region + rng.choice(CN_LEGAL) + branch
        else:
            yield f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i} {rng.choice(LATIN_LEGAL)}"


def _datetimes(rng: random.Random, count: int) -> Iterator[str | int]:
    for _ in range(count):
        epoch = rng.randrange(1_300_000_000, 1_800_000_000)
        stamp = time.gmtime(epoch)
        shape = rng.random()
        if shape < 0.3:
            yield time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp)
        elif shape < 0.5:
            yield time.strftime("%Y-%m-%d %H:%M:%S", stamp)
        elif shape < 0.65:
            day = f"{stamp.tm_year}年{stamp.tm_mon}月{stamp.tm_mday}日"
            yield f"{day} {stamp.tm_hour}:{stamp.tm_min:02d}"
        elif shape < 0.8:
            yield time.strftime("%Y/%m/%d", stamp)
        else:
            yield epoch * 1000


def _dates(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        year, month, day = rng.randrange(1940, 2010), rng.randrange(1, 13), rng.randrange(1, 29)
        yield rng.choice(
            [
                f"{year}-{month:02d}-{day:02d}",
                f"{year}/{month}/{day}",
                f"{year}年{month}月{day}日",
                f"{day:02d}.{month:02d}.{year}",
                f"{day + 12}/{month}/{year}" if day <= 16 else f"{year}{month:02d}{day:02d}",
            ]
        )


def _numbers(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        value = rng.randrange(10**7)
        yield rng.choice([str(value), f"{value:,}", f"¥{value:,}.{rng.randrange(100):02d}"])


def _ints(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        value = rng.randrange(10**7)
        yield rng.choice([str(value), f"{value:,}", f"{value}.0"])


def _bools(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        yield rng.choice(["true", "False", "Y", "n", "是", "否", "1", "0", "yes"])


def _countries(rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        yield rng.choice(COUNTRIES)


def _texts(rng: random.Random, count: int) -> Iterator[str]:
    for i in range(count):
        yield f"  {rng.choice(CN_CORE)}\u3000{rng.choice(WORDS)}  {i} "


CASES: list[tuple[str, Callable[..., Any], Callable[[random.Random, int], Iterator[Any]]]] = [
    ("normalize_email", n.normalize_email, _emails),
    ("normalize_phone", n.normalize_phone, _phones),
    ("phone_digits_key", n.phone_digits_key, lambda r, c: map(n.normalize_phone, _phones(r, c))),
    ("normalize_country", n.normalize_country, _countries),
    ("normalize_credit_code", n.normalize_credit_code, _credit_codes),
    ("normalize_tax_id(CN)", partial(n.normalize_tax_id, country="CN"), _credit_codes),
    ("registrable_domain", n.registrable_domain, _domains),
    ("is_free_mail_domain", n.is_free_mail_domain, _domains),
    ("normalize_text", n.normalize_text, _texts),
    ("normalize_person_name", n.normalize_person_name, _person_names),
    ("split_person_name", n.split_person_name, _person_names),
    ("person_name_keys", n.person_name_keys, _person_names),
    ("company_name_key", n.company_name_key, _company_names),
    ("company_name_pinyin_key", n.company_name_pinyin_key, _company_names),
    ("parse_datetime", n.parse_datetime, _datetimes),
    ("parse_date", n.parse_date, _dates),
    ("parse_int", n.parse_int, _ints),
    ("parse_decimal", n.parse_decimal, _numbers),
    ("parse_bool", n.parse_bool, _bools),
]  # fmt: skip


def _clear_caches() -> None:
    """Empty every lru_cache in hub.normalize so the first pass measures misses."""
    import sys

    for name, module in list(sys.modules.items()):
        if not name.startswith("hub.normalize"):
            continue
        for attribute in vars(module).values():
            clear = getattr(attribute, "cache_clear", None)
            if clear is not None and getattr(attribute, "__name__", "") not in ("_tables", "_psl"):
                clear()


def _measure(fn: Callable[..., Any], values: list[Any]) -> tuple[float, float]:
    """(median, mean) µs per call, each call timed on its own."""
    clock = time.perf_counter_ns
    timings = []
    for value in values:
        start = clock()
        fn(value)
        timings.append(clock() - start)
    return statistics.median(timings) / 1000, statistics.fmean(timings) / 1000


def _batch_mean(fn: Callable[..., Any], values: list[Any]) -> float:
    start = time.perf_counter()
    for value in values:
        fn(value)
    return (time.perf_counter() - start) / len(values) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(
        f"{'function':<26}{'miss median µs':>16}{'miss mean µs':>14}{'hit mean µs':>13}  rejected"
    )
    for name, fn, make in CASES:
        rng = random.Random(args.seed)
        values = list(make(rng, args.count))
        for value in values[:50]:  # load reference data (CLDR, PSL, pinyin) outside the timing
            with contextlib.suppress(n.InvalidValue):
                fn(value)
        _clear_caches()
        rejected = 0

        def guarded(value: Any, fn: Callable[..., Any] = fn) -> None:
            nonlocal rejected
            try:
                fn(value)
            except n.InvalidValue:
                rejected += 1

        miss_median, miss_mean = _measure(guarded, values)
        hot = values[:1000] * max(1, args.count // 1000)
        rejected_before_hits = rejected
        hit_mean = _batch_mean(guarded, hot)
        rejected = rejected_before_hits
        print(f"{name:<26}{miss_median:>16.2f}{miss_mean:>14.2f}{hit_mean:>13.2f}  {rejected}")


if __name__ == "__main__":
    main()
