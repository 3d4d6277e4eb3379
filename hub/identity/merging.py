"""Merge, unmerge, and golden records as of a past time.

* ``merge(A, B)``: B's source records move to A, B redirects to A for good (lookups, ``explain``, the
  CLI follow it), A's values are decided again over all sources, and a must-link constraint is kept.
  The audit event holds everything needed to undo it: B's pinned values and which records were B's.
* ``unmerge(A, ref)``: when ``ref`` came in through a merge, that merge is undone exactly: B gets back
  its records, its pinned values and its own golden values (the same rule over the same sources gives
  the same winners and provenance), A likewise; a cannot-link constraint stops them meeting again.
  A record that was linked by matching instead is split off into a golden record of its own.
* ``as_of(A, t)``: the golden values at time ``t``, replayed from the audit log's field-level changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.audit import AuditEvent
from hub.errors import HuitongError
from hub.golden import GoldenRecord, GoldenValue, Survivorship, diff
from hub.identity.decisions import latest_decisions
from hub.ids import new_canonical_id
from hub.model import ENTITY_MODELS
from hub.outbox import PlannedWrite, WritePlanner
from hub.ports import RecordRef, WriteOp


class IdentityError(HuitongError):
    """A merge or unmerge that cannot be done as asked (names what and why)."""


def _ref(text: str) -> RecordRef:
    try:
        return RecordRef.parse(text)
    except ValueError as exc:
        raise IdentityError(str(exc)) from None


class Identity:
    def __init__(self, survivorship: Survivorship, planner: WritePlanner | None = None) -> None:
        self.survivorship = survivorship
        self.planner = planner

    def _recompute(self, tx: Any, golden: GoldenRecord) -> dict[str, Any]:
        sources = tx.sources_of([golden.canonical_id]).get(golden.canonical_id, [])
        before = dict(golden.fields)
        golden.fields = self.survivorship.decide(golden.entity_type, sources, golden.pinned)
        golden.deleted = not sources or all(s.deleted for s in sources)
        golden.version += 1
        return diff(before, golden.fields)

    def _plan(self, tx: Any, goldens: list[GoldenRecord], run_id: str | None) -> None:
        if self.planner:
            ids = [g.canonical_id for g in goldens]
            self.planner.plan(tx, goldens, tx.sources_of(ids), run_id)

    def merge(self, tx: Any, survivor_id: str, merged_id: str, by: str, reason: str = "") -> str:
        survivor_id, merged_id = tx.resolve(survivor_id), tx.resolve(merged_id)
        if survivor_id == merged_id:
            raise IdentityError(f"{survivor_id} and {merged_id} are one golden record already")
        found = tx.goldens([survivor_id, merged_id])
        for cid in (survivor_id, merged_id):
            if cid not in found:
                raise IdentityError(f"no golden record {cid}")
        survivor, merged = found[survivor_id], found[merged_id]
        if survivor.entity_type is not merged.entity_type:
            raise IdentityError(
                f"{survivor_id} is a {survivor.entity_type.value}, {merged_id} a {merged.entity_type.value}"
            )
        # Decisions about either record or about one merged into either, such as a rejected
        # review of a record that was later merged into the survivor.
        owner = tx.absorbed([survivor_id, merged_id])
        decided = latest_decisions(tx.constraints(owner), owner)
        if decided.get(frozenset((survivor_id, merged_id))) == "cannot_link":
            raise IdentityError(
                f"{survivor_id} and {merged_id} were kept apart by a person (cannot-link)"
            )
        moved = [s.ref for s in tx.sources_of([merged_id]).get(merged_id, [])]
        system_merges = self._system_merges(tx, survivor, survivor_id, merged_id)
        snapshot = {
            "merged": merged_id,
            "merged_refs": [str(r) for r in moved],
            "merged_pinned": merged.pinned,
            "survivor_pinned": survivor.pinned,
        }
        tx.relink(moved, survivor_id)
        survivor.pinned = {**merged.pinned, **survivor.pinned}
        changes = self._recompute(tx, survivor)
        merged.redirect_to = survivor_id
        tx.save_goldens([], [survivor, merged])
        tx.add_constraint("must_link", survivor_id, merged_id, reason or "merged", by)
        tx.append_audit(
            [
                AuditEvent("golden.merged", {**snapshot, "changes": changes, "by": by, "reason": reason},
                           survivor_id),
                AuditEvent("golden.merged_away", {"into": survivor_id, "by": by}, merged_id),
            ]
        )  # fmt: skip
        self._plan(tx, [survivor], None)
        tx.enqueue_writes(system_merges, None)
        return survivor_id

    def _system_merges(
        self, tx: Any, survivor: GoldenRecord, survivor_id: str, merged_id: str
    ) -> list[PlannedWrite]:
        """Systems written to that hold a record of each now hold one customer twice: they are told
        to merge them, as their API allows (see ``WriteOp.MERGE``)."""
        if not self.planner:
            return []
        merges = []
        for target in self.planner.targets:
            if target.entity is not survivor.entity_type:
                continue
            held = tx.external_ids_of(target.system, [survivor_id, merged_id])
            keep, gone = (
                held.get((target.object, survivor_id)),
                held.get((target.object, merged_id)),
            )
            if keep is not None and gone is not None and keep.external_id != gone.external_id:
                merges.append(
                    PlannedWrite(target.system, target.object, survivor_id, WriteOp.MERGE,
                                 {"merged_into": keep.external_id}, "merge", gone.external_id)
                )  # fmt: skip
        return merges

    def unmerge(self, tx: Any, canonical_id: str, ref_text: str, by: str) -> str:
        """Split ``ref`` (and, for a merge, everything that came with it) off; returns its golden id."""
        canonical_id = tx.resolve(canonical_id)
        ref = _ref(ref_text)
        linked = {str(s.ref) for s in tx.sources_of([canonical_id]).get(canonical_id, [])}
        if str(ref) not in linked:
            raise IdentityError(f"{ref} is not linked to {canonical_id}")
        golden = tx.goldens([canonical_id])[canonical_id]
        history = tx.history(canonical_id)
        undone = {
            e["detail"].get("undid_merge_seq") for e in history if e["event"] == "golden.unmerged"
        }
        merge = next(
            (e for e in reversed(history) if e["event"] == "golden.merged"
             and str(ref) in e["detail"]["merged_refs"] and e["seq"] not in undone),
            None,
        )  # fmt: skip
        if merge is not None:
            detail = merge["detail"]
            other = tx.goldens([detail["merged"]])[detail["merged"]]
            back = [_ref(r) for r in detail["merged_refs"] if r in linked]
            other.redirect_to = None
            other.pinned = detail["merged_pinned"]
            golden.pinned = detail["survivor_pinned"]
        else:
            back = [ref]
            other = GoldenRecord(
                new_canonical_id(ENTITY_MODELS[golden.entity_type].id_prefix), golden.entity_type
            )
            tx.save_goldens([other], [])
        tx.relink(back, other.canonical_id)
        changes = self._recompute(tx, golden)
        split = self._recompute(tx, other)
        tx.save_goldens([], [golden, other])
        tx.add_constraint("cannot_link", canonical_id, other.canonical_id, f"unmerged {ref}", by)
        tx.append_audit(
            [
                AuditEvent("golden.unmerged", {"split_off": other.canonical_id, "records": [str(r) for r in back],
                           "undid_merge_seq": merge["seq"] if merge else None, "changes": changes, "by": by},
                           canonical_id),
                AuditEvent("golden.split_off", {"from": canonical_id, "records": [str(r) for r in back],
                           "changes": split, "by": by}, other.canonical_id),
            ]
        )  # fmt: skip
        self._plan(tx, [golden, other], None)
        return str(other.canonical_id)


def as_of(tx: Any, canonical_id: str, moment: datetime) -> dict[str, GoldenValue]:
    """The golden values of ``canonical_id`` as they stood at ``moment``, from the audit log."""
    fields: dict[str, GoldenValue] = {}
    for event in tx.history(canonical_id, until=moment):
        for name, change in event["detail"].get("changes", {}).items():
            if change.get("after") is None:
                fields.pop(name, None)
                continue
            src = change.get("src")
            at = change.get("at")
            fields[name] = GoldenValue(
                change["after"], _ref(src) if src else None,
                datetime.fromisoformat(at) if at else event["at"], change.get("rule") or "",
            )  # fmt: skip
    return fields
