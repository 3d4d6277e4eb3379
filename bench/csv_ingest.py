"""Benchmark: ingest a large CSV export through the whole hub into SQLite, against pandas.

    .venv/bin/pip install -e '.[bench]'        # pandas, for the comparison
    .venv/bin/python bench/csv_ingest.py                 # 1,000,000 rows
    .venv/bin/python bench/csv_ingest.py --rows 100000   # quicker

It generates a contacts export (Chinese and Latin names, messy phones and e-mails, ~10% of people listed
twice with a different id, as exports from two desks are), then in separate processes, so each peak RSS
is its own:

* huitong: read (encoding and delimiter detection, streaming), map and normalise every field (E.164
  phones, validated e-mails, names), match on deterministic keys, survivorship, and persist source
  records, xref, golden records, match keys and one hash-chained audit event per record;
* pandas: ``read_csv`` + ``to_sql`` into SQLite, nothing normalised, nothing matched: the obvious script
  a user would write, which does a small part of the work.

It prints rows per second and peak RSS for both and their ratio, the machine's load average around
each run (other processes slow both down), and the CPU time huitong spent per row in its main process
(matching and writing) and in its reading worker (reading and mapping), which the load does not
inflate as much as the elapsed time. ``--workers 0`` reads, maps, matches and writes in one process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "建华",
    "晓明",
]
LATIN = ["Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Henry"]
LATIN_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Moore",
    "Clark",
    "Young",
]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "苏州", "西安"]
COMPANIES = [
    "华信科技",
    "远航物流",
    "明德教育",
    "恒通电子",
    "蓝海贸易",
    "金桥建设",
    "天合医疗",
    "创新软件",
]
HEADER = ["Contact ID", "Name", "Email", "Mobile", "Company", "City", "Title", "Last Modified"]

MAPPING = """entity: Person
modified_at: Last Modified
fields:
  full_name: Name
  email: Email
  mobile: Mobile
  company_name: Company
  city: City
  title: Title
"""

CONFIG = """hub:
  database_url: sqlite:///{db}
  default_region: CN
  batch_size: 5000
  map_workers: {workers}
systems:
  export:
    kind: csv
    options:
      directory: {data}
      objects:
        contacts: {{file: contacts.csv, id_column: Contact ID, modified_column: Last Modified}}
    objects:
      contacts: {{mapping: mapping.yaml}}
"""


def _mobile(rng: random.Random, number: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"+86 {number[:3]} {number[3:7]} {number[7:]}"
    if style == 1:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return number


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        people = max(rows * 10 // 11, 1)
        for i in range(rows):
            person = i if i < people else rng.randrange(people)  # ~10% listed twice
            prng = random.Random(person * 7919 + seed)
            if prng.random() < 0.85:
                name = prng.choice(SURNAMES) + prng.choice(GIVEN)
                local = f"user{person}"
            else:
                first, last = prng.choice(LATIN), prng.choice(LATIN_LAST)
                name, local = f"{first} {last}", f"{first}.{last}{person}".lower()
            email = f"{local}@{prng.choice(['qq.com', '163.com', 'example.cn', 'corp.com.cn'])}"
            if rng.random() < 0.2:
                email = f" {email.upper()} "
            mobile = f"1{prng.choice('3456789')}{person % 1_000_000_000:09d}"
            writer.writerow(
                [
                    f"C{i:08d}",
                    name,
                    email,
                    _mobile(rng, mobile),
                    prng.choice(COMPANIES) + "有限公司",
                    prng.choice(CITIES),
                    prng.choice(["经理", "总监", "Buyer", "CFO"]),
                    f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} 09:{i % 60:02d}:00",
                ]
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_huitong(work: Path, workers: int) -> dict[str, float]:
    from hub.bootstrap import open_hub

    config = work / "huitong.yaml"
    config.write_text(
        CONFIG.format(db=work / "hub.db", data=work, workers=workers), encoding="utf-8"
    )
    (work / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    hub = open_hub(config)
    started, cpu = time.perf_counter(), time.process_time()
    summary = hub.engine().sync()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with hub.store.transaction() as tx:
        goldens = sum(tx.count_goldens().values())
    hub.close()  # waits for the worker, whose CPU time then counts among the children's
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = summary.counts["read"]
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "golden_records": goldens,
        "linked": summary.counts["linked"],
        "rejected": summary.counts["rejected"],
        "main_cpu_us_per_row": cpu / rows * 1e6,
        "worker_cpu_us_per_row": (children.ru_utime + children.ru_stime) / rows * 1e6,
        "worker_peak_rss_mb": children.ru_maxrss / 1024 if workers else 0.0,
    }


def run_pandas(work: Path) -> dict[str, float]:
    import sqlite3

    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(work / "contacts.csv", dtype=str, encoding="utf-8-sig")
    with sqlite3.connect(work / "pandas.db") as conn:
        frame.to_sql("contacts", conn, if_exists="replace", index=False)
    seconds = time.perf_counter() - started
    return {
        "rows": len(frame),
        "seconds": seconds,
        "rows_per_second": len(frame) / seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="hub.map_workers: processes that read and map while the main one matches and writes",
    )
    parser.add_argument("--only", choices=["huitong", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        if args.only == "huitong":
            result = run_huitong(args.work, args.workers)
        else:
            result = run_pandas(args.work)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="huitong-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        generate(work / "contacts.csv", args.rows)
        size = (work / "contacts.csv").stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows ({size:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        results = {}
        loads = {}
        for name in ("huitong", "pandas"):
            before = os.getloadavg()[0]
            command = [sys.executable, __file__, "--only", name, "--work", str(work)]
            command += ["--workers", str(args.workers)]
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            loads[name] = (before, os.getloadavg()[0])
        h, p = results["huitong"], results["pandas"]
        # Both processes' peaks: the reading worker's memory is part of what the import needs.
        h_rss = h["peak_rss_mb"] + h["worker_peak_rss_mb"]
        print(f"{'':22}{'rows/s':>12}{'seconds':>10}{'peak RSS MB':>14}")
        for label, r, rss in (
            ("huitong (full hub)", h, h_rss),
            ("pandas read+to_sql", p, p["peak_rss_mb"]),
        ):
            print(f"{label:22}{r['rows_per_second']:>12,.0f}{r['seconds']:>10.1f}{rss:>14.0f}")
        print(
            f"ratio huitong/pandas: speed {h['rows_per_second'] / p['rows_per_second']:.2f}x, "
            f"peak RSS {h_rss / p['peak_rss_mb']:.2f}x"
        )
        print(
            f"huitong: {h['golden_records']:,} golden records, {h['linked']:,} linked duplicates, "
            f"{h['rejected']:,} rejected"
        )
        if h["worker_peak_rss_mb"]:
            print(
                f"huitong CPU per row: {h['main_cpu_us_per_row']:.0f} µs matching and writing, "
                f"{h['worker_cpu_us_per_row']:.0f} µs reading and mapping (worker, with its "
                f"start-up); peak RSS {h['peak_rss_mb']:.0f} MB main + "
                f"{h['worker_peak_rss_mb']:.0f} MB worker"
            )
        else:
            print(f"huitong CPU per row: {h['main_cpu_us_per_row']:.0f} µs (one process)")
        print(
            "load average (1 min) before/after: "
            + ", ".join(f"{name} {a:.2f}/{b:.2f}" for name, (a, b) in loads.items())
            + f" on {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
