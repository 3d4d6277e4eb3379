"""HubSpot CRM as a system: contacts and companies (and any object configured), read incrementally,
written in batches of 100 by upsert on the canonical id, merged as the hub merges.

See README.md beside this file for the set-up (private-app token and scopes), objects, limits and
quirks; ``reading.py`` and ``writing.py`` for how reads stay complete and writes stay duplicate-free.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, ClassVar

from connectors.hubspot.client import HubSpotClient, RequestRejected
from connectors.hubspot.cursor import Position, datetime_of, ms_of
from connectors.hubspot.owners import OwnerDirectory
from connectors.hubspot.pacing import SharedPacer
from connectors.hubspot.reading import SearchWalk, list_all, modified_ms
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.writing import BatchWriter, wire_value
from hub.errors import AuthError, FatalError, HuitongError
from hub.pacing import WindowFactory
from hub.ports import CheckResult, Limits, Rejection, SourceRecord, Write, WriteResult

ASSOCIATION_READ_BATCH = 1000  # v4 batch read limit (changelog, February 2025)
KNOWN_LINKS_MAX = 500_000  # per object and associated type; the oldest are forgotten first


class HubSpotConnector:
    kind: ClassVar[str] = "hubspot"

    def __init__(
        self,
        system: str,
        settings: HubSpotSettings,
        client: HubSpotClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.system = system
        self.settings = settings
        self.client = client or HubSpotClient(settings)
        self.clock = clock
        self.owners = OwnerDirectory(self.client)
        self._verified: set[str] = set()
        # object -> associated type -> {HubSpot id: associated HubSpot id}
        self.known_links: dict[str, dict[str, dict[str, str]]] = {}
        rate = settings.rate
        self.limits = Limits(
            batch_size=100,
            requests_per_window=rate.burst_max,
            window_seconds=rate.interval_seconds,
            daily_quota=rate.daily_max,
        )

    def __repr__(self) -> str:
        return f"HubSpotConnector({self.system!r}, base_url={self.settings.base_url!r})"

    def objects(self) -> Sequence[str]:
        return list(self.settings.objects)

    def report_rejections(self, obj: str, rejections: Sequence[Rejection]) -> None:
        return None  # HubSpot keeps no reject list; the hub's run errors hold them

    # ---- check ---------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """The token works and has the read and write scopes of every object; changes nothing."""
        checks: list[tuple[str, bool, str]] = []
        try:
            for obj in self.settings.objects:
                api_type = self.settings.api_type(obj)
                self.client.list_page(api_type, after=None, properties=["hs_object_id"])
                checks.append((f"{obj}: read", True, "readable"))
                self.client.probe_write(api_type)
                checks.append((f"{obj}: write", True, "write scope granted"))
                checks.append((f"{obj}: {self.settings.id_property}", True, self._verify(obj)))
            if self.settings.resolve_owners:
                self.owners.allow_reload()
                self.owners.email_for("0")
                reason = self.owners.unavailable
                checks.append(("owners", True, reason or "owner emails resolvable"))
        except AuthError as exc:
            checks.append(("token", False, str(exc)))
        except HuitongError as exc:
            checks.append(("api", False, str(exc)))
        except Exception as exc:  # check() never raises: an unexpected failure is a failed check
            checks.append(("api", False, f"{type(exc).__name__}: {exc}"))
        ok = bool(checks) and all(passed for _, passed, _ in checks)
        failed = [f"{name}: {detail}" for name, passed, detail in checks if not passed]
        detail = "HubSpot reachable, token and scopes fine" if ok else "; ".join(failed)
        return CheckResult(ok, detail, tuple(checks))

    # ---- read ----------------------------------------------------------------------------------

    def read(self, obj: str, since: str | None) -> Iterator[SourceRecord | Rejection]:
        """Tombstones first (archived since the cursor), then live records: a full list when
        ``since`` is None, else the search walk in (modified, id) order from the cursor.

        Each live record carries the cursor of its own position, capped at "read start − index
        lag" (a change HubSpot has not indexed yet must not be skipped); the last record of the
        read carries that cap itself.
        """
        settings = self.settings.object_settings(obj)
        api_type = self.settings.api_type(obj)
        start = Position.decode(since) if since is not None else None
        now_ms = int(self.clock() * 1000)
        horizon = Position(max(now_ms - int(self.settings.index_lag_seconds * 1000), 0))
        if start is not None and start > horizon:
            horizon = start  # never move a cursor backwards
        self.owners.allow_reload()
        properties = self.settings.read_properties(obj)
        stream: Iterator[SourceRecord]
        tombstones = self._tombstones(obj, api_type, properties, start)
        if start is None:
            live = self._full(obj, api_type, properties, horizon)
        else:
            walk = SearchWalk(
                self.client,
                api_type,
                self.settings.modified_property(obj),
                properties,
                self.settings.search_page_size,
            )
            live = self._incremental(obj, walk, start, now_ms, horizon)
        stream = self._with_final_cursor(_chain(tombstones, live), horizon)
        if settings.associations:
            stream = self._with_associations(obj, api_type, stream)
        for record in stream:
            if settings.associations and not record.deleted:
                self._remember_links(obj, record)
            yield record

    def _full(
        self, obj: str, api_type: str, properties: list[str], horizon: Position
    ) -> Iterator[SourceRecord]:
        associations = list(self.settings.object_settings(obj).associations)
        for item in list_all(self.client, api_type, properties, associations):
            record = self._record(obj, item)
            record.fields.update(self._inline_links(obj, item))
            yield record

    def _incremental(
        self, obj: str, walk: SearchWalk, start: Position, now_ms: int, horizon: Position
    ) -> Iterator[SourceRecord]:
        for found in walk.walk(start, now_ms):
            record = self._record(obj, found.obj)
            record.cursor = min(found.position, horizon).encode()
            yield record

    def _tombstones(
        self, obj: str, api_type: str, properties: list[str], start: Position | None
    ) -> Iterator[SourceRecord]:
        wanted = self.settings.tombstones
        if wanted == "off" or (wanted == "full_reads" and start is not None):
            return
        for item in list_all(self.client, api_type, properties, archived=True):
            archived_ms = ms_of(item.get("archivedAt"))
            if start is not None and archived_ms is not None and archived_ms < start.ms:
                continue
            record = self._record(obj, item)
            record.deleted = True
            if archived_ms is not None:
                record.modified_at = datetime_of(archived_ms)
            yield record

    def _with_final_cursor(
        self, records: Iterator[SourceRecord], horizon: Position
    ) -> Iterator[SourceRecord]:
        """Hold one record back; once the read is complete the last one carries the cap."""
        held: SourceRecord | None = None
        for record in records:
            if held is not None:
                yield held
            held = record
        if held is not None:
            held.cursor = horizon.encode()
            yield held

    def _record(self, obj: str, item: dict[str, Any]) -> SourceRecord:
        object_id = str(item["id"])
        properties = dict(item.get("properties") or {})
        fields: dict[str, Any] = dict(properties)
        fields.setdefault("hs_object_id", object_id)
        owner_id = properties.get("hubspot_owner_id")
        if self.settings.resolve_owners and owner_id:
            email = self.owners.email_for(str(owner_id))
            if email:
                fields[self.settings.owner_email_field] = email
        modified = modified_ms(item, self.settings.modified_property(obj))
        return SourceRecord(
            system=self.system,
            object=obj,
            external_id=object_id,
            fields=fields,
            modified_at=datetime_of(modified) if modified else None,
            location=f"{self.system} {obj}/{object_id}",
        )

    # ---- associations on read ------------------------------------------------------------------

    def _inline_links(self, obj: str, item: dict[str, Any]) -> dict[str, str | None]:
        """Associated ids returned by the list call itself (``?associations=companies``)."""
        found: dict[str, str | None] = {}
        inline = item.get("associations") or {}
        for to_type, field in self.settings.object_settings(obj).associations.items():
            results = list((inline.get(to_type) or {}).get("results") or [])
            # ``contact_to_company`` is the primary; ``..._unlabeled`` the plain association.
            ranked = sorted(
                results,
                key=lambda r: ("unlabeled" in str(r.get("type")), int(str(r.get("id") or 0))),
            )
            found[field] = str(ranked[0]["id"]) if ranked else None
        return found

    def _with_associations(
        self, obj: str, api_type: str, records: Iterator[SourceRecord]
    ) -> Iterator[SourceRecord]:
        links = self.settings.object_settings(obj).associations
        type_ids = self.settings.object_settings(obj).association_type_ids
        while group := list(islice(records, ASSOCIATION_READ_BATCH)):
            needing = [
                r for r in group if not r.deleted and any(f not in r.fields for f in links.values())
            ]
            for to_type, field in links.items():
                ids = [r.external_id for r in needing]
                if not ids:
                    continue
                found = self.client.read_associations(api_type, to_type, ids)
                primary_type = type_ids.get(to_type)
                for record in needing:
                    record.fields[field] = _pick(found.get(record.external_id, []), primary_type)
            yield from group

    def _remember_links(self, obj: str, record: SourceRecord) -> None:
        if not self.settings.remember_associations:
            return
        links = self.settings.object_settings(obj).associations
        for to_type, field in links.items():
            known = self.known_links.setdefault(obj, {}).setdefault(to_type, {})
            value = record.fields.get(field)
            known.pop(record.external_id, None)  # re-inserted last: the newest are kept longest
            if value:
                known[record.external_id] = str(value)
            while len(known) > KNOWN_LINKS_MAX:
                known.pop(next(iter(known)))

    # ---- write ---------------------------------------------------------------------------------

    def write(self, obj: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Upserts by the canonical id (or updates by HubSpot id when known) and deletes, in
        batches of 100, with one result per write in order.

        Field convention: a write's fields are HubSpot property names, except
        * an association field (``associatedcompanyid`` for contacts, per ``associations``): the
          HubSpot id of the record to associate (the primary company), written with v4 batch create;
        * ``hubspot_owner_email``: the owner's email, turned into ``hubspot_owner_id``.
        """
        settings = self.settings.object_settings(obj)
        if obj not in self._verified:
            self._verify(obj)
        self.owners.allow_reload()
        writer = BatchWriter(
            self.client,
            self.settings.api_type(obj),
            self.settings.id_property,
            lambda write: self._prepare(obj, write),
            {to_type: settings.association_type_ids[to_type] for to_type in settings.associations},
            self.known_links.setdefault(obj, {}) if self.settings.remember_associations else {},
        )
        return writer.write(writes)

    def _verify(self, obj: str) -> str:
        """Upserts key on the id property: it must exist and hold unique values, else every batch
        would be refused. Checked once per object (raises FatalError naming the fix)."""
        api_type, name = self.settings.api_type(obj), self.settings.id_property
        fix = "create it as a unique-value single-line text property (see the connector README)"
        try:
            definition = self.client.get_property(api_type, name)
        except RequestRejected as rejected:
            if rejected.status == 404:
                raise FatalError(f"HubSpot {api_type} has no property {name!r}: {fix}") from None
            raise
        except AuthError:
            raise
        except FatalError:  # no crm.schemas read scope: cannot tell, the writes will
            self._verified.add(obj)
            return "not verifiable without the crm.schemas read scope"
        if not definition.get("hasUniqueValue"):
            raise FatalError(
                f"HubSpot {api_type} property {name!r} does not require unique values: {fix}"
            )
        self._verified.add(obj)
        return "unique-value property present"

    def _prepare(self, obj: str, write: Write) -> tuple[dict[str, str], dict[str, str]]:
        settings = self.settings.object_settings(obj)
        link_fields = {field: to_type for to_type, field in settings.associations.items()}
        properties: dict[str, str] = {}
        links: dict[str, str] = {}
        for name, value in write.fields.items():
            if name in link_fields:
                if value not in (None, ""):
                    links[link_fields[name]] = str(value)
            elif name == self.settings.owner_email_field:
                owner_id = (
                    self.owners.id_for(str(value))
                    if value and self.settings.resolve_owners
                    else None
                )
                if owner_id:
                    properties["hubspot_owner_id"] = owner_id
            elif name not in (self.settings.id_property, "hs_object_id"):
                properties[name] = wire_value(value)
        return properties, links

    # ---- merge ---------------------------------------------------------------------------------

    def share_budget(self, windows: WindowFactory) -> None:
        """Pace with rolling windows shared by every worker (the hub's database), keyed by the
        token's fingerprint: HubSpot counts per token, whichever process makes the call."""
        rate = self.settings.rate
        token = self.settings.token.get_secret_value()
        key = hashlib.sha256(token.encode()).hexdigest()[:16]
        self.client.pacer = SharedPacer(
            windows,
            key,
            rate.burst_max,
            rate.interval_seconds,
            rate.search_per_second,
            rate.headroom,
        )

    def merge(self, obj: str, primary_id: str, merged_id: str) -> WriteResult:
        """Merge HubSpot record ``merged_id`` into ``primary_id`` (``POST .../merge``), called by
        the hub when it merges the two golden records these records belong to.

        The result's ``external_id`` is the survivor's id: HubSpot may give the merged record a new
        id (apis.md §2.7), and the hub must then repoint its xrefs. A merge retried after a lost
        response finds the merge done and reports success.
        """
        api_type = self.settings.api_type(obj)
        try:
            survivor = self.client.merge(api_type, primary_id, merged_id)
            return WriteResult(ok=True, external_id=str(survivor.id))
        except RequestRejected as rejected:
            done = self._merged_into(api_type, primary_id, merged_id)
            if done is not None:
                return WriteResult(ok=True, external_id=done)
            return WriteResult(ok=False, error=str(rejected))

    def _merged_into(self, api_type: str, primary_id: str, merged_id: str) -> str | None:
        try:
            record = self.client.get(api_type, merged_id, ["hs_merged_object_ids"])
        except RequestRejected:
            return None
        merged = str((record.properties or {}).get("hs_merged_object_ids") or "").split(";")
        if str(record.id) == primary_id or merged_id in merged:
            return str(record.id)
        return None


def _chain(*streams: Iterator[SourceRecord]) -> Iterator[SourceRecord]:
    for stream in streams:
        yield from stream


def _pick(links: list[tuple[str, set[int]]], primary_type: int | None) -> str | None:
    """The primary association if there is one, else the lowest id."""
    if not links:
        return None
    primary = [
        to_id for to_id, types in links if primary_type is not None and primary_type in types
    ]
    if primary:
        return primary[0]
    return min((to_id for to_id, _ in links), key=lambda v: int(v) if v.isdigit() else 0)
