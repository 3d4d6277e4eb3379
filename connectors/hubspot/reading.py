"""Walking HubSpot's records: the full list (``after`` paging), the archived list (tombstones), and the
incremental search walk that the 10,000-result cap cannot break.

The incremental walk (apis.md §2.3: search sorted ascending by the last-modified property, at most
200 per page, at most 10,000 results per query, paging past ``after=10000`` is a 400):

* Every page is a fresh query ``modified ≥ boundary AND modified ≤ read start``, sorted ascending,
  always from ``after=0``: each page is its own time window, starting at the last millisecond the
  previous page reached. No query ever pages deep, so the 10,000 cap is never reached, and a record
  modified during the walk cannot shift an offset and make another record slip past unseen (offset
  paging loses records that way).
* The boundary millisecond is read again by the next window (records sharing it may straddle the
  two pages; the search sorts by one property only, so their order is arbitrary): the ids already
  yielded at that millisecond are dropped, so each record is yielded once per read.
* When a whole page shares one millisecond (a bulk import), the window narrows to that instant and
  pages by ``hs_object_id`` (``modified = ms AND hs_object_id ≥ next``, sorted by id), then moves on
  to the next millisecond. However many records share an instant, none is lost.
* The upper bound (the read's start) keeps a busy portal from extending the walk forever; later
  changes are read next time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.cursor import Position, ms_of


@dataclass(frozen=True)
class Found:
    """One record as the API returned it, with its place in the walk's order."""

    obj: dict[str, Any]
    position: Position


def modified_ms(obj: dict[str, Any], modified_property: str) -> int:
    """The record's last change: the modified property, else ``updatedAt`` (never missing)."""
    value = ms_of((obj.get("properties") or {}).get(modified_property))
    if value is None:
        value = ms_of(obj.get("updatedAt")) or 0
    return value


def _ms_filter(prop: str, operator: str, ms: int) -> dict[str, Any]:
    return {"property_name": prop, "operator": operator, "value": str(ms)}


class SearchWalk:
    """Records of one object changed in ``[start, upper]``, in (modified, id) order."""

    def __init__(
        self,
        client: HubSpotClient,
        object_type: str,
        modified_property: str,
        properties: Sequence[str],
        page_size: int,
    ) -> None:
        self.client = client
        self.object_type = object_type
        self.modified = modified_property
        self.properties = list(properties)
        self.page_size = page_size
        self.queries = 0

    def walk(self, start: Position, upper_ms: int) -> Iterator[Found]:
        boundary_ms = -1
        boundary_ids: set[str] = set()
        position = start
        while position.ms <= upper_ms:
            if position.object_id:
                page = self._instant_page(position)
            else:
                page = self._window_page(position.ms, upper_ms)
            for obj in page:
                ms = modified_ms(obj, self.modified)
                object_id = str(obj["id"])
                if ms == boundary_ms and object_id in boundary_ids:
                    continue  # read by the previous window already
                if ms != boundary_ms:
                    boundary_ms, boundary_ids = ms, set()
                boundary_ids.add(object_id)
                at = Position(ms, int(object_id)) if position.object_id else Position(ms)
                yield Found(obj, at)
            full = len(page) >= self.page_size
            if position.object_id:
                if full:
                    position = Position(position.ms, int(page[-1]["id"]) + 1)
                else:  # this instant is done: the next window starts after it
                    position = Position(position.ms + 1)
            elif not full:
                return
            else:
                first = modified_ms(page[0], self.modified)
                last = modified_ms(page[-1], self.modified)
                # One instant filled the whole page: walk it by id (from its first id, dropping
                # those already yielded), else the next window starts at the last instant seen.
                position = Position(last, 1) if first == last else Position(last)

    def _window_page(self, from_ms: int, upper_ms: int) -> list[dict[str, Any]]:
        self.queries += 1
        results, _total, _next = self.client.search(
            self.object_type,
            filter_groups=[
                [
                    _ms_filter(self.modified, "GTE", from_ms),
                    _ms_filter(self.modified, "LTE", upper_ms),
                ]
            ],
            sort_property=self.modified,
            properties=self.properties,
        )
        return results

    def _instant_page(self, position: Position) -> list[dict[str, Any]]:
        self.queries += 1
        # A range of one millisecond rather than EQ: equality on dates compares days in places.
        results, _total, _next = self.client.search(
            self.object_type,
            filter_groups=[
                [
                    _ms_filter(self.modified, "GTE", position.ms),
                    _ms_filter(self.modified, "LTE", position.ms),
                    {
                        "property_name": "hs_object_id",
                        "operator": "GTE",
                        "value": str(position.object_id),
                    },
                ]
            ],
            sort_property="hs_object_id",
            properties=self.properties,
        )
        return results


def list_all(
    client: HubSpotClient,
    object_type: str,
    properties: Sequence[str],
    associations: Sequence[str] = (),
    archived: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every record (or every archived one) by ``after`` paging: no 10,000 cap on lists."""
    after: str | None = None
    seen_tokens: set[str] = set()
    while True:
        results, after = client.list_page(
            object_type,
            after=after,
            properties=properties,
            associations=associations,
            archived=archived,
        )
        yield from results
        if after is None:
            return
        if after in seen_tokens:  # a paginator that repeats itself would loop forever
            raise RuntimeError(f"HubSpot list {object_type} repeated the paging token {after!r}")
        seen_tokens.add(after)
