"""`huitong demo`: two messy exports of the same customers, written from the assets in config/demo/.

The CRM export is UTF-8 with a BOM and English headers; the ERP export is GBK with Chinese headers, as
Chinese Excel writes it. They overlap (about half the customers are in both), disagree on formats (phone
spacing, e-mail case, Hanzi vs pinyin), and carry a few broken rows, so the summary has something to
show: records read, rejected with reasons, linked, golden records, conflicts.
"""

from __future__ import annotations

import csv
import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ASSETS = Path(__file__).resolve().parents[1] / "config" / "demo"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(rng: random.Random) -> str:
    """A unified social credit code with a correct check character (GB 32100-2015)."""
    body = "91" + "".join(rng.choice("0123456789") for _ in range(6))
    body += "".join(rng.choice(_USCC_ALPHABET) for _ in range(9))
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


@dataclass
class Company:
    code: str
    name_cn: str
    name_en: str
    domain: str
    uscc: str
    phone_area: str
    phone_local: str
    city: tuple[str, str, str]
    industry: str


@dataclass
class Person:
    code: str
    surname: str
    given: str
    latin: tuple[str, str] | None
    email: str
    mobile: str
    company: Company
    title: tuple[str, str]
    birth: str


def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text))


def generate(customers: int, seed: int = 20261122) -> tuple[list[Company], list[Person]]:
    data = yaml.safe_load((ASSETS / "seed.yaml").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    companies: list[Company] = []
    # One company per name and city: two registered companies never share a name in one city, and
    # the matcher rightly takes two records so named for one customer.
    taken: set[tuple[str, str]] = set()
    for i in range(max(customers // 8, 4)):
        while True:
            city = tuple(rng.choice(data["cities"]))
            chinese = rng.random() >= 0.2
            pool = data["company_cores"] if chinese else data["latin_company_cores"]
            pick = rng.choice(pool)
            name_key = (city[0], pick[0] if chinese else pick)
            if name_key not in taken:
                taken.add(name_key)
                break
        if chinese:
            core_cn, slug = pick
            core_cn = f"{city[0]}{core_cn}"
            name_cn = core_cn + rng.choice(data["legal_forms_cn"])
            name_en = f"{_pinyin(core_cn).title()} {rng.choice(data['legal_forms_en'])}"
            domain = f"{slug}{i}.com.cn"
        else:
            core = pick
            name_en = f"{core} {city[1]} {rng.choice(data['legal_forms_en'])}"
            name_cn = f"{core}（{city[0]}）有限公司"
            domain = f"{core.lower()}{i}.com"
        companies.append(
            Company(
                code=f"C{10000 + i}",
                name_cn=name_cn,
                name_en=name_en,
                domain=domain,
                uscc=credit_code(rng),
                phone_area=str(city[2]),
                phone_local=f"{rng.randint(5000, 8999)}{rng.randint(1000, 9999)}",
                city=city,
                industry=rng.choice(data["industries"]),
            )
        )
    people: list[Person] = []
    for i in range(customers - len(companies)):
        company = rng.choice(companies)
        surname, given = rng.choice(data["surnames"]), rng.choice(data["given_names"])
        latin = None
        if rng.random() < 0.15:
            latin = (rng.choice(data["latin_first"]), rng.choice(data["latin_last"]))
            local = f"{latin[0]}.{latin[1]}".lower()
        else:
            local = f"{_pinyin(given)}.{_pinyin(surname)}{i}"
        domain = company.domain if rng.random() < 0.7 else rng.choice(data["free_mail"])
        t = rng.randrange(len(data["titles_cn"]))
        people.append(
            Person(
                code=f"P{20000 + i}",
                surname=surname,
                given=given,
                latin=latin,
                email=f"{local}@{domain}",
                mobile=f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                company=company,
                title=(data["titles_cn"][t], data["titles_en"][t]),
                birth=f"{rng.randint(1960, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            )
        )
    return companies, people


def _messy_mobile(rng: random.Random, mobile: str) -> str:
    style = rng.randrange(5)
    if style == 0:
        return f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if style == 1:
        return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if style == 2:
        return f"0086{mobile}"
    if style == 3:
        return "".join(
            chr(ord(ch) + 0xFEE0) for ch in mobile
        )  # full-width digits, as some IMEs type
    return mobile


def _stamp(rng: random.Random, base: datetime) -> str:
    return (base - timedelta(minutes=rng.randint(0, 60 * 24 * 90))).strftime("%Y-%m-%d %H:%M:%S")


def write_exports(directory: Path, customers: int, seed: int = 20261122) -> dict[str, int]:
    companies, people = generate(customers, seed)
    rng = random.Random(seed + 1)
    base = datetime(2026, 11, 1, 9, 0, 0)
    crm, erp = directory / "data" / "crm", directory / "data" / "erp"
    crm.mkdir(parents=True, exist_ok=True)
    erp.mkdir(parents=True, exist_ok=True)
    in_crm = {c.code for c in companies if rng.random() < 0.75}
    in_erp = {c.code for c in companies if c.code not in in_crm or rng.random() < 0.6}
    owner = ["li.na@huitong-demo.cn", "wang.qiang@huitong-demo.cn", "sales.ops@huitong-demo.cn"]

    with (crm / "accounts.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "Account ID",
                "Account Name",
                "Website",
                "Phone",
                "Country",
                "City",
                "Industry",
                "Owner Email",
                "Last Modified",
            ]
        )
        for c in companies:
            if c.code not in in_crm:
                continue
            phone = f"+86 {c.phone_area[1:]} {c.phone_local[:4]} {c.phone_local[4:]}"
            site = rng.choice([f"https://www.{c.domain}/", f"www.{c.domain}", f"http://{c.domain}"])
            w.writerow(
                [
                    f"001{c.code}",
                    c.name_en,
                    site,
                    phone,
                    rng.choice(["China", "CN", "中国", "PRC"]),
                    c.city[1],
                    "",
                    rng.choice(owner),
                    _stamp(rng, base),
                ]
            )
        w.writerow(
            ["", "Orphan Trading Ltd", "orphan.example", "", "CN", "", "", "", _stamp(rng, base)]
        )
    with (crm / "contacts.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "Contact ID",
                "First Name",
                "Last Name",
                "Email",
                "Mobile",
                "Phone",
                "Title",
                "Account ID",
                "Account Name",
                "City",
                "Owner Email",
                "Last Modified",
            ]
        )
        for p in people:
            if p.company.code not in in_crm or rng.random() < 0.25:
                continue
            first, last = p.latin or (_pinyin(p.given).title(), _pinyin(p.surname).title())
            email = p.email.upper() if rng.random() < 0.1 else f" {p.email.title()} "
            if rng.random() < 0.01:
                email = email.replace("@", " at ")
            title = p.title[1] if rng.random() < 0.8 else p.title[0]
            w.writerow(
                [
                    f"003{p.code}",
                    first,
                    last,
                    email,
                    _messy_mobile(rng, p.mobile),
                    "",
                    title,
                    f"001{p.company.code}",
                    p.company.name_en,
                    p.company.city[1],
                    rng.choice(owner),
                    _stamp(rng, base),
                ]
            )
        fh.write('003BROKEN,"Unclosed quote,with,too,many,fields\n')
        w.writerow(
            ["003P99999", "Extra", "Columns", "x@y.cn", "", "", "", "", "", "", "", "", "surplus"]
        )

    customers_rows = 0
    with (erp / "客户.csv").open("w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "客户编码",
                "客户名称",
                "统一社会信用代码",
                "电话",
                "网址",
                "省份",
                "城市",
                "详细地址",
                "行业",
                "信用额度",
                "停用",
                "更新时间",
            ]
        )
        for c in companies:
            if c.code not in in_erp:
                continue
            uscc = (
                c.uscc if rng.random() > 0.02 else c.uscc[:-1] + "0"
            )  # a few mistyped check digits
            phone = (
                f"{c.phone_area}-{c.phone_local}"
                if rng.random() < 0.5
                else f"({c.phone_area}){c.phone_local}"
            )
            w.writerow(
                [
                    c.code,
                    c.name_cn,
                    uscc,
                    phone,
                    rng.choice([c.domain, ""]),
                    "",
                    c.city[0],
                    f"{c.city[0]}市某区{rng.randint(1, 999)}号",
                    c.industry,
                    f"{rng.randint(1, 500) * 1000}",
                    "",
                    _stamp(rng, base),
                ]
            )
            customers_rows += 1
    with (erp / "联系人.csv").open("w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "联系人编码",
                "姓名",
                "手机",
                "邮箱",
                "职务",
                "客户编码",
                "客户名称",
                "生日",
                "更新时间",
            ]
        )
        for p in people:
            if p.company.code not in in_erp or rng.random() < 0.3:
                continue
            name = f"{p.surname}{p.given}" if not p.latin else f"{p.latin[0]} {p.latin[1]}"
            title = p.title[0] if rng.random() < 0.85 else rng.choice(["顾问", "经理"])
            w.writerow(
                [
                    f"L{p.code[1:]}",
                    name,
                    p.mobile,
                    p.email if rng.random() < 0.8 else "",
                    title,
                    p.company.code,
                    p.company.name_cn,
                    p.birth,
                    _stamp(rng, base),
                ]
            )
        w.writerow(
            [
                "L99998",
                "赵敏",
                "12345",
                "zhao.min@@example",
                "经理",
                "C00000",
                "不存在公司",
                "1990-13-45",
                _stamp(rng, base),
            ]
        )
    return {"companies": len(companies), "people": len(people), "erp_customers": customers_rows}


def prepare(directory: Path, customers: int = 2000) -> Path:
    """Write the demo configuration, its mappings and the two exports; return the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("huitong.db*"):  # every demo starts from an empty hub
        stale.unlink()
    shutil.rmtree(directory / "data", ignore_errors=True)
    config = directory / "huitong.yaml"
    shutil.copyfile(ASSETS / "huitong.yaml", config)
    shutil.copytree(ASSETS / "mappings", directory / "mappings", dirs_exist_ok=True)
    write_exports(directory, customers)
    return config


def pick_example(store: Any) -> str | None:
    """A person known to both systems, to show `explain` on."""
    with store.transaction() as tx:
        found: list[str] = tx.linked_across_systems("Person", limit=1)
    return found[0] if found else None
