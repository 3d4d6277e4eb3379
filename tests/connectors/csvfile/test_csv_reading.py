"""Reading rows: delimiters, quoting, headers, and every kind of malformed row with its line."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.csvfile import CsvConnector, CsvObjectSettings
from hub.ports import Connector, Rejection, SourceRecord

MakeConnector = Callable[..., CsvConnector]
ReadAll = Callable[..., tuple[list[SourceRecord], list[Rejection]]]

CONTACTS = {"file": "contacts.csv", "id_column": "id"}


def _write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_connector_fulfils_the_protocol(make_connector: MakeConnector) -> None:
    connector = make_connector(contacts=CONTACTS)
    assert isinstance(connector, Connector)
    assert connector.kind == "csv"
    assert connector.limits.batch_size == 10_000
    assert connector.objects() == ["contacts"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_detects_the_delimiter(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll, delimiter: str
) -> None:
    rows = [["id", "name", "address"], ["1", "Zhang San", "No. 1, Jianguo Rd; Beijing"]]
    text = "\n".join(delimiter.join(_quote(v, delimiter) for v in row) for row in rows) + "\n"
    _write(tmp_path, text)

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert rejections == []
    assert records[0].fields == {
        "id": "1",
        "name": "Zhang San",
        "address": "No. 1, Jianguo Rd; Beijing",
    }


def _quote(value: str, delimiter: str) -> str:
    return f'"{value}"' if delimiter in value or "," in value or ";" in value else value


def test_excel_sep_line_names_the_delimiter(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "sep=;\nid;name\n1;Li, Na\n")

    records, _ = read_all(make_connector(contacts=CONTACTS))

    assert [(r.location, r.fields) for r in records] == [
        ("contacts.csv:3", {"id": "1", "name": "Li, Na"})
    ]


def test_configured_delimiter_alias(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "id\tname,with comma\n1\tx,y\n")

    records, _ = read_all(make_connector(contacts={**CONTACTS, "delimiter": "tab"}))

    assert records[0].fields == {"id": "1", "name,with comma": "x,y"}


def test_quoted_fields_spanning_lines_keep_line_numbers(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(
        tmp_path,
        "id,name,note\n"
        '1,Alice,"first line\nsecond line\nthird, with comma"\n'
        '2,"Bob ""The Builder""",plain\n'
        '3,Carol,"a\n\nblank line inside"\n'
        "4,Dave,last\n",
    )

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert rejections == []
    assert [(r.external_id, r.location) for r in records] == [
        ("1", "contacts.csv:2"),
        ("2", "contacts.csv:5"),
        ("3", "contacts.csv:6"),
        ("4", "contacts.csv:9"),
    ]
    assert records[0].fields["note"] == "first line\nsecond line\nthird, with comma"
    assert records[1].fields["name"] == 'Bob "The Builder"'
    assert records[2].fields["note"] == "a\n\nblank line inside"


def test_crlf_inside_quoted_field_reads_as_newline(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, 'id,note\r\n1,"two\r\nlines"\r\n')

    records, _ = read_all(make_connector(contacts=CONTACTS))

    assert records[0].fields["note"] == "two\nlines"


def test_malformed_rows_are_rejected_with_their_lines_and_the_rest_goes_on(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(
        tmp_path,
        "id,name,email\n"  # 1
        "1,Alice,alice@example.com\n"  # 2
        "2,Bob\n"  # 3 too few fields
        "3,Carol,carol@example.com,surplus\n"  # 4 too many fields
        ",Nobody,nobody@example.com\n"  # 5 empty id
        "\n"  # 6 blank: skipped silently
        "  ,  ,  \n"  # 7 blank cells only: skipped silently
        '6,"Eve"x,eve@example.com\n'  # 8 junk after a closing quote
        "1,Alice again,alice2@example.com\n"  # 9 duplicate of line 2
        "7,Frank,frank@example.com,,\n"  # 10 trailing empty cells: fine
        '8,"Grace,grace@example.com\n'  # 11 quote never closed ...
        "9,Heidi,heidi@example.com\n",  # 12 ... so this line is read again on its own
    )

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert [(r.external_id, r.location) for r in records] == [
        ("1", "contacts.csv:2"),
        ("7", "contacts.csv:10"),
        ("9", "contacts.csv:12"),
    ]
    by_line = {r.location: r for r in rejections}
    assert list(by_line) == [
        "contacts.csv:3",
        "contacts.csv:4",
        "contacts.csv:5",
        "contacts.csv:8",
        "contacts.csv:9",
        "contacts.csv:11",
    ]
    assert "expected 3" in by_line["contacts.csv:3"].reason
    assert "got 2" in by_line["contacts.csv:3"].reason
    assert by_line["contacts.csv:3"].external_id == "2"
    assert "got 4" in by_line["contacts.csv:4"].reason
    assert "empty id" in by_line["contacts.csv:5"].reason
    assert "quote" in by_line["contacts.csv:8"].reason
    assert "duplicate id '1'" in by_line["contacts.csv:9"].reason
    assert "line 2" in by_line["contacts.csv:9"].reason
    assert "never closed" in by_line["contacts.csv:11"].reason
    assert by_line["contacts.csv:4"].raw == ["3", "Carol", "carol@example.com", "surplus"]
    assert all(r.system == "files" and r.object == "contacts" for r in rejections)


def test_duplicate_header_names_reject_the_file_once(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "id,name,phone,name\n1,a,b,c\n2,d,e,f\n")

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert records == []
    assert len(rejections) == 1
    assert rejections[0].location == "contacts.csv:1"
    assert "'name' (columns 2, 4)" in rejections[0].reason


def test_missing_id_column_names_file_and_columns(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "客户编号,姓名\nC1,张三\n")

    records, rejections = read_all(make_connector(contacts=CONTACTS))

    assert records == []
    assert len(rejections) == 1
    assert "contacts.csv" in rejections[0].reason
    assert "'客户编号', '姓名'" in rejections[0].reason


def test_header_names_are_trimmed_and_id_column_matches_case_insensitively(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_bytes(" ID , Name ,\n 7 , Ann ,\n".encode("utf-8-sig"))

    records, _ = read_all(make_connector(contacts=CONTACTS))

    assert records[0].external_id == "7"
    assert records[0].fields == {"ID": "7", "Name": "Ann", "column_3": None}


def test_headerless_file_with_configured_columns(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "1,Alice\n2,Bob\n")
    connector = make_connector(
        contacts={**CONTACTS, "has_header": False, "columns": ["id", "name"]}
    )

    records, _ = read_all(connector)

    assert [(r.location, r.fields) for r in records] == [
        ("contacts.csv:1", {"id": "1", "name": "Alice"}),
        ("contacts.csv:2", {"id": "2", "name": "Bob"}),
    ]


def test_modified_column_naive_times_are_shanghai(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(
        tmp_path,
        "id,updated\n"
        "1,2024-01-05 13:45:00\n"
        "2,2024-01-05T05:45:00Z\n"
        "3,2024/1/5 13:45\n"
        "4,2024-01-05T13:45:00+08:00\n"
        "5,\n"
        "6,yesterday\n",
    )
    connector = make_connector(contacts={**CONTACTS, "modified_column": "updated"})

    records, rejections = read_all(connector)

    expected = datetime(2024, 1, 5, 5, 45, tzinfo=UTC)
    assert [r.modified_at for r in records[:4]] == [expected] * 4
    mtime = datetime.fromtimestamp(os.stat(tmp_path / "contacts.csv").st_mtime_ns / 1e9, UTC)
    assert records[4].modified_at == mtime  # empty: the file's own time
    assert [(r.location, r.external_id) for r in rejections] == [("contacts.csv:7", "6")]
    assert "'yesterday'" in rejections[0].reason


def test_timezone_option(tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll) -> None:
    _write(tmp_path, "id,updated\n1,2024-01-05 13:45:00\n")
    connector = make_connector(
        contacts={**CONTACTS, "modified_column": "updated", "timezone": "Europe/Berlin"}
    )

    records, _ = read_all(connector)

    assert records[0].modified_at == datetime(2024, 1, 5, 12, 45, tzinfo=UTC)


def test_without_modified_column_modified_at_is_file_mtime(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    path = _write(tmp_path, "id\n1\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))

    records, _ = read_all(make_connector(contacts=CONTACTS))

    assert records[0].modified_at == datetime.fromtimestamp(1_700_000_000, UTC)


def test_deleted_column(tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll) -> None:
    _write(tmp_path, "id,deleted\n1,\n2,是\n3,TRUE\n4,0\n5,yes\n")
    connector = make_connector(contacts={**CONTACTS, "deleted_column": "deleted"})

    records, _ = read_all(connector)

    assert [r.external_id for r in records if r.deleted] == ["2", "3", "5"]


def test_glob_reads_every_matching_file_in_order(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "id,name\n1,a\n", "contacts_2024-01.csv")
    _write(tmp_path, "id,name\n2,b\n1,a-again\n", "contacts_2024-02.csv")
    _write(tmp_path, "id,name\n9,ignored\n", "other.csv")
    connector = make_connector(contacts={"file": "contacts_*.csv", "id_column": "id"})

    records, rejections = read_all(connector)

    # Duplicate ids are judged per file: a later export may repeat a customer.
    assert [r.location for r in records] == [
        "contacts_2024-01.csv:2",
        "contacts_2024-02.csv:2",
        "contacts_2024-02.csv:3",
    ]
    assert rejections == []


def test_missing_named_file_raises_clearly(make_connector: MakeConnector) -> None:
    connector = make_connector(contacts=CONTACTS)
    with pytest.raises(FileNotFoundError, match=r"contacts\.csv"):
        list(connector.read("contacts", None))


def test_unknown_object_is_a_clear_error(make_connector: MakeConnector) -> None:
    with pytest.raises(KeyError, match="no CSV object 'deals'"):
        list(make_connector(contacts=CONTACTS).read("deals", None))


def test_escaped_formula_reads_back_as_written(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    _write(tmp_path, "id,note,phone\n1,'=SUM(A1:A2),+86 138 0013 8000\n2,'plain quote,-5\n")

    records, _ = read_all(make_connector(contacts=CONTACTS))

    assert records[0].fields == {"id": "1", "note": "=SUM(A1:A2)", "phone": "+86 138 0013 8000"}
    assert records[1].fields["note"] == "'plain quote"  # not an escape: left alone


def test_settings_are_strict() -> None:
    with pytest.raises(ValidationError, match="extra"):
        CsvObjectSettings.model_validate({"file": "a.csv", "id_column": "id", "colour": "red"})
    with pytest.raises(ValidationError, match="columns"):
        CsvObjectSettings(file="a.csv", id_column="id", has_header=False)
    with pytest.raises(ValidationError, match="unknown encoding"):
        CsvObjectSettings(file="a.csv", id_column="id", encoding="klingon")
    with pytest.raises(ValidationError, match="time zone"):
        CsvObjectSettings(file="a.csv", id_column="id", timezone="Mars/Olympus")
    assert CsvObjectSettings(file="a.csv", id_column="id", delimiter="tab").delimiter == "\t"


def test_repr_names_no_more_than_the_folder(tmp_path: Path, make_connector: MakeConnector) -> None:
    connector: CsvConnector = make_connector(contacts=CONTACTS)
    assert repr(connector) == f"CsvConnector('files', directory={str(tmp_path)!r})"
