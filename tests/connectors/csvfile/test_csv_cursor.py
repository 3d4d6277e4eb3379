"""The cursor: a fingerprint of the files read, so an unchanged file is skipped."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from connectors.csvfile import CsvConnector
from hub.ports import Rejection, SourceRecord

MakeConnector = Callable[..., CsvConnector]
ReadAll = Callable[..., tuple[list[SourceRecord], list[Rejection]]]

CONTACTS = {"file": "contacts.csv", "id_column": "id"}
TEXT = "id,name\n1,Alice\n2,Bob\n3,Carol\n"


def _bump_mtime(path: Path, seconds: int = 100) -> None:
    stat = path.stat()
    later = stat.st_mtime_ns + seconds * 1_000_000_000
    os.utime(path, ns=(later, later))


def test_only_the_last_record_carries_the_new_cursor(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_text(TEXT, encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)

    records, _ = read_all(connector)

    assert [r.cursor for r in records[:-1]] == [None, None]  # the `since` it started from
    cursor = records[-1].cursor
    assert cursor is not None
    assert cursor == connector.current_cursor("contacts")
    files = json.loads(cursor)["files"]
    assert [f["path"] for f in files] == ["contacts.csv"]
    assert files[0]["size"] == len(TEXT)


def test_unchanged_file_with_its_cursor_yields_nothing(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(TEXT, encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)
    cursor = read_all(connector)[0][-1].cursor

    assert list(connector.read("contacts", cursor)) == []

    _bump_mtime(path)  # an identical re-export: new mtime, same bytes
    assert list(connector.read("contacts", cursor)) == []


def test_changed_file_yields_everything_again(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(TEXT, encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)
    first = read_all(connector)[0][-1].cursor

    path.write_text(TEXT.replace("Bob", "Rob"), encoding="utf-8")  # same size, new content
    _bump_mtime(path)
    records, _ = read_all(connector, since=first)

    assert [r.fields["name"] for r in records] == ["Alice", "Rob", "Carol"]
    assert [r.cursor for r in records[:-1]] == [first, first]
    assert records[-1].cursor != first
    assert list(connector.read("contacts", records[-1].cursor)) == []


def test_glob_rereads_only_the_files_that_changed(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "c1.csv").write_text("id\n1\n2\n", encoding="utf-8")
    (tmp_path / "c2.csv").write_text("id\n3\n", encoding="utf-8")
    connector = make_connector(contacts={"file": "c*.csv", "id_column": "id"})
    cursor = read_all(connector)[0][-1].cursor

    (tmp_path / "c3.csv").write_text("id\n4\n", encoding="utf-8")
    records, _ = read_all(connector, since=cursor)

    assert [r.location for r in records] == ["c3.csv:2"]
    paths = [f["path"] for f in json.loads(records[-1].cursor or "{}")["files"]]
    assert paths == ["c1.csv", "c2.csv", "c3.csv"]


def test_unreadable_cursor_means_read_everything(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_text(TEXT, encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)

    for since in ("", "not json", '{"v": 99, "files": []}', '{"v": 1}', "[1, 2]"):
        records, _ = read_all(connector, since=since)
        assert len(records) == 3, since


def test_file_with_only_rejections_can_be_checkpointed_by_current_cursor(
    tmp_path: Path, make_connector: MakeConnector, read_all: ReadAll
) -> None:
    (tmp_path / "contacts.csv").write_text("id,name\n,nobody\n", encoding="utf-8")
    connector = make_connector(contacts=CONTACTS)

    records, rejections = read_all(connector)
    assert records == []
    assert len(rejections) == 1

    cursor = connector.current_cursor("contacts")
    assert list(connector.read("contacts", cursor)) == []
