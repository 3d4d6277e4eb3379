"""write(), export() and report_rejections(): what ends up in the files."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.csvfile import CsvConnector
from hub.ports import Rejection, SourceRecord, Write, WriteOp

MakeConnector = Callable[..., CsvConnector]
ReadAll = Callable[..., tuple[list[SourceRecord], list[Rejection]]]

CONTACTS = {"file": "contacts.csv", "id_column": "id"}


def _upsert(canonical_id: str, fields: dict, external_id: str | None = None) -> Write:
    return Write(WriteOp.UPSERT, "contacts", canonical_id, fields, external_id)


def _delete(external_id: str) -> Write:
    return Write(WriteOp.DELETE, "contacts", f"g-{external_id}", {}, external_id)


def _rows(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding=encoding), newline="")))


def test_write_upserts_and_deletes_by_id_keeping_column_order(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("id,name,city\n1,张三,北京\n2,李四,上海\n3,王五,深圳\n".encode("gbk"))
    connector = make_connector(contacts=CONTACTS)

    results = connector.write(
        "contacts",
        [
            _upsert("g-1", {"city": "杭州", "email": "zs@example.cn"}, external_id="1"),
            _delete("2"),
            _upsert("g-new", {"name": "赵六", "city": "广州"}),
            _upsert("g-4", {"name": "钱七"}, external_id="4"),
        ],
    )

    assert [(r.ok, r.external_id, r.created) for r in results] == [
        (True, "1", False),
        (True, "2", False),
        (True, "g-new", True),
        (True, "4", True),
    ]
    assert _rows(path) == [
        ["id", "name", "city", "email"],
        ["1", "张三", "杭州", "zs@example.cn"],
        ["3", "王五", "深圳", ""],
        ["g-new", "赵六", "广州", ""],
        ["4", "钱七", "", ""],
    ]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # utf-8-sig: Excel shows 中文 right
    records, rejections = read_all(connector)
    assert rejections == []
    assert {r.external_id: r.fields["city"] for r in records} == {
        "1": "杭州",
        "3": "深圳",
        "g-new": "广州",
        "4": None,
    }


def test_write_is_idempotent_when_a_batch_is_retried(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("id,name\n1,a\n", encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)
    batch = [_upsert("g-9", {"name": "new"}, "9"), _delete("1"), _upsert("g-1", {"name": "b"}, "7")]

    first = connector.write("contacts", batch)
    second = connector.write("contacts", batch)

    assert [r.created for r in first] == [True, False, True]
    assert [r.created for r in second] == [False, False, False]
    assert all(r.ok for r in first + second)
    assert _rows(path) == [["id", "name"], ["9", "new"], ["7", "b"]]


def test_write_to_a_new_output_file(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_text("id,name\n1,a\n", encoding="utf-8")
    connector = make_connector(contacts={**CONTACTS, "output_file": "out/contacts_out.csv"})

    results = connector.write("contacts", [_upsert("g-1", {"name": "x", "vip": True}, "1")])

    assert results[0].created
    assert _rows(tmp_path / "out" / "contacts_out.csv") == [
        ["id", "name", "vip"],
        ["1", "x", "true"],
    ]
    assert (tmp_path / "contacts.csv").read_text(encoding="utf-8") == "id,name\n1,a\n"


def test_written_formulas_are_escaped_and_read_back_unchanged(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_text("id,note\n", encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)

    connector.write(
        "contacts",
        [_upsert("g", {"note": '=HYPERLINK("http://evil")', "phone": "+86 138 0013 8000"}, "1")],
    )

    raw = _rows(tmp_path / "contacts.csv")
    assert raw[1] == ["1", '\'=HYPERLINK("http://evil")', "+86 138 0013 8000"]
    records, _ = read_all(connector)
    assert records[0].fields["note"] == '=HYPERLINK("http://evil")'


def test_unencodable_value_fails_only_that_write(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    (tmp_path / "contacts.csv").write_bytes("id,name\n1,张三\n".encode("gbk"))
    connector = make_connector(contacts={**CONTACTS, "output_encoding": "gbk"})

    results = connector.write(
        "contacts", [_upsert("g", {"name": "emoji 😀"}, "1"), _upsert("g2", {"name": "李四"}, "2")]
    )

    assert not results[0].ok
    assert "gbk" in (results[0].error or "")
    assert results[1].ok
    assert _rows(tmp_path / "contacts.csv", encoding="gbk") == [
        ["id", "name"],
        ["1", "张三"],
        ["2", "李四"],
    ]


def test_write_refuses_to_rewrite_a_damaged_file(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    data = "id,name\n1,张三\n2,李四\n3,王五\n".encode() + b"4,\xff\n"
    (tmp_path / "contacts.csv").write_bytes(data)
    connector = make_connector(contacts=CONTACTS)

    results = connector.write("contacts", [_upsert("g", {"name": "x"}, "1")])

    assert not results[0].ok
    assert not results[0].retriable
    assert "contacts.csv:5" in (results[0].error or "")
    assert (tmp_path / "contacts.csv").read_bytes() == data


def test_write_to_a_glob_object_needs_an_output_file(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    connector = make_connector(contacts={"file": "c*.csv", "id_column": "id"})
    with pytest.raises(ValueError, match="output_file"):
        connector.write("contacts", [_upsert("g", {}, "1")])


def test_export_writes_all_rows_and_counts_them(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    connector = make_connector(contacts={**CONTACTS, "output_file": "export.csv"})
    rows = ({"id": str(n), "name": f"客户{n}", "ignored": "x"} for n in range(1, 1001))

    count = connector.export("contacts", rows, ["id", "name"])

    assert count == 1000
    written = _rows(tmp_path / "export.csv")
    assert written[0] == ["id", "name"]
    assert written[1000] == ["1000", "客户1000"]


def test_export_is_atomic_when_the_rows_fail_midway(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    target = tmp_path / "contacts.csv"
    target.write_text("id,name\n1,original\n", encoding="utf-8")
    before = target.read_bytes()
    connector = make_connector(contacts=CONTACTS)

    def rows() -> Iterator[dict[str, str]]:
        yield {"id": "1", "name": "half"}
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        connector.export("contacts", rows(), ["id", "name"])

    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]  # no temp file left


def test_export_of_an_unencodable_value_names_row_and_column(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    connector = make_connector(contacts={**CONTACTS, "output_encoding": "cp1252"})
    with pytest.raises(ValueError, match=r"row 2: column 'name'"):
        connector.export(
            "contacts", [{"id": "1", "name": "Ann"}, {"id": "2", "name": "张"}], ["id", "name"]
        )
    assert list(tmp_path.iterdir()) == []


def test_export_keeps_file_permissions(tmp_path: Path, make_connector: MakeConnector) -> None:
    target = tmp_path / "contacts.csv"
    target.write_text("id\n", encoding="utf-8")
    os.chmod(target, 0o640)
    make_connector(contacts=CONTACTS).export("contacts", [{"id": "1"}], ["id"])
    assert target.stat().st_mode & 0o777 == 0o640


def test_reject_file_is_appended_with_bom_and_header_once(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_text("id,name\n1,a\n1,dup\n,empty\n", encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)
    _, rejections = read_all(connector)

    connector.report_rejections("contacts", rejections[:1])
    connector.report_rejections("contacts", rejections[1:])
    connector.report_rejections(
        "contacts", [Rejection("files", "contacts", "api", "=cmd|' /C calc'!A0", raw={"k": "值"})]
    )

    path = tmp_path / "rejects" / "contacts.rejects.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert _rows(path) == [
        ["file", "line", "id", "reason", "raw"],
        ["contacts.csv", "3", "1", "duplicate id '1': first used on line 2", "1,dup"],
        ["contacts.csv", "4", "", "empty id (column 'id')", ",empty"],
        ["api", "", "", "'=cmd|' /C calc'!A0", '{"k": "值"}'],
    ]


def test_reject_file_option_and_glob_default(tmp_path: Path, make_connector: MakeConnector) -> None:
    connector = make_connector(
        contacts={**CONTACTS, "reject_file": "errors/bad.csv"},
        leads={"file": "exports/leads_*.csv", "id_column": "id"},
    )
    assert connector.reject_path("contacts") == tmp_path / "errors" / "bad.csv"
    assert connector.reject_path("leads") == tmp_path / "exports" / "rejects" / "leads.rejects.csv"


def test_output_file_needs_only_the_id_column(
    tmp_path: Path, make_connector: MakeConnector
) -> None:
    (tmp_path / "contacts.csv").write_text("id,name,updated\n1,a,2024-01-01\n", encoding="utf-8")
    connector = make_connector(
        contacts={**CONTACTS, "modified_column": "updated", "output_file": "out.csv"}
    )

    first = connector.write("contacts", [_upsert("g-1", {"name": "a"}, "1")])
    second = connector.write("contacts", [_upsert("g-2", {"name": "b"}, "2")])

    assert [r.ok for r in first + second] == [True, True]
    assert _rows(tmp_path / "out.csv") == [["id", "name"], ["1", "a"], ["2", "b"]]


def test_headerless_file_stays_headerless(tmp_path: Path, make_connector: MakeConnector) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("1,Alice\n2,Bob\n", encoding="utf-8")
    connector = make_connector(
        contacts={**CONTACTS, "has_header": False, "columns": ["id", "name"]}
    )

    results = connector.write(
        "contacts",
        [_upsert("g-2", {"name": "Robert"}, "2"), _upsert("g-3", {"name": "C", "age": 3}, "3")],
    )

    assert results[0].ok
    assert not results[1].ok
    assert "age" in (results[1].error or "")
    assert _rows(path) == [["1", "Alice"], ["2", "Robert"]]
