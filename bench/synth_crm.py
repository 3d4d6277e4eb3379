"""A labelled generator of CRM-shaped customer data with known truth, for the dedupe benchmark.

What it imitates (each a reason real deduplication goes wrong):

- one person spread over several systems (Salesforce, HubSpot, Odoo, WeCom, a web shop), each holding a
  different subset of fields, sometimes entered twice in the same system;
- Chinese names in Hanzi, in pinyin in either order (``Wei Zhang``, ``ZHANG Wei``), with an English name
  (``David Zhang``), homophone typos (张伟 → 张玮, what a pinyin input method produces), and a realistic
  surname and given-name distribution, so 张伟 and 王芳 are common and collide;
- Western names with nicknames (Bill / William), typos and initials;
- phones in every format (``138-0013-8000``, ``+86 138 0013 8000``, ``(0755) 8888-6666 转 123``), with
  transposed digits; a company switchboard shared by all its contacts;
- work emails on the company domain (shared by colleagues), private emails (QQ numbers, 163, Gmail),
  role mailboxes (info@, sales@) typed in as a contact's address, typos;
- companies named with and without legal forms (有限公司, 股份有限公司, Co., Ltd.), a region in brackets
  (（深圳）), a branch suffix (北京分公司), the brand alone, or their English name; different companies
  sharing a brand (腾达电子 and 腾达科技);
- addresses in Hanzi, English and pinyin; spouses sharing a home address and landline;
- birth dates with day and month swapped.

Every contact record carries at least one contact channel (a HubSpot contact its email, a WeCom or
web-shop contact its mobile, an Odoo contact a phone or an email), as those systems require.

Records are the canonical values the hub holds after normalisation (``hub.model``), one JSON object per
line, plus ``entity``, ``system``, ``external_id`` and ``true_id`` (the entity the record belongs to).
Generation streams (constant memory apart from uniqueness sets) and is seedable:

    .venv/bin/python bench/synth_crm.py --records 100k --seed 1 --out /tmp/crm_100k.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import string
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pypinyin import lazy_pinyin
from stdnum.cn import uscc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.model import CanonicalEntity, Company, Person, to_json_value

# ------------------------------------------------------------------------------ reference data

# Surname shares in the 2020 census (percent, rounded), tail trimmed.
_SURNAMES = """
王 7.1 李 7.0 张 6.8 刘 5.4 陈 4.6 杨 3.1 黄 2.3 赵 2.0 吴 2.0 周 1.9 徐 1.5 孙 1.5 马 1.5 朱
1.3 胡 1.3 郭 1.2 何 1.2 林 1.1 罗 1.1 高 1.1 郑 1.0 梁 1.0 谢 0.8 宋 0.8 唐 0.8 许 0.7 韩 0.7
冯 0.7 邓 0.7 曹 0.7 彭 0.6 曾 0.6 肖 0.6 田 0.6 董 0.5 袁 0.5 潘 0.5 于 0.5 蒋 0.5 蔡 0.5 余
0.5 杜 0.5 叶 0.4 程 0.4 苏 0.4 魏 0.4 吕 0.4 丁 0.4 任 0.4 沈 0.4 姚 0.3 卢 0.3 姜 0.3 崔 0.3
钟 0.3 谭 0.3 陆 0.3 汪 0.3 范 0.3 金 0.3 石 0.3 廖 0.3 贾 0.3 夏 0.3 韦 0.2 付 0.2 方 0.2 白
0.2 邹 0.2 孟 0.2 熊 0.2 秦 0.2 邱 0.2 江 0.2 尹 0.2 薛 0.2 闫 0.2 段 0.2 雷 0.2 侯 0.2 龙 0.2
史 0.2 陶 0.2 黎 0.2 贺 0.2 顾 0.2 毛 0.2 郝 0.2 龚 0.2 邵 0.2 万 0.2 钱 0.2 严 0.2 覃 0.1 武
0.1 戴 0.1 莫 0.1 孔 0.1 欧阳 0.05 司马 0.01 诸葛 0.01 上官 0.01
""".split()  # noqa: SIM905 - data, one word per item
# Given-name characters, most frequent first (drawn with Zipf weights). Real Chinese given names use
# a few thousand characters; a pool too small makes namesakes far commoner than they are.
_GIVEN_MALE = """
伟 强 磊 军 洋 勇 杰 涛 超 明 刚 平 辉 鹏 华 飞 鑫 波 斌 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 阳 建
国 峰 亮 成 东 文 志 海 晨 博 翔 毅 昊 轩 宏 然 鸣 铭 炜 坤 彬 锋 晖 琦 豪 睿 哲 瑞 嘉 骏 航 泽
宸 皓 逸 楷 鹤 岩 松 柏 森 栋 梁 璋 琛 瀚 源 澄 渊 涵 清 钧 铎 锐 钦 镇 键 铿 岳 峻 崇 嵩 川 江
河 洲 湘 沛 沐 霖 雷 震 霆 云 风 扬 舟 帆 远 达 迪 进 运 通 逸 力 刚 毅 勋 功 武 斌 智 德 仁 义
礼 信 忠 孝 廉 恒 康 泰 安 乐 福 禄 寿 喜 庆
""".split()  # noqa: SIM905 - data, one word per item
_GIVEN_FEMALE = """
芳 娜 敏 静 丽 艳 娟 霞 秀 燕 玲 桂 丹 萍 红 婷 雪 琳 晶 颖 慧 莉 倩 洁 佳 梅 蕾 薇 媛 琴 云 月
欣 怡 蓉 璐 瑶 妍 玮 婧 菁 莹 璇 茜 悦 楠 岚 雯 琪 瑾 璟 瑜 珊 珍 珠 琼 瑛 婉 娴 婵 娇 媚 嫣 娅
姗 妮 姝 姣 婕 芸 芷 茵 荷 莲 菲 萱 蔓 蓓 蕊 薰 兰 竹 梦 诗 语 馨 香 露 霜 冰 清 洁 素 雅 韵 音
乐 歌 舞 画 书 墨 彤 彩 虹 霓 晴 晨 曦 昕 春 夏 秋 冬 心 意 思 念 忆 宁 静 安 怡 悦 欢 喜 笑 甜
蜜 柔 惠 淑 贤 德 美 好
""".split()  # noqa: SIM905 - data, one word per item
_GIVEN_FIRST = """
小 晓 建 志 海 子 思 雨 嘉 文 国 春 俊 一 永 立 世 明 天 宇 家 佳 梓 欣 雅 紫 梦 诗 若 可 亦 子
沐 浩 博 泽 俊 皓 宏 宸 鸿 振 德 光 启 金 玉 秀 丽 淑 慧 美 静 秋 冬 雪 婉 晨 曦 新 鹏 瑞 祥 福
兴 家 国 红
""".split()  # noqa: SIM905 - data, one word per item
_GIVEN_FIRST_UNIQUE = list(dict.fromkeys(_GIVEN_FIRST))
_ENGLISH_NAMES_M = """
David Michael Kevin Jason Eric Tony Peter Jack Leo Frank Vincent Allen Steven Ryan Andy
""".split()  # noqa: SIM905 - data, one word per item
_ENGLISH_NAMES_F = """
Lily Amy Grace Cindy Emily Linda Helen Vivian Coco Jenny Annie Sophia Alice Cathy Wendy
""".split()  # noqa: SIM905 - data, one word per item

# Western given names with the variants people actually use (some are not in any nickname table).
_WESTERN_GIVEN = [
    ("William", ["Bill", "Will", "Billy"]), ("Robert", ["Bob", "Rob", "Bobby"]),
    ("Elizabeth", ["Liz", "Beth", "Betty"]), ("James", ["Jim", "Jimmy"]), ("Michael", ["Mike"]),
    ("Thomas", ["Tom", "Tommy"]), ("Richard", ["Rick", "Dick", "Rich"]), ("Katherine", ["Kate", "Katie"]),
    ("Christopher", ["Chris"]), ("Alexander", ["Alex"]), ("Daniel", ["Dan", "Danny"]),
    ("David", ["Dave"]), ("Joseph", ["Joe"]), ("Jonathan", ["Jon"]), ("Matthew", ["Matt"]),
    ("Nicholas", ["Nick"]), ("Patricia", ["Pat", "Trish"]), ("Samuel", ["Sam"]),
    ("Stephen", ["Steve"]), ("Anthony", ["Tony"]), ("Margaret", ["Maggie", "Peggy"]),
    ("Jennifer", ["Jenny", "Jen"]), ("Susan", ["Sue"]), ("Andrew", ["Andy", "Drew"]),
    ("Benjamin", ["Ben"]), ("Charles", ["Charlie", "Chuck"]), ("Edward", ["Ed", "Ted"]),
    ("Julia", ["Jules"]), ("Maximilian", ["Max"]), ("Isabella", ["Bella"]), ("Josephine", ["Josie"]),
    ("Joanna", ["Jo"]), ("Valentina", ["Val"]), ("Sarah", []), ("Emma", []), ("Olivia", []),
    ("Laura", []), ("Anna", []), ("Mark", []), ("Paul", []), ("Brian", []), ("George", []),
    ("Sophie", []), ("Lucas", []), ("Martin", []), ("Claire", []), ("Hannah", []), ("Oliver", []),
    ("Kevin", []), ("Jason", []), ("Ryan", []), ("Eric", []), ("Adam", []), ("Nathan", ["Nate"]),
    ("Rachel", []), ("Rebecca", ["Becky"]), ("Victoria", ["Vicky"]), ("Amanda", ["Mandy"]),
    ("Jessica", ["Jess"]), ("Melissa", ["Mel"]), ("Natalie", []), ("Stephanie", ["Steph"]),
    ("Christina", ["Tina"]), ("Frederick", ["Fred"]), ("Gregory", ["Greg"]), ("Timothy", ["Tim"]),
    ("Kenneth", ["Ken"]), ("Ronald", ["Ron"]), ("Lawrence", ["Larry"]), ("Philip", ["Phil"]),
    ("Henry", ["Harry"]), ("Arthur", []), ("Felix", []), ("Hugo", []), ("Leon", []), ("Noah", []),
    ("Ethan", []), ("Chloe", []), ("Zoe", []), ("Lena", []), ("Marie", []), ("Nina", []), ("Eva", []),
    ("Lukas", []), ("Jonas", []), ("Pierre", []), ("Louis", []), ("Marco", []), ("Luca", []),
    ("Giulia", []), ("Sofia", []), ("Ingrid", []), ("Erik", []), ("Lars", []), ("Piotr", []),
]  # fmt: skip
_WESTERN_FAMILY = """
Smith Johnson Williams Brown Jones Miller Davis Garcia Wilson Anderson Taylor Thomas Moore
Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott
Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans
Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Müller Schmidt
Schneider Fischer Weber Meyer Wagner Becker Dubois Bernard Rossi Russo Ferrari Novak Jensen
Hansen Larsen Kowalski Hughes Price Bennett Wood Barnes Ross Henderson Coleman Jenkins Perry
Powell Long Patterson Butler Simmons Foster Gonzales Bryant Alexander Russell Griffin Hayes
Myers Ford Hamilton Graham Sullivan Wallace Woods Cole West Jordan Owens Reynolds Fisher Ellis
Harrison Gibson McDonald Cruz Marshall Gomez Murray Freeman Wells Webb Simpson Stevens Tucker
Porter Hunter Hicks Crawford Henry Boyd Mason Kennedy Warren Dixon Burns Gordon Shaw Holmes Rice
Robertson Hunt Black Daniels Palmer Mills Nichols Grant Knight Ferguson Stone Hawkins Dunn
Perkins Hudson Spencer Gardner Stephens Payne Hoffmann Schulz Koch Richter Klein Wolf Schröder
Neumann Schwarz Zimmermann Braun Hofmann Lange Moreau Laurent Simon Michel Lefebvre Leroy Roux
Fontaine Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti Nielsen Andersen Pedersen
Johansson Lindberg Nowak Wiśniewski Dvořák
""".split()  # noqa: SIM905 - data, one word per item

_CITIES = {
    # city: (pinyin, area code, postcode base, districts)
    "深圳": ("Shenzhen", "0755", 518000, ["南山区", "福田区", "罗湖区", "宝安区", "龙岗区"]),
    "北京": ("Beijing", "010", 100000, ["海淀区", "朝阳区", "东城区", "西城区", "丰台区"]),
    "上海": ("Shanghai", "021", 200000, ["浦东新区", "徐汇区", "静安区", "黄浦区", "闵行区"]),
    "广州": ("Guangzhou", "020", 510000, ["天河区", "越秀区", "海珠区", "白云区", "番禺区"]),
    "杭州": ("Hangzhou", "0571", 310000, ["西湖区", "滨江区", "拱墅区", "余杭区", "萧山区"]),
    "南京": ("Nanjing", "025", 210000, ["玄武区", "鼓楼区", "秦淮区", "建邺区", "江宁区"]),
    "成都": ("Chengdu", "028", 610000, ["锦江区", "武侯区", "青羊区", "高新区", "成华区"]),
    "武汉": ("Wuhan", "027", 430000, ["江汉区", "武昌区", "洪山区", "汉阳区", "江岸区"]),
    "苏州": ("Suzhou", "0512", 215000, ["姑苏区", "吴中区", "相城区", "工业园区", "虎丘区"]),
    "西安": ("Xi'an", "029", 710000, ["雁塔区", "碑林区", "新城区", "莲湖区", "未央区"]),
    "天津": ("Tianjin", "022", 300000, ["和平区", "河西区", "南开区", "河东区", "滨海新区"]),
    "重庆": ("Chongqing", "023", 400000, ["渝中区", "江北区", "南岸区", "九龙坡区", "渝北区"]),
}
_CITY_WEIGHTS = [18, 16, 16, 10, 8, 6, 6, 5, 5, 4, 3, 3]
_STREET_CHARS = "科 苑 深 南 建 国 人 民 中 山 解 放 和 平 新 华 长 安 东 风 高 新 创 业 滨 海 金 融 学 府 光 明 文 化 花 园 桃 源"
_STREET_SUFFIX = [("路", "Road", "Lu"), ("大道", "Avenue", "Dadao"), ("街", "Street", "Jie")]
_DIRECTIONS = [
    ("", "", ""),
    ("南", "South", "Nan"),
    ("北", "North", "Bei"),
    ("东", "East", "Dong"),
    ("西", "West", "Xi"),
]

_BRAND_CHARS = "腾 达 华 信 科 创 新 宏 盛 鑫 瑞 泰 恒 金 源 联 通 博 安 嘉 和 天 海 中 光 明 东 方 远 航 伟 业 隆 兴 丰 汇 德 众 星 辰 智 云 飞 宇 锐 驰 捷 易 讯 亿 优 美 佳 康 立 正 万 千 百"
_INDUSTRIES = [
    ("科技", ["Technology", "Tech", "Science & Technology", "Sci-Tech"]),
    ("电子", ["Electronics", "Electronic"]), ("贸易", ["Trading", "Trade"]),
    ("网络", ["Network", "Networks"]), ("信息技术", ["Information Technology", "IT"]),
    ("软件", ["Software"]), ("实业", ["Industrial", "Industry"]), ("投资", ["Investment"]),
    ("咨询", ["Consulting", "Consultancy"]), ("物流", ["Logistics"]), ("机械", ["Machinery", "Machine"]),
    ("医药", ["Pharmaceutical", "Pharma", "Medicine"]), ("生物", ["Biotech", "Biological"]),
    ("化工", ["Chemical", "Chemicals"]), ("新能源", ["New Energy"]), ("汽车", ["Automotive", "Auto"]),
    ("食品", ["Food", "Foods"]), ("智能", ["Intelligent", "Smart"]), ("通信", ["Communication", "Telecom"]),
    ("电气", ["Electric", "Electrical"]), ("设备", ["Equipment"]), ("材料", ["Materials", "Material"]),
    ("精密", ["Precision"]), ("光电", ["Optoelectronics", "Photoelectric"]), ("数据", ["Data"]),
    ("供应链", ["Supply Chain"]), ("文化传媒", ["Culture Media", "Media"]), ("教育", ["Education"]),
]  # fmt: skip
_CN_LEGAL = [("有限公司", 70), ("股份有限公司", 15), ("有限责任公司", 10), ("集团有限公司", 5)]
_EN_LEGAL = ["Co., Ltd.", "Co. Ltd", "Co., Limited", "Limited", "Ltd."]
_WESTERN_BRAND_A = """
Nor Tek Vista Pro Sol Gen Data Micro Syn Tera Zen Quant Lumi Opti Blue Green Apex Summit Nova
Astra Cyber Info Meta Omni Vert Acu Aero Agri Alpha Ambi Aqua Arc Atlas Aura Axi Bio Bright Cal
Cardi Cedar Centri Clear Cobalt Cora Cresta Delta Dyna Eco Elec Ever Flex Fort Fusion Geo Helio
Hydra Integ Kine
""".split()  # noqa: SIM905 - data, one word per item
_WESTERN_BRAND_B = """
wind tek ex ia on ix ra sys soft gate point line core link wave works field stream bridge path
forge scape ridge vale crest port mark tron dyne logic ware sphere
""".split()  # noqa: SIM905 - data, one word per item
_WESTERN_KIND = [
    "Systems",
    "Solutions",
    "Labs",
    "Technologies",
    "Group",
    "Partners",
    "Industries",
    "Software",
]
_WESTERN_LEGAL = ["Inc.", "Inc", "Corp.", "Corporation", "LLC", "Ltd", "GmbH", "AG", "S.A."]
_WESTERN_COUNTRIES = [
    ("US", "+1", "415"),
    ("US", "+1", "212"),
    ("GB", "+44", "20"),
    ("DE", "+49", "30"),
]
_TITLES = ["总经理", "销售经理", "采购经理", "技术总监", "财务经理", "工程师", "市场专员", "CEO", "CTO",
           "Sales Manager", "Purchasing Manager", "Engineer", "Director", "VP Sales", "Account Manager"]  # fmt: skip
_ROLE_MAILBOXES = ["info", "sales", "contact", "service", "admin", "office"]

SYSTEMS = ("salesforce", "hubspot", "odoo", "wecom", "shop")


def _weighted(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    return [p[0] for p in pairs], [float(p[1]) for p in pairs]


@dataclass
class _Tables:
    surnames: list[str]
    surname_weights: list[float]
    given_m: list[str]
    given_f: list[str]
    given_weights_m: list[float]
    given_weights_f: list[float]
    homophones: dict[str, list[str]]
    pinyin: dict[str, str]


def _zipf(n: int, s: float = 0.7) -> list[float]:
    return [1.0 / (k**s) for k in range(1, n + 1)]


def _tables() -> _Tables:
    words = _SURNAMES
    surnames = words[0::2]
    weights = [float(w) for w in words[1::2]]
    given_m = list(dict.fromkeys(_GIVEN_MALE))
    given_f = list(dict.fromkeys(_GIVEN_FEMALE))
    every = set(given_m) | set(given_f) | set(_GIVEN_FIRST)
    by_sound: dict[str, list[str]] = {}
    pinyin = {}
    for char in sorted(
        every | set(surnames) | set(_BRAND_CHARS.split()) | set(_STREET_CHARS.split())
    ):
        sound = "".join(lazy_pinyin(char))
        pinyin[char] = sound
        if char in every:
            by_sound.setdefault(sound, []).append(char)
    homophones = {c: [o for o in by_sound[pinyin[c]] if o != c] for c in every}
    return _Tables(
        surnames, weights, given_m, given_f, _zipf(len(given_m)), _zipf(len(given_f)),
        {c: h for c, h in homophones.items() if h}, pinyin,
    )  # fmt: skip


def _py(tables: _Tables, text: str) -> list[str]:
    return [tables.pinyin.get(c) or "".join(lazy_pinyin(c)) for c in text]


# ----------------------------------------------------------------------------------- entities


@dataclass
class Address:
    city: str
    district: str
    street_cn: str
    street_en: str
    street_py: str
    number: int
    postcode: str


@dataclass
class CompanyEntity:
    true_id: str
    chinese: bool
    name_cn: str  # full legal name in Hanzi (Chinese companies)
    brand_cn: str
    name_en: str  # English name
    brand_en: str
    domain: str
    credit_code: str | None
    switchboard: str  # as a person would type it
    address: Address | None
    founded: str
    weight: float
    country: str = "CN"
    email_pattern: int = 0
    locals_used: set[str] = field(default_factory=set)


@dataclass
class PersonEntity:
    true_id: str
    chinese: bool
    family_cn: str
    given_cn: str
    family_py: str
    given_py: list[str]
    english: str | None  # English given name (Chinese persons) or the Western given name
    nickname: str | None
    western_family: str | None
    birth: tuple[int, int, int]
    mobile: str
    work_email: str | None
    private_email: str | None
    direct_line: str | None
    home_phone: str | None
    home: Address
    company: CompanyEntity | None
    title: str


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.t = _tables()
        self.mobiles: set[str] = set()
        self.private_emails: set[str] = set()
        self.domains: set[str] = set()
        self.codes: set[str] = set()
        self.ids: set[str] = set()
        self.companies: list[CompanyEntity] = []
        self.company_weights: list[float] = []

    # ---------------------------------------------------------------- building blocks

    def address(self, city: str | None = None) -> Address:
        r = self.rng
        city = city or r.choices(list(_CITIES), weights=_CITY_WEIGHTS)[0]
        _, _, base, districts = _CITIES[city]
        d = r.randrange(len(districts))
        chars = r.sample(_STREET_CHARS.split(), 2)
        direction = r.choice(_DIRECTIONS) if r.random() < 0.4 else _DIRECTIONS[0]
        suffix = r.choice(_STREET_SUFFIX)
        syllables = _py(self.t, "".join(chars))
        stem_en = "".join(syllables).capitalize()
        street_cn = "".join(chars) + direction[0] + suffix[0]
        street_en = " ".join(w for w in (stem_en, direction[1], suffix[1]) if w)
        street_py = " ".join(w for w in (stem_en, direction[2], suffix[2]) if w)
        return Address(
            city, districts[d], street_cn, street_en, street_py, r.randint(1, 3000),
            f"{base + 10 * (d + 1) + r.randint(0, 9):06d}",
        )  # fmt: skip

    def landline(self, city: str) -> str:
        area = _CITIES[city][1]
        return f"{area}-{self.rng.randint(2, 8)}{self.rng.randint(0, 9999999):07d}"

    def mobile(self) -> str:
        while True:
            number = f"1{self.rng.choice('3456789')}{self.rng.randint(0, 999999999):09d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def credit_code(self, city: str) -> str:
        region = {"深圳": "440300", "北京": "110108", "上海": "310115", "广州": "440106"}.get(
            city, "320500"
        )
        while True:
            body = (
                "91"
                + region
                + "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
            )
            code = body + uscc.calc_check_digit(body)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def unique_domain(self, stem: str, tld: str) -> str:
        domain = f"{stem}.{tld}"
        k = 1
        while domain in self.domains:
            k += 1
            domain = f"{stem}{k}.{tld}"
        self.domains.add(domain)
        return domain

    # ---------------------------------------------------------------- companies

    def company(self, index: int) -> CompanyEntity:
        r = self.rng
        true_id = f"C{index:07d}"
        weight = math.exp(r.gauss(0, 1.3))
        if r.random() < 0.85:
            city = r.choices(list(_CITIES), weights=_CITY_WEIGHTS)[0]
            brand_cn = "".join(r.sample(_BRAND_CHARS.split(), 2))
            industry_cn, industry_en = r.choice(_INDUSTRIES)
            legal = r.choices(*_weighted(_CN_LEGAL))[0]
            region = city + "市" if r.random() < 0.6 else ""
            name_cn = f"{region}{brand_cn}{industry_cn}{legal}"
            brand_en = "".join(_py(self.t, brand_cn)).capitalize()
            city_en = _CITIES[city][0]
            name_en = f"{city_en + ' ' if region else ''}{brand_en} {industry_en[0]} {r.choice(_EN_LEGAL)}"
            stem = brand_en.lower() + r.choice(
                ["", "-" + industry_en[0].split()[0].lower()[:4], "tech", "group"]
            )
            domain = self.unique_domain(stem, r.choice(["com", "cn", "com.cn"]))
            return CompanyEntity(
                true_id, True, name_cn, brand_cn, name_en, brand_en, domain, self.credit_code(city),
                self.landline(city), self.address(city),
                f"{r.randint(1990, 2020)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", weight,
                email_pattern=r.randrange(4),
            )  # fmt: skip
        country, code, area = r.choice(_WESTERN_COUNTRIES)
        brand = r.choice(_WESTERN_BRAND_A) + r.choice(_WESTERN_BRAND_B)
        kind = r.choice(_WESTERN_KIND)
        legal = r.choice(_WESTERN_LEGAL)
        name_en = f"{brand} {kind} {legal}" if r.random() < 0.6 else f"{brand} {legal}"
        domain = self.unique_domain(
            brand.lower(), "com" if country == "US" else r.choice(["com", "co.uk", "de"])
        )
        switchboard = f"{code} {area} {r.randint(200, 999)} {r.randint(1000, 9999)}"
        return CompanyEntity(
            true_id, False, "", "", name_en, brand, domain, None, switchboard, None,
            f"{r.randint(1970, 2020)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", weight,
            country=country, email_pattern=r.randrange(4),
        )  # fmt: skip

    # ---------------------------------------------------------------- persons

    def person(self, index: int, household: PersonEntity | None) -> PersonEntity:
        r, t = self.rng, self.t
        true_id = f"P{index:08d}"
        company = None
        if self.companies and r.random() < 0.85:
            company = r.choices(self.companies, cum_weights=self.company_weights)[0]
        chinese = r.random() < (0.88 if company is None or company.chinese else 0.35)
        female = r.random() < 0.45
        if chinese:
            family = r.choices(t.surnames, weights=t.surname_weights)[0]
            pool, weights = (
                (t.given_f, t.given_weights_f) if female else (t.given_m, t.given_weights_m)
            )
            given = r.choices(pool, weights=weights)[0]
            if r.random() < 0.75:
                given = (
                    r.choice(_GIVEN_FIRST_UNIQUE) + given
                    if r.random() < 0.5
                    else given + r.choices(pool, weights=weights)[0]
                )
            family_py = "".join(_py(t, family))
            given_py = _py(t, given)
            english = (
                r.choice(_ENGLISH_NAMES_F if female else _ENGLISH_NAMES_M)
                if r.random() < 0.2
                else None
            )
            nickname = None
            western_family = None
        else:
            given_w, nicks = r.choice(_WESTERN_GIVEN)
            family, given = "", ""
            family_py, given_py = "", []
            english = given_w
            nickname = r.choice(nicks) if nicks else None
            western_family = r.choice(_WESTERN_FAMILY)
        year = r.randint(1960, 2002)
        birth = (year, r.randint(1, 12), r.randint(1, 28))
        home = (
            household.home
            if household
            else self.address(
                company.address.city if company and company.address and r.random() < 0.8 else None
            )
        )
        home_phone = (
            household.home_phone
            if household
            else (self.landline(home.city) if r.random() < 0.3 else None)
        )
        person = PersonEntity(
            true_id, chinese, family, given, family_py, given_py, english, nickname, western_family,
            birth, self.mobile(), None, None, None, home_phone, home, company, r.choice(_TITLES),
        )  # fmt: skip
        if company is not None:
            person.work_email = self.work_email(person, company)
            if r.random() < 0.25:  # a direct line instead of the switchboard
                if company.chinese:
                    area = company.switchboard.partition("-")[0]
                    person.direct_line = f"{area}-{r.randint(2, 8)}{r.randint(0, 9999999):07d}"
                else:
                    person.direct_line = company.switchboard[:-4] + f"{r.randint(1000, 9999)}"
        if company is None or r.random() < 0.6:
            person.private_email = self.private_email(person)
        return person

    def latin_parts(self, p: PersonEntity) -> tuple[str, str]:
        """(given, family) in Latin letters."""
        if p.chinese:
            return "".join(p.given_py), p.family_py
        return (p.english or "").lower(), (p.western_family or "").lower()

    def work_email(self, p: PersonEntity, company: CompanyEntity) -> str:
        given, family = self.latin_parts(p)
        given = _ascii(given)
        family = _ascii(family)
        pattern = company.email_pattern
        if p.chinese and p.english and self.rng.random() < 0.5:
            given = p.english.lower()
        local = [
            f"{given}.{family}",
            f"{family}{given}",
            f"{given[:1]}{family}",
            f"{family}.{given}",
        ][pattern]
        base, k = local, 1
        while local in company.locals_used:
            k += 1
            local = f"{base}{k}"
        company.locals_used.add(local)
        return f"{local}@{company.domain}"

    def private_email(self, p: PersonEntity) -> str:
        r = self.rng
        given, family = self.latin_parts(p)
        given, family = _ascii(given), _ascii(family)
        while True:
            kind = r.random()
            if p.chinese and kind < 0.45:
                email = f"{r.randint(100000, 3999999999)}@qq.com"
            elif kind < 0.75:
                email = f"{family}{given}{r.choice(['', str(p.birth[0]), str(r.randint(1, 999))])}@{r.choice(['163.com', '126.com', 'sina.com'])}"
            else:
                email = f"{given}.{family}{r.choice(['', str(r.randint(1, 99))])}@{r.choice(['gmail.com', 'outlook.com', 'hotmail.com'])}"
            if email not in self.private_emails:
                self.private_emails.add(email)
                return email

    # ---------------------------------------------------------------- rendering with noise

    def cn_name(self, p: PersonEntity, style: str) -> str:
        r = self.rng
        given_cn = p.given_cn
        if r.random() < 0.04:  # homophone typed through a pinyin input method: 张伟 → 张玮
            chars = list(given_cn)
            at = r.randrange(len(chars))
            options = self.t.homophones.get(chars[at])
            if options:
                chars[at] = r.choice(options)
                given_cn = "".join(chars)
        given_py = "".join(p.given_py)
        if r.random() < 0.15 and len(p.given_py) > 1:
            given_py = "-".join(p.given_py) if r.random() < 0.5 else " ".join(p.given_py)
        given_py = (
            given_py.capitalize()
            if ("-" not in given_py and " " not in given_py)
            else given_py.title()
        )
        family_py = p.family_py.capitalize()
        if style == "hanzi":
            return (p.family_cn + " " + given_cn) if r.random() < 0.05 else p.family_cn + given_cn
        if style == "western" and p.english and r.random() < 0.6:
            return f"{p.english} {family_py}"
        if style == "western":
            return f"{given_py} {family_py}" if r.random() < 0.6 else (
                f"{family_py.upper()} {given_py}" if r.random() < 0.5 else f"{family_py} {given_py}"
            )  # fmt: skip
        return p.family_cn + given_cn

    def western_name(self, p: PersonEntity) -> str:
        r = self.rng
        given = p.english or ""
        if p.nickname and r.random() < 0.35:
            given = p.nickname
        family = p.western_family or ""
        if r.random() < 0.04:
            given = given[0] + "."
        if r.random() < 0.05:
            family = _typo(r, family)
        elif r.random() < 0.04:
            given = _typo(r, given)
        return f"{family}, {given}" if r.random() < 0.05 else f"{given} {family}"

    def name_for(self, p: PersonEntity, system: str) -> str:
        if not p.chinese:
            return self.western_name(p)
        r = self.rng
        if system in ("salesforce", "hubspot"):
            style = "western" if r.random() < 0.55 else "hanzi"
        else:
            style = "hanzi" if r.random() < 0.92 else "western"
        return self.cn_name(p, style)

    def phone_text(self, number: str, chinese: bool = True) -> str:
        r = self.rng
        if r.random() < 0.02:  # two adjacent digits swapped
            digits = [c for c in number]
            positions = [
                i
                for i in range(3, len(digits) - 1)
                if digits[i].isdigit() and digits[i + 1].isdigit() and digits[i] != digits[i + 1]
            ]
            if positions:
                at = r.choice(positions)
                digits[at], digits[at + 1] = digits[at + 1], digits[at]
                number = "".join(digits)
        if not chinese or number.startswith("+"):
            return number
        if number.startswith("1") and len(number) == 11:
            form = r.randrange(5)
            return [number, f"{number[:3]}-{number[3:7]}-{number[7:]}", f"+86 {number[:3]} {number[3:7]} {number[7:]}",
                    f"86{number}", f"+86-{number}"][form]  # fmt: skip
        area, _, local = number.partition("-")
        form = r.randrange(4)
        text = [
            number,
            f"({area}) {local[:4]}-{local[4:]}",
            f"+86 {area[1:]} {local}",
            f"{area}{local}",
        ][form]
        if r.random() < 0.15:
            text += r.choice([" ext 8", " 转 123", "-801"])
        return text

    def email_text(self, email: str) -> str:
        r = self.rng
        if r.random() < 0.02:
            local, _, domain = email.partition("@")
            email = _typo(r, local) + "@" + domain
        if r.random() < 0.2:
            email = email.capitalize() if r.random() < 0.5 else email.upper()
        return email

    def company_name_for(self, c: CompanyEntity, system: str) -> str:
        r = self.rng
        if not c.chinese:
            roll = r.random()
            if roll < 0.2:
                return c.brand_en
            if roll < 0.3:
                return c.name_en.replace(" ", "  ", 1).upper()
            if roll < 0.35:
                return _typo(r, c.name_en)
            return c.name_en
        roll = r.random()
        english_rate = 0.35 if system in ("salesforce", "hubspot") else 0.05
        if roll < english_rate:
            return c.name_en if r.random() < 0.7 else c.brand_en
        roll = r.random()
        if roll < 0.15 and system in ("hubspot", "wecom", "shop"):
            return c.brand_cn  # the brand alone, as people type it
        if roll < 0.25:
            legal = r.choices(*_weighted(_CN_LEGAL))[0]
            return c.name_cn.replace(
                next(
                    f
                    for f, _ in sorted(_CN_LEGAL, key=lambda x: -len(x[0]))
                    if c.name_cn.endswith(f)
                ),
                legal,
            )
        if roll < 0.3 and c.address:
            return c.name_cn.replace(c.address.city + "市", "").replace(
                c.brand_cn, f"{c.brand_cn}（{c.address.city}）", 1
            )
        if roll < 0.35:
            city = r.choice(list(_CITIES))
            return f"{c.name_cn}{city}分公司"
        return c.name_cn

    def address_fields(self, a: Address, system: str) -> dict[str, Any]:
        r = self.rng
        out: dict[str, Any] = {}
        roll = r.random()
        if system == "odoo" or roll < 0.7:
            street = f"{a.street_cn}{a.number}号"
            out["street"] = f"{a.district}{street}" if r.random() < 0.3 else street
            out["city"] = r.choice([a.city, a.city + "市"])
            out["district"] = a.district if r.random() < 0.6 else None
        elif roll < 0.85:
            out["street"] = f"{a.number} {a.street_en}"
            out["city"] = _CITIES[a.city][0]
        else:
            out["street"] = f"{a.street_py} {a.number}"
            out["city"] = _CITIES[a.city][0]
        if r.random() < 0.85:
            out["postcode"] = a.postcode
        return out

    # ---------------------------------------------------------------- records

    def external_id(self, system: str, entity: str) -> str:
        r = self.rng
        while True:
            if system == "salesforce":
                prefix = "003" if entity == "Person" else "001"
                ext = (
                    prefix
                    + "5g"
                    + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(13))
                )
            elif system == "hubspot":
                ext = str(r.randint(10**9, 10**11))
            elif system == "odoo":
                ext = str(r.randint(1, 10**8))
            elif system == "wecom":
                ext = "wm" + "".join(
                    r.choice(string.ascii_letters + string.digits) for _ in range(20)
                )
            else:
                ext = f"M{r.randint(10**7, 10**9)}"
            key = f"{system}/{entity}/{ext}"
            if key not in self.ids:
                self.ids.add(key)
                return ext

    def person_record(self, p: PersonEntity, system: str) -> dict[str, Any]:
        r = self.rng
        raw: dict[str, Any] = {"full_name": self.name_for(p, system)}
        company = p.company
        work = p.work_email
        if company is not None and r.random() < 0.04:
            work = f"{r.choice(_ROLE_MAILBOXES)}@{company.domain}"  # a role mailbox typed as the contact's
        chinese_phone = company is None or company.chinese or p.chinese
        if system == "salesforce":
            raw["email"] = work or p.private_email
            if company and r.random() < 0.7:
                raw["phone"] = self.phone_text(
                    p.direct_line or company.switchboard, company.chinese
                )
            if r.random() < 0.5:
                raw["mobile"] = self.phone_text(p.mobile, chinese_phone)
            raw["title"] = p.title if r.random() < 0.7 else None
            raw["company_name"] = self.company_name_for(company, system) if company else None
            raw["city"] = (
                (p.home.city if r.random() < 0.5 else _CITIES[p.home.city][0])
                if r.random() < 0.6
                else None
            )
        elif system == "hubspot":
            raw["email"] = (work if work and r.random() < 0.6 else p.private_email) or work
            if r.random() < 0.4:
                raw["mobile"] = self.phone_text(p.mobile, chinese_phone)
            raw["company_name"] = (
                self.company_name_for(company, system) if company and r.random() < 0.8 else None
            )
            raw["city"] = _CITIES[p.home.city][0] if r.random() < 0.3 else None
        elif system == "odoo":
            raw["mobile"] = self.phone_text(p.mobile, chinese_phone) if r.random() < 0.8 else None
            if r.random() < 0.4:
                raw["phone"] = self.phone_text(
                    p.home_phone or (company.switchboard if company else p.mobile), chinese_phone
                )
            raw["email"] = (work or p.private_email) if r.random() < 0.5 else None
            if raw["mobile"] is None and raw["email"] is None and raw.get("phone") is None:
                raw["mobile"] = self.phone_text(p.mobile, chinese_phone)
            raw["company_name"] = self.company_name_for(company, system) if company else None
            raw.update(self.address_fields(p.home, system))
        elif system == "wecom":
            raw["mobile"] = self.phone_text(p.mobile, chinese_phone) if r.random() < 0.95 else None
            raw["company_name"] = (
                self.company_name_for(company, system) if company and r.random() < 0.85 else None
            )
            raw["title"] = p.title if r.random() < 0.5 else None
            raw["email"] = work if work and r.random() < 0.2 else None
            if raw["mobile"] is None and raw["email"] is None:
                raw["email"] = work or p.private_email
        else:  # shop
            raw["email"] = p.private_email or (work if r.random() < 0.5 else None)
            raw["mobile"] = self.phone_text(p.mobile, chinese_phone) if r.random() < 0.95 else None
            if r.random() < 0.6:
                y, m, d = p.birth
                if d <= 12 and r.random() < 0.04:
                    m, d = d, m
                raw["birth_date"] = f"{y}-{m:02d}-{d:02d}"
            if p.home_phone and r.random() < 0.5:
                raw["phone"] = self.phone_text(p.home_phone)
            raw.update(self.address_fields(p.home, system) if r.random() < 0.8 else {})
            raw["custom"] = {"member_no": f"VIP{int(p.true_id[1:]) * 7 + 100000}"}
        if raw.get("email") and p.work_email and p.private_email and r.random() < 0.1:
            # Both addresses on one record: the work one and the private one.
            other = p.private_email if raw["email"] == p.work_email else p.work_email
            raw["email2"] = other
        if raw.get("email"):
            raw["email"] = self.email_text(raw["email"])
        if r.random() < 0.03:  # a record with only a family name
            raw["full_name"] = p.family_cn or p.western_family
        return raw

    def company_record(self, c: CompanyEntity, system: str) -> dict[str, Any]:
        r = self.rng
        raw: dict[str, Any] = {"name": self.company_name_for(c, system)}
        if system == "odoo":
            raw["credit_code"] = (
                _spaced(r, c.credit_code) if c.credit_code and r.random() < 0.85 else None
            )
            raw["phone"] = self.phone_text(c.switchboard, c.chinese) if r.random() < 0.7 else None
            if c.address:
                raw.update(self.address_fields(c.address, system))
            raw["email"] = f"{r.choice(_ROLE_MAILBOXES)}@{c.domain}" if r.random() < 0.3 else None
        else:
            raw["website"] = (
                r.choice(
                    [f"www.{c.domain}", f"https://www.{c.domain}/", c.domain, f"http://{c.domain}"]
                )
                if r.random() < 0.7
                else None
            )
            raw["phone"] = self.phone_text(c.switchboard, c.chinese) if r.random() < 0.6 else None
            raw["credit_code"] = c.credit_code if c.credit_code and r.random() < 0.25 else None
            if c.address and r.random() < 0.5:
                raw["city"] = r.choice([c.address.city, _CITIES[c.address.city][0]])
            raw["founded"] = c.founded if r.random() < 0.2 else None
        raw["country"] = c.country
        return raw

    def systems_for(self, kind: str) -> list[str]:
        r = self.rng
        if kind == "Company":
            count = r.choices([1, 2, 3], weights=[40, 40, 20])[0]
            systems = r.sample(["salesforce", "hubspot", "odoo"], count)
        else:
            count = r.choices([1, 2, 3, 4, 5], weights=[30, 32, 22, 11, 5])[0]
            systems = r.sample(list(SYSTEMS), count)
        if r.random() < 0.08:
            systems.append(r.choice(systems))  # entered twice in one system
        return systems


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if c.isascii() and (c.isalnum())
    ).lower()


def _typo(r: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    at = r.randrange(1, len(word) - 1)
    kind = r.randrange(3)
    if kind == 0:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == 1:
        return word[:at] + word[at + 1 :]
    return word[:at] + word[at] + word[at:]


def _spaced(r: random.Random, code: str) -> str:
    return (
        code if r.random() < 0.7 else f"{code[:8]} {code[8:]}" if r.random() < 0.5 else code.lower()
    )


_MODELS: dict[str, type[CanonicalEntity]] = {"Person": Person, "Company": Company}


def canonical(entity: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The record as the hub holds it: validated by ``hub.model``; a value that does not normalise is
    dropped (what the mapping step does, with a warning)."""
    model = _MODELS[entity]
    data = {k: v for k, v in raw.items() if v is not None}
    for _ in range(6):
        try:
            instance = model.model_validate(data, context={"default_region": "CN"})
            break
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            if not bad or not bad & set(data):
                raise
            data = {k: v for k, v in data.items() if k not in bad}
    else:  # pragma: no cover - every field dropped
        return {}
    out: dict[str, Any] = {}
    for name in model.field_names():
        value = getattr(instance, name)
        if value is not None:
            out[name] = to_json_value(value)
    for name, value in instance.custom.items():
        if value is not None:
            out[f"custom.{name}"] = value
    return out


def generate(records: int, seed: int = 0, shuffle_buffer: int = 20_000) -> Iterator[dict[str, Any]]:
    """``records`` canonical records with truth, streamed; the same seed gives the same data."""
    gen = Generator(seed)
    n_companies = max(10, records // 25)
    total = 0.0
    for i in range(n_companies):
        company = gen.company(i)
        gen.companies.append(company)
        total += company.weight
        gen.company_weights.append(total)
    buffer: list[dict[str, Any]] = []
    mixer = random.Random(seed + 1)

    def emit(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if len(buffer) < shuffle_buffer:
            buffer.append(row)
            return
        at = mixer.randrange(len(buffer))
        out, buffer[at] = buffer[at], row
        yield out

    produced = 0
    company_records = 0
    company_quota = int(records * 0.08)
    next_company = 0
    person_index = 0
    previous: PersonEntity | None = None
    while produced < records:
        if (
            company_records < company_quota
            and next_company < len(gen.companies)
            and (produced * 0.08 >= company_records)
        ):
            entity, systems = "Company", gen.systems_for("Company")
            target: Any = gen.companies[next_company]
            next_company += 1
        else:
            household = previous if previous is not None and gen.rng.random() < 0.03 else None
            target = gen.person(person_index, household)
            person_index += 1
            previous = target
            entity, systems = "Person", gen.systems_for("Person")
        for system in systems:
            if produced >= records:
                break
            raw = (
                gen.person_record(target, system)
                if entity == "Person"
                else gen.company_record(target, system)
            )
            values = canonical(entity, raw)
            row = {"entity": entity, "system": system, "external_id": gen.external_id(system, entity),
                   "true_id": target.true_id, **values}  # fmt: skip
            produced += 1
            if entity == "Company":
                company_records += 1
            yield from emit(row)
    mixer.shuffle(buffer)
    yield from buffer


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = 1
    if text.endswith("k"):
        factor, text = 1000, text[:-1]
    elif text.endswith("m"):
        factor, text = 1_000_000, text[:-1]
    return int(float(text) * factor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", default="10k", help="how many records: 10k, 100k, 1M, ...")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="output file (.jsonl or .csv)")
    args = parser.parse_args()
    count = parse_size(args.records)
    started = time.perf_counter()
    if args.out.suffix == ".csv":
        import csv

        columns = ["entity", "system", "external_id", "true_id",
                   *sorted({*Person.field_names(), *Company.field_names(), "custom.member_no"})]  # fmt: skip
        with args.out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns)
            writer.writeheader()
            for row in generate(count, args.seed):
                writer.writerow(row)
    else:
        with args.out.open("w", encoding="utf-8") as fh:
            for row in generate(count, args.seed):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{count} records → {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
