"""Encodings people's CSV files really come in, read through the connector."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.csvfile import CsvConnector
from connectors.csvfile.encoding import SAMPLE_BYTES, detect_encoding
from hub.ports import Rejection, SourceRecord

MakeConnector = Callable[..., CsvConnector]
ReadAll = Callable[..., tuple[list[SourceRecord], list[Rejection]]]

HEADER = "客户编号,姓名,公司,城市\n"
ROWS = (
    "C001,张三,北京字节跳动科技有限公司,北京\n"
    "C002,李四,上海浦东发展银行股份有限公司,上海\n"
    "C003,欧阳娜娜,深圳市腾讯计算机系统有限公司,深圳\n"
)
CONTACTS = {"file": "contacts.csv", "id_column": "客户编号"}


def _names(records: list[SourceRecord]) -> list[str]:
    return [record.fields["姓名"] for record in records]


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "gbk", "gb2312", "gb18030", "utf-16", "utf-16-be"]
)
def test_chinese_file_reads_in_each_encoding(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll, encoding: str
) -> None:
    data = (HEADER + ROWS).encode(encoding)
    if encoding == "utf-16-be":  # what a BOM-less writer would not do; Excel always writes one
        data = b"\xfe\xff" + data
    (tmp_path / "contacts.csv").write_bytes(data)

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert rejections == []
    assert _names(records) == ["张三", "李四", "欧阳娜娜"]
    assert records[0].fields["公司"] == "北京字节跳动科技有限公司"
    assert records[0].fields["客户编号"] == "C001"  # the BOM is not glued to the first header
    assert [r.location for r in records] == ["contacts.csv:2", "contacts.csv:3", "contacts.csv:4"]


def test_tiny_gbk_file_is_not_taken_for_big5(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    # charset-normalizer alone ranks big5hkscs first for this two-line file.
    (tmp_path / "contacts.csv").write_bytes("id,name\n1,张三\n".encode("gbk"))

    records, _ = read_all(make_connector(contacts={"file": "contacts.csv", "id_column": "id"}))

    assert records[0].fields["name"] == "张三"


def test_characters_only_gb18030_has(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    # 䶮 (CJK Ext. A, in a famous given name) and 𠀀 (Ext. B) are 4-byte sequences in GB18030.
    text = "id,name,company\n1,王䶮,𠀀科技有限公司\n2,刘德华,香港影业有限公司\n"
    (tmp_path / "contacts.csv").write_bytes(text.encode("gb18030"))

    records, rejections = read_all(
        make_connector(contacts={"file": "contacts.csv", "id_column": "id"})
    )

    assert rejections == []
    assert records[0].fields == {"id": "1", "name": "王䶮", "company": "𠀀科技有限公司"}


def test_excel_unicode_text_is_utf16_with_tabs(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    text = "id\tname\tnote\r\n1\t张三\tVIP, 重要\r\n2\tMüller\t\r\n"
    (tmp_path / "contacts.txt").write_bytes(text.encode("utf-16"))  # BOM + little-endian

    connector = make_connector(contacts={"file": "contacts.txt", "id_column": "id"})
    records, rejections = read_all(connector)

    assert rejections == []
    assert [r.fields for r in records] == [
        {"id": "1", "name": "张三", "note": "VIP, 重要"},
        {"id": "2", "name": "Müller", "note": None},
    ]


def test_western_excel_cp1252(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    text = (
        "id;name;city;note\r\n"
        "1;Café Müller;Köln;Preis 5 €\r\n"
        "2;François Lefèvre;Besançon;déjà vu à Noël\r\n"
        "3;José García;Málaga;señor\r\n"
    )
    (tmp_path / "contacts.csv").write_bytes(text.encode("cp1252"))

    records, rejections = read_all(
        make_connector(contacts={"file": "contacts.csv", "id_column": "id"})
    )

    assert rejections == []
    assert [r.fields["name"] for r in records] == ["Café Müller", "François Lefèvre", "José García"]
    assert records[0].fields["note"] == "Preis 5 €"
    assert records[1].fields["note"] == "déjà vu à Noël"


def test_single_accented_line_is_cp1252_not_damaged_utf8(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_bytes("id,name\n1,Renée\n2,Bob\n".encode("cp1252"))

    records, rejections = read_all(
        make_connector(contacts={"file": "contacts.csv", "id_column": "id"})
    )

    assert rejections == []
    assert records[0].fields["name"] == "Renée"


def test_bad_bytes_mid_gbk_file_reject_that_row_only(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    good = [f"C{n:03d},客户{n},北京科技有限公司{n},北京\n".encode("gbk") for n in range(1, 9)]
    damaged = b"C099,\x81\x20\xff\xfe,broken,x\n"  # 0x81 must be followed by a trail byte >= 0x40
    data = HEADER.encode("gbk") + b"".join(good[:4]) + damaged + b"".join(good[4:])
    (tmp_path / "contacts.csv").write_bytes(data)

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert len(records) == 8
    assert records[-1].fields["姓名"] == "客户8"
    assert len(rejections) == 1
    assert rejections[0].location == "contacts.csv:6"
    assert "gb18030" in rejections[0].reason
    assert "line 6" in rejections[0].reason
    assert rejections[0].external_id == "C099"


def test_bad_bytes_mid_utf8_file_reject_that_row_only(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    lines = [HEADER.encode(), *(f"C{n:03d},客户{n},公司{n},上海\n".encode() for n in range(1, 7))]
    lines.insert(3, b"C050,\xe5\xbc,half a character,x\n")
    (tmp_path / "contacts.csv").write_bytes(b"".join(lines))

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert [r.external_id for r in records] == [f"C{n:03d}" for n in range(1, 7)]
    assert [(r.location, r.external_id) for r in rejections] == [("contacts.csv:4", "C050")]
    assert "utf-8" in rejections[0].reason


def test_ascii_sample_then_cp1252_later_settles_on_first_non_ascii_line(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    ascii_rows = "".join(f"{n},Customer number {n:07d},Berlin\n" for n in range(12_000))
    assert len(ascii_rows) > SAMPLE_BYTES  # the detector's sample sees no accented letter
    text = "id,name,city\n" + ascii_rows + "99999,Jürgen Müller,Köln\n"
    (tmp_path / "contacts.csv").write_bytes(text.encode("cp1252"))

    records, rejections = read_all(
        make_connector(contacts={"file": "contacts.csv", "id_column": "id"})
    )

    assert rejections == []
    assert records[-1].fields == {"id": "99999", "name": "Jürgen Müller", "city": "Köln"}


def test_sample_ending_inside_a_character_is_still_utf8(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    rows = "".join(f"{n:06d},张三,北京\n" for n in range(20_000)).encode()
    # Pad the header so the detector's sample ends after the first byte of a 3-byte character.
    header = next(
        header
        for pad in range(30)
        if (header := ("id,name,city" + " " * pad + "\n").encode())
        and (header + rows)[SAMPLE_BYTES] & 0xC0 == 0x80
        and (header + rows)[SAMPLE_BYTES - 1] >= 0xE0
    )
    data = header + rows
    assert detect_encoding(data[:SAMPLE_BYTES], whole_file=False, configured=None).codec == "utf-8"
    (tmp_path / "contacts.csv").write_bytes(data)

    records, rejections = read_all(
        make_connector(contacts={"file": "contacts.csv", "id_column": "id"})
    )

    assert rejections == []
    assert len(records) == 20_000
    assert records[-1].fields == {"id": "019999", "name": "张三", "city": "北京"}


def test_configured_encoding_wins_but_a_bom_is_honoured() -> None:
    gbk = "id,名称\n1,张三\n".encode("gbk")
    assert detect_encoding(gbk, whole_file=True, configured="gbk").codec == "gb18030"
    bom = "id,名称\n1,张三\n".encode("utf-8-sig")
    assert detect_encoding(bom, whole_file=True, configured="gbk").name == "utf-8-sig"


def test_old_mac_excel_carriage_returns_only(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_bytes(b"id,name\r1,Alice\r2,Bob\r")

    records, _ = read_all(make_connector(contacts={"file": "contacts.csv", "id_column": "id"}))

    assert [(r.external_id, r.location) for r in records] == [
        ("1", "contacts.csv:2"),
        ("2", "contacts.csv:3"),
    ]
