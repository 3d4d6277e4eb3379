"""check() reports without raising; reading streams in memory that does not grow with the file."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

from connectors.csvfile import CsvConnector
from hub.ports import Rejection, SourceRecord

MakeConnector = Callable[..., CsvConnector]
ReadAll = Callable[..., tuple[list[SourceRecord], list[Rejection]]]

CONTACTS = {"file": "contacts.csv", "id_column": "id"}


def test_check_passes_and_describes_each_object(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    (tmp_path / "contacts.csv").write_bytes("id;姓名\n1;张三\n".encode("gbk"))
    (tmp_path / "leads_1.csv").write_text("id,name\n1,a\n", encoding="utf-8")
    connector = make_connector(contacts=CONTACTS, leads={"file": "leads_*.csv", "id_column": "id"})

    result = connector.check()

    assert result.ok, result
    checks = {name: (ok, detail) for name, ok, detail in result.checks}
    assert checks["directory"][0]
    assert checks["object contacts"] == (
        True,
        "contacts.csv: gb18030 (GB2312 hanzi), delimiter ';', 2 columns",
    )
    assert checks["object leads"][0]
    assert "leads_1.csv" in checks["object leads"][1]


def test_check_names_each_problem(tmp_path: Path, make_connector: MakeConnector) -> None:
    (tmp_path / "contacts.csv").write_text("客户编号,姓名\nC1,x\n", encoding="utf-8")
    (tmp_path / "dupes.csv").write_text("id,a,a\n", encoding="utf-8")
    connector = make_connector(
        contacts=CONTACTS,
        leads={"file": "leads_*.csv", "id_column": "id"},
        orders={"file": "orders.csv", "id_column": "id"},
        dupes={"file": "dupes.csv", "id_column": "id"},
    )

    result = connector.check()

    assert not result.ok
    checks = {name: (ok, detail) for name, ok, detail in result.checks}
    assert checks["directory"][0]
    assert not checks["object contacts"][0]
    assert "id column 'id' is not in the header" in checks["object contacts"][1]
    assert "'客户编号', '姓名'" in checks["object contacts"][1]
    assert checks["object leads"] == (False, f"no file matches 'leads_*.csv' in {tmp_path}")
    assert not checks["object orders"][0]
    assert "duplicate column names" in checks["object dupes"][1]
    assert result.detail == "failed: object contacts, object leads, object orders, object dupes"


def test_check_never_raises_even_when_the_directory_is_a_file(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x", encoding="utf-8")
    connector = make_connector(directory=not_a_folder, contacts=CONTACTS)

    result = connector.check()

    assert not result.ok
    assert result.checks[0] == (
        "directory",
        False,
        f"{not_a_folder} does not exist or is not a folder",
    )


def _generate(folder: Path, rows: int) -> Path:
    folder.mkdir()
    path = folder / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("id,name,email,phone,company,city,notes,updated\r\n")
        for n in range(rows):
            stream.write(
                f"{n},张三{n},user{n}@example.com,+86 138 {n % 10000:04d} {n % 9999:04d},"
                f'北京科技有限公司{n % 500},北京市朝阳区建国路{n % 300}号,"note, {n}\nline 2",'
                f"2024-01-05 13:45:{n % 60:02d}\r\n"
            )
    return path


def _peak_bytes_reading(connector: CsvConnector) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in connector.read("contacts", None))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_memory_does_not_grow_with_the_file(tmp_path: Path, make_connector: MakeConnector) -> None:
    # tracemalloc slows Python ~6x, so a 50 MB file would take half a minute here; two sizes and
    # a per-row bound prove the same thing: the only state kept per row is the duplicate-id table
    # (12-36 bytes per id), while a row of this file is ~160 bytes of text and ~2 KB as objects.
    settings = {"file": "contacts.csv", "id_column": "id", "modified_column": "updated"}
    small, large = 2_000, 8_000
    _generate(tmp_path / "small", small)
    size = _generate(tmp_path / "large", large).stat().st_size
    assert size > 1_200_000

    small_count, small_peak = _peak_bytes_reading(
        make_connector(directory=tmp_path / "small", contacts=settings)
    )
    large_count, large_peak = _peak_bytes_reading(
        make_connector(directory=tmp_path / "large", contacts=settings)
    )

    assert (small_count, large_count) == (small, large)
    per_row = (large_peak - small_peak) / (large - small)
    assert per_row < 40, f"{per_row:.0f} bytes per row"
    assert large_peak < 3 * 1024 * 1024, f"peak {large_peak / 1e6:.1f} MB for {size / 1e6:.1f} MB"
