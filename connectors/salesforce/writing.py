"""Writes through sObject Collections: 200 records per call, ``allOrNone: false``, results in order.

* A write whose record the hub already knows in Salesforce (``Write.external_id``, the record Id)
  is an update by Id that also stamps the external id field with the canonical id; every other
  upsert goes through ``PATCH /composite/sobjects/{Object}/{ExternalIdField}`` keyed by the
  canonical id. Either way a retried batch lands on the same records: no duplicates.
* Deletes go through ``DELETE /composite/sobjects?ids=...``. A delete of a record already deleted
  (a retry after a timeout) is a success. Ids the hub does not know are looked up by the external
  id field first (one query per 200).
* Salesforce deletes an account's contacts with it (Object Reference, Account). So an Account
  delete is refused while contacts point at it, unless ``delete_accounts_with_contacts``.
* Merges: the REST API has no merge (the SOAP ``merge()`` call and Apex ``Database.merge`` re-parent
  every related record; REST does not). A hub merge arrives as a delete whose fields carry
  ``merged_into`` (the surviving record's Salesforce Id). The synced children (an account's
  contacts) are moved to the survivor; then with ``merge_mode: flag`` (default) the merged-away
  record is left for a person to merge in Salesforce, which keeps its opportunities, cases and
  activity history, and the write fails permanently with that instruction (it is listed with the
  dead letters); with ``merge_mode: delete`` it is deleted, and Salesforce's cascade takes what the
  hub does not sync.
* ``Owner.Email`` in a write's fields becomes ``OwnerId`` (an active user with that email, looked
  up once per batch); no such user leaves the owner as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.salesforce.client import TRANSIENT_CODES, SalesforceClient
from connectors.salesforce.settings import SalesforceSettings
from hub.errors import HuitongError, RetriableError
from hub.ports import Write, WriteOp, WriteResult

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # sObject Collections: at most 200 records per call (apis.md §1.4 [D])
OWNER_EMAIL = "owner.email"
MERGED_INTO = "merged_into"
# Children Salesforce deletes with their parent, among the objects the hub syncs.
CASCADE_CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {"Account": (("Contact", "AccountId"),)}
_SF_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")


def soql_quote(value: str) -> str:
    """A SOQL string literal (backslash escapes, SOQL reference "Quoted String Escape Sequences")."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def save_error(result: dict[str, Any]) -> tuple[str, str]:
    """(code, 'CODE: message (fields: a, b)') of a failed SaveResult/UpsertResult."""
    errors = result.get("errors") or [{}]
    first = errors[0]
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN")
    text = f"{code}: {first.get('message', '')}".rstrip()
    if first.get("fields"):
        text += f" (fields: {', '.join(first['fields'])})"
    return code, text


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass
class _Batch:
    writes: Sequence[Write]
    results: list[WriteResult | None] = field(default_factory=list)
    done_any: bool = False

    def __post_init__(self) -> None:
        self.results = [None] * len(self.writes)

    def set(self, index: int, result: WriteResult) -> None:
        self.results[index] = result
        self.done_any = True

    def fail(self, index: int, error: str, retriable: bool = False, ext: str | None = None) -> None:
        self.results[index] = WriteResult(
            ok=False, external_id=ext or self.writes[index].external_id, error=error,
            retriable=retriable,
        )  # fmt: skip


class Writer:
    def __init__(self, system: str, settings: SalesforceSettings, client: SalesforceClient) -> None:
        self.system = system
        self.settings = settings
        self.client = client
        self._owners: dict[str, str | None] = {}

    def write(self, obj: str, writes: Sequence[Write]) -> list[WriteResult]:
        batch = _Batch(writes)
        try:
            self._upserts(obj, batch)
            self._deletes(obj, batch)
        except HuitongError as exc:
            if not batch.done_any:
                raise  # nothing happened: the caller sees the system's trouble as it is
            for index, result in enumerate(batch.results):
                if result is None:
                    batch.fail(index, str(exc), retriable=True)
        return [
            r or WriteResult(ok=False, error="not attempted", retriable=True) for r in batch.results
        ]

    # --- upserts ------------------------------------------------------------------------------

    def _upserts(self, obj: str, batch: _Batch) -> None:
        ext_field = self.settings.external_id_of(obj)
        indices = [i for i, w in enumerate(batch.writes) if w.op is WriteOp.UPSERT]
        if not indices:
            return
        self._resolve_owners([batch.writes[i] for i in indices])
        by_key: dict[str, list[int]] = {}
        by_id: dict[str, list[int]] = {}
        bodies: dict[int, dict[str, Any]] = {}
        for index in indices:
            write = batch.writes[index]
            body, problem = self._body(write, ext_field)
            if problem:
                batch.fail(index, problem)
                continue
            groups, key = (
                (by_id, write.external_id) if write.external_id else (by_key, write.canonical_id)
            )
            if key in groups:  # one record twice in a batch: send once, the later fields win
                bodies[groups[key][0]].update(body)
                groups[key].append(index)
            else:
                groups[key] = [index]
                bodies[index] = body
        keyed = [group for group in by_key.values()]
        for part in chunks(keyed):
            records = [
                {
                    "attributes": {"type": obj},
                    **bodies[g[0]],
                    ext_field: batch.writes[g[0]].canonical_id,
                }
                for g in part
            ]
            answer = self.client.restful(
                f"upsert {len(records)} {obj}",
                f"composite/sobjects/{obj}/{ext_field}",
                "PATCH",
                json={"allOrNone": False, "records": records},
            )
            self._record_results(batch, part, answer, by_id=False)
        for part in chunks(list(by_id.items())):
            records = [
                {
                    "attributes": {"type": obj},
                    **bodies[group[0]],
                    "Id": record_id,
                    ext_field: batch.writes[group[0]].canonical_id,
                }
                for record_id, group in part
            ]
            answer = self.client.restful(
                f"update {len(records)} {obj}",
                "composite/sobjects",
                "PATCH",
                json={"allOrNone": False, "records": records},
            )
            self._record_results(batch, [g for _, g in part], answer, by_id=True)

    def _body(self, write: Write, ext_field: str) -> tuple[dict[str, Any], str | None]:
        body: dict[str, Any] = {}
        for name, value in write.fields.items():
            lowered = name.lower()
            if lowered in ("id", "attributes", ext_field.lower(), MERGED_INTO):
                continue
            if lowered == OWNER_EMAIL:
                owner = self._owners.get(str(value or "").strip().lower())
                if owner:
                    body["OwnerId"] = owner
                continue
            if "." in name:
                return {}, (
                    f"{name} is a field of a related record and cannot be written here; "
                    "write the lookup field (such as AccountId) instead"
                )
            body[name] = _json_value(value)
        return body, None

    def _record_results(
        self, batch: _Batch, groups: Sequence[list[int]], answer: Any, *, by_id: bool
    ) -> None:
        if not isinstance(answer, list) or len(answer) != len(groups):
            raise RetriableError(
                f"{self.system}: Salesforce answered {len(answer) if isinstance(answer, list) else 0} "
                f"results for {len(groups)} records"
            )
        for group, result in zip(groups, answer, strict=True):
            for index in group:
                write = batch.writes[index]
                if result.get("success"):
                    batch.set(
                        index,
                        WriteResult(
                            ok=True,
                            external_id=result.get("id") or write.external_id,
                            created=bool(result.get("created", False)) and not by_id,
                        ),
                    )
                    continue
                code, text = save_error(result)
                if code == "ENTITY_IS_DELETED" and by_id:
                    text += "; the record was deleted in Salesforce"
                batch.set(
                    index,
                    WriteResult(
                        ok=False,
                        external_id=result.get("id") or write.external_id,
                        error=text,
                        retriable=code in TRANSIENT_CODES,
                    ),
                )

    def _resolve_owners(self, writes: Sequence[Write]) -> None:
        wanted = {
            str(value).strip().lower()
            for w in writes
            for name, value in w.fields.items()
            if name.lower() == OWNER_EMAIL and value
        }
        missing = sorted(wanted - set(self._owners))
        for part in chunks(missing):
            found: dict[str, list[str]] = {}
            soql = (
                "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN "
                f"({', '.join(soql_quote(e) for e in part)})"
            )
            for page in self.client.query_pages(soql, include_deleted=False, what="find owners"):
                for row in page.get("records", []):
                    found.setdefault(str(row.get("Email") or "").lower(), []).append(str(row["Id"]))
            for email in part:
                ids = found.get(email, [])
                # No user, or several with one email: the owner is left as it is.
                self._owners[email] = ids[0] if len(ids) == 1 else None
                if len(ids) != 1:
                    log.info("%s: %d active users have email %s", self.system, len(ids), email)

    # --- deletes ------------------------------------------------------------------------------

    def _deletes(self, obj: str, batch: _Batch) -> None:
        indices = [i for i, w in enumerate(batch.writes) if w.op is WriteOp.DELETE]
        if not indices:
            return
        ids = self._ids_for_deletes(obj, batch, indices)
        targets: list[tuple[int, str]] = []
        for index in indices:
            record_id = ids.get(index)
            if record_id is None:
                batch.set(index, WriteResult(ok=True))  # nothing carries this canonical id
                continue
            targets.append((index, record_id))
        targets = self._handle_children(obj, batch, targets)
        for part in chunks(targets):
            answer = self.client.restful(
                f"delete {len(part)} {obj}",
                "composite/sobjects",
                "DELETE",
                params={"ids": ",".join(record_id for _, record_id in part), "allOrNone": "false"},
            )
            if not isinstance(answer, list) or len(answer) != len(part):
                raise RetriableError(f"{self.system}: delete answered an unexpected body")
            for (index, record_id), result in zip(part, answer, strict=True):
                code, text = ("", "") if result.get("success") else save_error(result)
                ok = result.get("success") or code == "ENTITY_IS_DELETED"  # already gone
                batch.set(
                    index,
                    WriteResult(
                        ok=bool(ok),
                        external_id=record_id,
                        error=None if ok else text,
                        retriable=code in TRANSIENT_CODES,
                    ),
                )

    def _ids_for_deletes(self, obj: str, batch: _Batch, indices: list[int]) -> dict[int, str]:
        ids = {i: str(batch.writes[i].external_id) for i in indices if batch.writes[i].external_id}
        unknown = [i for i in indices if i not in ids]
        ext_field = self.settings.external_id_of(obj)
        for part in chunks(unknown):
            keys = {batch.writes[i].canonical_id for i in part}
            soql = (
                f"SELECT Id, {ext_field} FROM {obj} WHERE {ext_field} IN "
                f"({', '.join(soql_quote(k) for k in sorted(keys))})"
            )
            found: dict[str, str] = {}
            for page in self.client.query_pages(soql, False, f"find {obj} to delete"):
                for row in page.get("records", []):
                    found[str(row.get(ext_field) or "").lower()] = str(row["Id"])
            for index in part:
                record_id = found.get(batch.writes[index].canonical_id.lower())
                if record_id is not None:
                    ids[index] = record_id
        return ids

    def _handle_children(
        self, obj: str, batch: _Batch, targets: list[tuple[int, str]]
    ) -> list[tuple[int, str]]:
        """Move or guard the children Salesforce would delete with each target; the targets that
        may be deleted now."""
        survivors: dict[int, str] = {}
        for index, record_id in targets:
            merged_into = batch.writes[index].fields.get(MERGED_INTO)
            if merged_into is None:
                continue
            if not isinstance(merged_into, str) or not _SF_ID.match(merged_into):
                batch.fail(
                    index,
                    f"merged_into {merged_into!r} is not a Salesforce record Id",
                    ext=record_id,
                )
            elif merged_into == record_id:
                batch.fail(index, "merged_into names the record itself", ext=record_id)
            else:
                survivors[index] = merged_into
        targets = [(i, r) for i, r in targets if batch.results[i] is None]
        children = self._children(obj, [r for _, r in targets])
        moves: list[tuple[int, str, str, str]] = []  # (target index, child object, child id, field)
        allowed: list[tuple[int, str]] = []
        for index, record_id in targets:
            mine = children.get(record_id, [])
            if index in survivors:
                moves += [(index, child_obj, child_id, fld) for child_obj, child_id, fld in mine]
            elif mine and not self.settings.delete_accounts_with_contacts:
                names = ", ".join(sorted({c for c, _, _ in mine}))
                batch.fail(
                    index,
                    f"{obj} {record_id} still has {len(mine)} related {names} record(s), which "
                    "Salesforce would delete with it; move them first (or set "
                    "delete_accounts_with_contacts: true)",
                    ext=record_id,
                )
                continue
            if index not in survivors:
                allowed.append((index, record_id))
        failed_moves = self._move_children(obj, moves, survivors)
        for index, record_id in targets:
            if index not in survivors:
                continue
            if index in failed_moves:
                batch.fail(index, failed_moves[index], retriable=True, ext=record_id)
            elif self.settings.merge_mode == "delete":
                allowed.append((index, record_id))
            else:
                batch.fail(
                    index,
                    f"left for a person: merge {obj} {record_id} into {survivors[index]} in "
                    "Salesforce (the REST API has no merge; Salesforce's merge keeps related "
                    "opportunities, cases and activities)"
                    + (" — its contacts were already moved" if children.get(record_id) else ""),
                    ext=record_id,
                )
        return allowed

    def _children(self, obj: str, record_ids: list[str]) -> dict[str, list[tuple[str, str, str]]]:
        out: dict[str, list[tuple[str, str, str]]] = {}
        for child_obj, ref_field in CASCADE_CHILDREN.get(obj, ()):
            for part in chunks(record_ids):
                soql = (
                    f"SELECT Id, {ref_field} FROM {child_obj} WHERE {ref_field} IN "
                    f"({', '.join(soql_quote(r) for r in part)})"
                )
                for page in self.client.query_pages(soql, False, f"find {child_obj} of {obj}"):
                    for row in page.get("records", []):
                        parent = str(row[ref_field])
                        out.setdefault(parent, []).append((child_obj, str(row["Id"]), ref_field))
        # The query compares ids case-insensitively in 18-character form; key by what we sent.
        by_prefix = {r[:15]: r for r in record_ids}
        return {by_prefix.get(k[:15], k): v for k, v in out.items()}

    def _move_children(
        self, obj: str, moves: list[tuple[int, str, str, str]], survivors: dict[int, str]
    ) -> dict[int, str]:
        """Re-point children to their parent's survivor; the targets whose children did not all
        move, with why."""
        failed: dict[int, str] = {}
        for part in chunks(moves):
            records = [
                {"attributes": {"type": child_obj}, "Id": child_id, fld: survivors[index]}
                for index, child_obj, child_id, fld in part
            ]
            answer = self.client.restful(
                f"move {len(records)} children of merged {obj}",
                "composite/sobjects",
                "PATCH",
                json={"allOrNone": False, "records": records},
            )
            for (index, child_obj, child_id, _), result in zip(part, answer or [], strict=False):
                if not result.get("success"):
                    _, text = save_error(result)
                    failed.setdefault(index, f"{child_obj} {child_id} could not be moved: {text}")
        return failed
