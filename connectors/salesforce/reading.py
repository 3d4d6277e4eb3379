"""Incremental reads: SOQL ``queryAll`` by SystemModstamp, the overlap window, tombstones.

One query per read, ordered ``SystemModstamp, Id`` and paged by ``nextRecordsUrl`` (2,000 rows a
page), through ``queryAll`` so that deleted rows still in the Recycle Bin (``IsDeleted = true``,
their SystemModstamp moved by the delete) arrive in the same stream as tombstones: one call per
page whatever the mix of changes and deletes.

Rows emptied from the Recycle Bin early (a person emptying it, or a mass delete overflowing it)
drop out of queryAll ("after these records are permanently removed from the recycle bin, you can
no longer query them": REST API guide, QueryAll) but stay in the delete log read by ``getDeleted``
for up to 15 days (REST API guide, sObject Get Deleted). So when a read window starts longer ago
than ``get_deleted_after_seconds`` (a worker that was down, a cursor from yesterday), getDeleted is
asked too, once per read, for the deletions since that read. The ids it lists that are still in the Recycle Bin come through queryAll
as usual (one check query per 200 ids); the others, gone from the bin, are yielded first as
tombstones carrying only their Id. A window older than the delete log, or a log that starts after
the window (``earliestDateAvailable``), is reported as a ``Rejection``: deletions in the gap cannot
be listed and a full reconciliation is needed.

A merge done in Salesforce deletes the losing records: their tombstones carry ``MasterRecordId``
(the winner) when that field is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.salesforce.client import QueryLocatorExpired, SalesforceClient
from connectors.salesforce.cursor import (
    DeliveredWindow,
    ReadCursor,
    format_timestamp,
    pair_digest,
    parse_timestamp,
    soql_datetime,
)
from connectors.salesforce.settings import SalesforceSettings
from hub.errors import FatalError
from hub.ports import Rejection, SourceRecord

log = logging.getLogger(__name__)

# getDeleted answers for "no more than 15 days previous to the day the call is executed" [D].
DELETE_LOG_DAYS = 15
MAX_LOCATOR_RESTARTS = 3


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A query row as flat fields: ``{"Owner": {"Email": x}}`` becomes ``{"Owner.Email": x}``."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def location(obj: str, record_id: str) -> str:
    return f"salesforce {obj}/{record_id}"


class Reader:
    def __init__(
        self,
        system: str,
        settings: SalesforceSettings,
        client: SalesforceClient,
        clock: Callable[[], datetime],
    ) -> None:
        self.system = system
        self.settings = settings
        self.client = client
        self.clock = clock

    def read(self, obj: str, since: str | None) -> Iterator[SourceRecord | Rejection]:
        fields = self.settings.read_fields(obj)
        incoming = self._decode(obj, since)
        overlap = timedelta(seconds=self.settings.overlap_seconds)
        lower = incoming.lower_bound(overlap) if incoming else None
        skip = set(incoming.delivered) if incoming else set()
        if incoming is not None:
            # Deletions since the previous read may have left the Recycle Bin if it was long ago.
            previous = incoming.read_at or incoming.modstamp
            if self.clock() - previous > timedelta(seconds=self.settings.get_deleted_after_seconds):
                yield from self._deleted_log(obj, previous - overlap)
        window = DeliveredWindow(overlap, self.settings.dedup_memory)
        snapshot: list[datetime | None] = [None]  # when the query ran, by the server's clock
        held: SourceRecord | None = None
        held_stamp: datetime | None = None
        count = 0
        restarts = 0
        while True:
            try:
                for row in self._rows(obj, fields, lower, snapshot):
                    item = self._record(obj, row, fields)
                    if isinstance(item, Rejection):
                        yield item
                        continue
                    stamp = item.modified_at
                    assert stamp is not None
                    digest = pair_digest(item.external_id, stamp)
                    window.add(stamp, digest)
                    if digest in skip:
                        continue  # delivered already (the overlap re-reads it)
                    if held is not None:
                        yield held
                    count += 1
                    if count % self.settings.checkpoint_every == 0:
                        item.cursor = window.cursor_at(stamp, snapshot[0]).encode()
                    held, held_stamp = item, stamp
                break
            except QueryLocatorExpired as exc:
                restarts += 1
                if restarts > MAX_LOCATOR_RESTARTS or held_stamp is None:
                    raise FatalError(str(exc)) from None
                # Query again from where a cursor there would start; what was delivered since
                # that point is in the window and is skipped.
                log.warning("%s; querying again from %s", exc, format_timestamp(held_stamp))
                resume = window.cursor_at(held_stamp, snapshot[0])
                lower = resume.lower_bound(overlap)
                skip = set(incoming.delivered if incoming else ()) | set(resume.delivered)
        if held is not None and held_stamp is not None:
            held.cursor = window.cursor_at(held_stamp, snapshot[0]).encode()
            yield held

    # --- the query ----------------------------------------------------------------------------

    def _rows(
        self, obj: str, fields: list[str], lower: datetime | None, snapshot: list[datetime | None]
    ) -> Iterator[dict[str, Any]]:
        soql = f"SELECT {', '.join(fields)} FROM {obj}"
        if lower is not None:
            soql += f" WHERE SystemModstamp >= {soql_datetime(lower)}"
        soql += " ORDER BY SystemModstamp ASC, Id ASC"
        what = f"read {obj}"
        first = True
        for page in self.client.query_pages(soql, include_deleted=True, what=what):
            if first:  # nothing ran on this thread since the page arrived
                snapshot[0], first = self.client.query_time, False
            yield from page.get("records", [])

    def _record(self, obj: str, row: dict[str, Any], fields: list[str]) -> SourceRecord | Rejection:
        flat = flatten(row)
        lowered = {key.lower(): value for key, value in flat.items()}
        for name in fields:  # a null parent comes back as null: its fields are null too
            if name not in flat:
                flat[name] = lowered.get(name.lower())
        record_id = str(flat.get("Id") or "")
        try:
            stamp = parse_timestamp(str(flat.get("SystemModstamp")))
        except ValueError:
            return Rejection(
                self.system,
                obj,
                location(obj, record_id),
                f"unreadable SystemModstamp {flat.get('SystemModstamp')!r}",
                record_id or None,
                flat,
            )
        return SourceRecord(
            system=self.system,
            object=obj,
            external_id=record_id,
            fields=flat,
            modified_at=stamp,
            deleted=bool(flat.get("IsDeleted")),
            location=location(obj, record_id),
        )

    def _decode(self, obj: str, since: str | None) -> ReadCursor | None:
        if since is None:
            return None
        try:
            return ReadCursor.decode(since)
        except ValueError as exc:
            raise FatalError(
                f"{self.system}/{obj}: {exc}; reset the cursor or run a full sync"
            ) from None

    # --- the delete log -------------------------------------------------------------------------

    def _deleted_log(self, obj: str, lower: datetime) -> Iterator[SourceRecord | Rejection]:
        now = self.clock().astimezone(UTC)
        oldest = _minute(now - timedelta(days=DELETE_LOG_DAYS)) + timedelta(minutes=1)
        start = _minute(lower)
        end = _minute(now)
        where = f"salesforce {obj} getDeleted"
        if start < oldest:
            yield Rejection(
                self.system,
                obj,
                where,
                f"the read starts at {format_timestamp(lower)}, before Salesforce's delete log "
                f"({DELETE_LOG_DAYS} days): records deleted and emptied from the Recycle Bin "
                "before then cannot be listed; run a full reconciliation",
            )
            start = oldest
        if end - start <= timedelta(minutes=1):
            return  # getDeleted needs more than a minute between start and end [D]
        params = {"start": _iso_seconds(start), "end": _iso_seconds(end)}
        try:
            body = self.client.restful(
                f"getDeleted {obj}", f"sobjects/{obj}/deleted/", "GET", params
            )
        except FatalError as exc:
            if "INVALID_REPLICATION_DATE" not in str(exc):
                raise
            yield Rejection(
                self.system,
                obj,
                where,
                f"{exc}; deletions emptied from the Recycle Bin may be missed",
            )
            return
        earliest_text = (body or {}).get("earliestDateAvailable")
        if earliest_text and parse_timestamp(earliest_text) > start:
            yield Rejection(
                self.system,
                obj,
                where,
                f"Salesforce's delete log starts at {earliest_text}, after the read's start "
                f"{format_timestamp(start)}: deletions in between may be missing; run a full "
                "reconciliation",
            )
        entries = sorted((body or {}).get("deletedRecords", []), key=lambda e: e["deletedDate"])
        in_bin = self._still_in_recycle_bin(obj, [str(e["id"]) for e in entries])
        for entry in entries:
            record_id = str(entry["id"])
            if record_id in in_bin:
                continue  # queryAll brings it below, with its fields and a cursor
            yield SourceRecord(
                system=self.system,
                object=obj,
                external_id=record_id,
                fields={"Id": record_id, "IsDeleted": True},
                modified_at=parse_timestamp(entry["deletedDate"]),
                deleted=True,
                location=location(obj, record_id),
            )

    def _still_in_recycle_bin(self, obj: str, record_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(record_ids), 200):
            part = [r for r in record_ids[start : start + 200] if r.isalnum()]
            if not part:
                continue
            quoted = ", ".join(f"'{r}'" for r in part)
            soql = f"SELECT Id FROM {obj} WHERE IsDeleted = true AND Id IN ({quoted})"
            for page in self.client.query_pages(soql, True, f"find deleted {obj}"):
                found.update(str(row["Id"])[:15] for row in page.get("records", []))
        return {r for r in record_ids if r[:15] in found}


def _minute(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(second=0, microsecond=0)


def _iso_seconds(value: datetime) -> str:
    # Timezone-aware: a naive value makes a malformed parameter (apis.md §0.1 gotcha).
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
