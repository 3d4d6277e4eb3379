"""The audit log is append-only and hash-chained: an edited or deleted event is detected."""

from __future__ import annotations

import sqlalchemy as sa

from hub.audit import AuditEvent
from state.store import SqlStore
from state.tables import audit_events, audit_head


def _append(store: SqlStore, n: int) -> None:
    with store.transaction() as tx:
        tx.append_audit(
            [
                AuditEvent(
                    "golden.updated",
                    {"changes": {"email": {"before": None, "after": f"a{i}@x.cn"}}},
                    canonical_id=f"per_{i:026d}",
                    system="crm",
                    object="contacts",
                    external_id=str(i),
                )
                for i in range(n)
            ]
        )


def test_intact_chain_verifies(store: SqlStore) -> None:
    _append(store, 5)
    _append(store, 3)
    report = store.verify_audit()
    assert report.ok, report.problems
    assert report.checked == 8


def test_edited_detail_is_detected(store: SqlStore) -> None:
    _append(store, 5)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(audit_events).where(audit_events.c.seq == 3).values(detail='{"changes":{}}')
        )
    report = store.verify_audit()
    assert not report.ok
    assert any("event 3" in p and "edited" in p for p in report.problems)


def test_deleted_middle_event_is_detected(store: SqlStore) -> None:
    _append(store, 5)
    with store.engine.begin() as conn:
        conn.execute(sa.delete(audit_events).where(audit_events.c.seq == 2))
    report = store.verify_audit()
    assert not report.ok
    assert any("missing" in p for p in report.problems)


def test_deleted_tail_is_detected(store: SqlStore) -> None:
    _append(store, 5)
    with store.engine.begin() as conn:
        conn.execute(sa.delete(audit_events).where(audit_events.c.seq >= 4))
    report = store.verify_audit()
    assert not report.ok
    assert any("head" in p for p in report.problems)


def test_rehashed_edit_still_breaks_the_next_link(store: SqlStore) -> None:
    """Someone who edits an event and recomputes its own hash still breaks the chain after it."""
    from hub.audit import chain_hash

    _append(store, 4)
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(audit_events).where(audit_events.c.seq == 2)).one()
        forged = chain_hash(
            row.prev_hash,
            row.seq,
            row.at,
            row.event,
            row.canonical_id,
            row.system,
            row.object,
            row.external_id,
            row.run_id,
            '{"forged":true}',
        )
        conn.execute(
            sa.update(audit_events)
            .where(audit_events.c.seq == 2)
            .values(detail='{"forged":true}', hash=forged)
        )
    report = store.verify_audit()
    assert not report.ok
    assert any("event 3" in p for p in report.problems)


def test_head_moves_with_every_append(store: SqlStore) -> None:
    _append(store, 2)
    _append(store, 2)
    with store.engine.connect() as conn:
        head = conn.execute(sa.select(audit_head)).one()
        last = conn.execute(
            sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)
        ).one()
    assert head.seq == 4
    assert head.hash == last.hash
