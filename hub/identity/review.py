"""The review queue: pairs the matcher scored between its thresholds, settled by a person.

``link`` merges the two golden records (``Identity.merge``: undoable with ``unmerge``, and it keeps a
must-link constraint); ``reject`` keeps a cannot-link constraint, which the incremental matcher, the
batch dedupe and ``merge`` all honour. Both are audited on both golden records. A pair whose records
were merged or split since it was queued is settled as ``stale`` rather than acted on blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.audit import AuditEvent
from hub.identity.merging import Identity, IdentityError
from hub.ports import ReviewRow


class ReviewError(IdentityError):
    """A review that cannot be settled as asked (names which and why)."""


@dataclass(slots=True)
class ReviewOutcome:
    review: ReviewRow
    status: str
    survivor: str | None = None


def _open(tx: Any, review_id: int) -> ReviewRow:
    review: ReviewRow | None = tx.review(review_id)
    if review is None:
        raise ReviewError(f"no review {review_id}")
    if review.status != "open":
        raise ReviewError(
            f"review {review_id} was settled already ({review.status}"
            + (f" by {review.decided_by}" if review.decided_by else "")
            + ")"
        )
    return review


def _stale(tx: Any, review: ReviewRow, by: str) -> ReviewOutcome | None:
    """Either side merged away into the other, or gone: nothing left to decide."""
    a, b = tx.resolve(review.a), tx.resolve(review.b)
    if a == b:
        tx.settle_review(review.id, "stale", by, f"{review.a} and {review.b} are one already ({a})")
        return ReviewOutcome(review, "stale", a)
    return None


def _survivor(tx: Any, a: str, b: str) -> tuple[str, str]:
    """The golden record with more source records stays (fewer ids change in the systems); on a
    tie the older id."""
    sources = tx.sources_of([a, b])
    ranked = sorted((a, b), key=lambda cid: (-len(sources.get(cid, [])), cid))
    return ranked[0], ranked[1]


def link(tx: Any, identity: Identity, review_id: int, by: str, note: str = "") -> ReviewOutcome:
    review = _open(tx, review_id)
    stale = _stale(tx, review, by)
    if stale is not None:
        return stale
    survivor, merged = _survivor(tx, tx.resolve(review.a), tx.resolve(review.b))
    reason = f"review #{review.id} (p={review.probability:.4f})" + (f": {note}" if note else "")
    kept = identity.merge(tx, survivor, merged, by, reason)
    tx.settle_review(review.id, "linked", by, note or None)
    tx.append_audit(
        [_event("review.linked", review, by, note, kept, cid) for cid in (kept, merged)]
    )
    return ReviewOutcome(review, "linked", kept)


def reject(tx: Any, review_id: int, by: str, note: str = "") -> ReviewOutcome:
    review = _open(tx, review_id)
    stale = _stale(tx, review, by)
    if stale is not None:
        return stale
    a, b = tx.resolve(review.a), tx.resolve(review.b)
    reason = f"review #{review.id} rejected" + (f": {note}" if note else "")
    tx.add_constraint("cannot_link", a, b, reason, by)
    tx.settle_review(review.id, "rejected", by, note or None)
    tx.append_audit([_event("review.rejected", review, by, note, None, cid) for cid in (a, b)])
    return ReviewOutcome(review, "rejected")


def _event(
    kind: str, review: ReviewRow, by: str, note: str, survivor: str | None, cid: str
) -> AuditEvent:
    detail: dict[str, Any] = {
        "review": review.id,
        "pair": [review.a, review.b],
        "sources": [review.a_source, review.b_source],
        "probability": review.probability,
        "by": by,
    }
    if note:
        detail["note"] = note
    if survivor:
        detail["survivor"] = survivor
    return AuditEvent(kind, detail, cid)
