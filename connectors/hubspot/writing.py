"""Writing a batch to HubSpot in as few calls as the API allows, with one result per write.

* A write whose HubSpot id the hub already knows (``Write.external_id``) is a batch *update* by
  that id, which also stamps the canonical id into the id property (``huitong_id``): a record that
  began life in HubSpot has no canonical id yet, and an upsert keyed on it would create a twin.
* Any other write is a batch *upsert* keyed on the id property (``idProperty=huitong_id``, the
  canonical id as ``id``): a batch retried after a lost response finds the records it created and
  updates them, so nothing is duplicated (apis.md §2.4).
* 100 inputs per call, the API's maximum; two writes for one record in a batch become one input
  (the later values win), because HubSpot refuses duplicate ids in a batch.
* HubSpot refuses a whole batch (400 VALIDATION_ERROR, 409 CONFLICT) for one bad input. The batch is
  split in halves until the bad input stands alone; the others land, and the bad one fails with the
  API's message (never retried: it would fail the same way).
* Results are matched to inputs by ``objectWriteTraceId`` (the canonical id, echoed by HubSpot),
  else by the id property's value, else by the HubSpot id for updates.
* Deletes archive by HubSpot id (batch archive); a delete without one is looked up by the id
  property first. Archiving what is already gone succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from connectors.hubspot.client import BatchReply, HubSpotClient, RequestRejected, chunks
from hub.errors import FatalError, RetriableError
from hub.ports import Write, WriteOp, WriteResult

BATCH_MAX = 100
ASSOCIATION_BATCH = 100
# Refusals that one input can cause (validation, conflict, too large): halving finds it. Others
# (404 for an unknown object type, say) would fail every half alike.
SPLITTABLE = frozenset({400, 409, 413})

Item = TypeVar("Item")


@dataclass
class Pending:
    """One input of a batch call and the writes (indexes in the caller's batch) it stands for."""

    key: str  # canonical id (upsert) or HubSpot id (update)
    canonical_id: str
    properties: dict[str, str]
    indexes: list[int] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # associated type -> HubSpot id


def wire_value(value: Any) -> str:
    """HubSpot property values are strings (apis.md §2.2); None clears the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)  # numbers (Decimal included) as their plain text


def isolate(
    items: Sequence[Item],
    send: Callable[[Sequence[Item]], dict[int, WriteResult]],
    calls: list[int],
) -> dict[int, WriteResult]:
    """Send ``items``; when HubSpot refuses the whole request, halve it until the refused input is
    alone. ``send`` returns results keyed by position in ``items``."""
    try:
        calls.append(len(items))
        return send(items)
    except RequestRejected as rejected:
        if len(items) == 1 or rejected.status not in SPLITTABLE:
            return {
                i: WriteResult(ok=False, error=str(rejected), retriable=False)
                for i in range(len(items))
            }
        middle = len(items) // 2
        left = isolate(items[:middle], send, calls)
        right = isolate(items[middle:], send, calls)
        return {**left, **{middle + k: v for k, v in right.items()}}
    except FatalError:
        raise
    except RetriableError as exc:  # retries ran out: the outbox tries again later
        return {i: WriteResult(ok=False, error=str(exc), retriable=True) for i in range(len(items))}


def _trace(result: Any) -> str | None:
    trace = getattr(result, "object_write_trace_id", None)
    return str(trace) if trace else None


def _error_ids(errors: Sequence[Any]) -> dict[str, str]:
    """Ids named by a 207's errors, with the message for each."""
    named: dict[str, str] = {}
    for error in errors:
        context = getattr(error, "context", None) or {}
        message = f"HubSpot {getattr(error, 'category', 'ERROR')}: {getattr(error, 'message', '')}"
        for key in ("ids", "id", "objectWriteTraceId"):
            for value in context.get(key, []) or []:
                named[str(value).lower()] = message
    return named


class BatchWriter:
    def __init__(
        self,
        client: HubSpotClient,
        object_type: str,
        id_property: str,
        prepare: Callable[[Write], tuple[dict[str, str], dict[str, str]]],
        association_types: Mapping[str, int],
        known_links: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.client = client
        self.object_type = object_type
        self.id_property = id_property
        self.prepare = prepare
        self.association_types = association_types
        # to type -> {HubSpot id: associated id} as last read or written: a link HubSpot already
        # holds is not written again (most writes repeat the record's company unchanged).
        self.known_links = known_links if known_links is not None else {}
        self.batch_sizes: list[int] = []

    def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(writes)
        updates: dict[str, Pending] = {}
        upserts: dict[str, Pending] = {}
        deletes: list[int] = []
        for index, write in enumerate(writes):
            if write.op is WriteOp.DELETE:
                deletes.append(index)
                continue
            properties, links = self.prepare(write)
            if write.external_id:
                properties[self.id_property] = write.canonical_id
                group, key = updates, write.external_id
            else:
                group, key = upserts, write.canonical_id.lower()
            pending = group.setdefault(key, Pending(key, write.canonical_id, {}))
            pending.properties.update(properties)
            pending.links.update(links)
            pending.indexes.append(index)
        for pending_group, send in ((updates, self._send_updates), (upserts, self._send_upserts)):
            items = list(pending_group.values())
            for chunk in chunks(items, BATCH_MAX):
                outcome = isolate(chunk, send, self.batch_sizes)
                self._associate(chunk, outcome)
                for position, item in enumerate(chunk):
                    for index in item.indexes:
                        results[index] = outcome[position]
        for index, result in self._delete([writes[i] for i in deletes]).items():
            results[deletes[index]] = result
        return [r or WriteResult(ok=False, error="no result (internal error)") for r in results]

    # ---- upserts and updates -------------------------------------------------------------------

    def _send_upserts(self, items: Sequence[Pending]) -> dict[int, WriteResult]:
        reply = self.client.batch_upsert(
            self.object_type,
            [
                {
                    "id": item.canonical_id,
                    "idProperty": self.id_property,
                    "objectWriteTraceId": item.canonical_id,
                    "properties": item.properties,
                }
                for item in items
            ],
        )
        return self._match(items, reply, by_hubspot_id=False)

    def _send_updates(self, items: Sequence[Pending]) -> dict[int, WriteResult]:
        reply = self.client.batch_update(
            self.object_type,
            [
                {
                    "id": item.key,
                    "objectWriteTraceId": item.canonical_id,
                    "properties": item.properties,
                }
                for item in items
            ],
        )
        return self._match(items, reply, by_hubspot_id=True)

    def _match(
        self, items: Sequence[Pending], reply: BatchReply, by_hubspot_id: bool
    ) -> dict[int, WriteResult]:
        by_key: dict[str, Any] = {}
        for result in reply.results:
            properties = result.properties or {}
            for key in (_trace(result), properties.get(self.id_property), result.id):
                if key:
                    by_key.setdefault(str(key).lower(), result)
        failed = _error_ids(reply.errors)
        outcome: dict[int, WriteResult] = {}
        for position, item in enumerate(items):
            keys = [item.canonical_id.lower()] + ([item.key.lower()] if by_hubspot_id else [])
            found = next((by_key[k] for k in keys if k in by_key), None)
            if found is not None:
                created = bool(getattr(found, "new", False))
                outcome[position] = WriteResult(ok=True, external_id=str(found.id), created=created)
                continue
            message = next((failed[k] for k in keys if k in failed), None)
            if message is None and len(reply.results) == len(items) and not reply.errors:
                # Nothing identifies the results but they answer every input: take the order.
                result = reply.results[position]
                outcome[position] = WriteResult(
                    ok=True, external_id=str(result.id), created=bool(getattr(result, "new", False))
                )
                continue
            outcome[position] = WriteResult(
                ok=False, error=message or "HubSpot returned no result for this input"
            )
        return outcome

    # ---- associations --------------------------------------------------------------------------

    def _associate(self, items: Sequence[Pending], outcome: dict[int, WriteResult]) -> None:
        for to_type, type_id in self.association_types.items():
            known = self.known_links.setdefault(to_type, {})
            pairs: list[tuple[int, str, str]] = []
            for position, item in enumerate(items):
                result = outcome[position]
                target = item.links.get(to_type)
                if not (result.ok and result.external_id and target):
                    continue
                if result.created or known.get(result.external_id) != target:
                    pairs.append((position, result.external_id, target))
            for chunk in chunks(pairs, ASSOCIATION_BATCH):
                linked = isolate(chunk, self._link_sender(to_type, type_id), self.batch_sizes)
                for offset, link_result in linked.items():
                    position, from_id, target = chunk[offset]
                    if link_result.ok:
                        known[from_id] = target
                    else:
                        known.pop(from_id, None)
                        outcome[position] = WriteResult(
                            ok=False,
                            external_id=from_id,
                            created=outcome[position].created,
                            error=f"written, but associating {to_type} {target} failed: "
                            f"{link_result.error}",
                            retriable=link_result.retriable,
                        )

    def _link_sender(
        self, to_type: str, type_id: int
    ) -> Callable[[Sequence[tuple[int, str, str]]], dict[int, WriteResult]]:
        def send(chunk: Sequence[tuple[int, str, str]]) -> dict[int, WriteResult]:
            errors = self.client.create_associations(
                self.object_type, to_type, [(a, b) for _, a, b in chunk], type_id
            )
            bad: dict[tuple[str, str], str] = {}
            for error in errors:
                context = getattr(error, "context", None) or {}
                message = f"{getattr(error, 'category', 'ERROR')}: {getattr(error, 'message', '')}"
                for a in context.get("fromObjectId", []) or []:
                    for b in context.get("toObjectId", []) or [""]:
                        bad[(str(a), str(b))] = message
            outcome: dict[int, WriteResult] = {}
            for offset, (_, a, b) in enumerate(chunk):
                problem = bad.get((a, b)) or bad.get((a, ""))
                outcome[offset] = WriteResult(ok=problem is None, error=problem)
            if errors and all(r.ok for r in outcome.values()):
                # Errors that name no pair: the call did not say which link failed.
                text = "; ".join(str(getattr(e, "message", e)) for e in errors)
                return {i: WriteResult(ok=False, error=text) for i in outcome}
            return outcome

        return send

    # ---- deletes -------------------------------------------------------------------------------

    def _delete(self, writes: Sequence[Write]) -> dict[int, WriteResult]:
        if not writes:
            return {}
        ids: dict[int, str | None] = {i: w.external_id for i, w in enumerate(writes)}
        unknown = [i for i, value in ids.items() if not value]
        for lookup in chunks(unknown, BATCH_MAX):
            reply = self.client.batch_read(
                self.object_type,
                [writes[i].canonical_id for i in lookup],
                properties=[self.id_property],
                id_property=self.id_property,
            )
            found = {
                str((r.properties or {}).get(self.id_property, "")).lower(): str(r.id)
                for r in reply.results
            }
            for i in lookup:
                ids[i] = found.get(writes[i].canonical_id.lower())
        results: dict[int, WriteResult] = {}
        targets: list[tuple[int, str]] = [(i, value) for i, value in ids.items() if value]
        for i, value in ids.items():
            if not value:  # never reached HubSpot, or already gone: nothing to archive
                results[i] = WriteResult(ok=True, external_id=None)
        for chunk in chunks(targets, BATCH_MAX):

            def send(part: Sequence[tuple[int, str]]) -> dict[int, WriteResult]:
                self.client.batch_archive(self.object_type, [value for _, value in part])
                return {k: WriteResult(ok=True, external_id=v) for k, (_, v) in enumerate(part)}

            outcome = isolate(chunk, send, self.batch_sizes)
            for offset, (i, _) in enumerate(chunk):
                results[i] = outcome[offset]
        return results
