"""Identity operations that move records between golden records: relink, redirect, constraints,
and the audit history a golden record is rebuilt from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.ports import RecordRef
from state.chunks import chunks
from state.tables import (
    audit_events,
    golden_records,
    identity_constraints,
    match_keys,
    source_records,
    xref,
)
from state.tables_matching import blocking_keys


class IdentityOps:
    conn: Connection

    def relink(self, refs: Sequence[RecordRef], canonical_id: str) -> None:
        """Point these source records (their rows, xref and match keys) at ``canonical_id``."""
        for ref in refs:
            where_source = sa.and_(
                source_records.c.system == ref.system,
                source_records.c.object == ref.object,
                source_records.c.external_id == ref.external_id,
            )
            self.conn.execute(
                sa.update(source_records).where(where_source).values(canonical_id=canonical_id)
            )
            self.conn.execute(
                sa.update(xref)
                .where(
                    xref.c.system == ref.system,
                    xref.c.object == ref.object,
                    xref.c.external_id == ref.external_id,
                )
                .values(canonical_id=canonical_id)
            )
            for index in (match_keys, blocking_keys):
                self.conn.execute(
                    sa.update(index)
                    .where(index.c.source_key == str(ref))
                    .values(canonical_id=canonical_id)
                )

    def set_redirect(self, canonical_id: str, target: str | None) -> None:
        self.conn.execute(
            sa.update(golden_records)
            .where(golden_records.c.canonical_id == canonical_id)
            .values(redirect_to=target, updated_at=datetime.now(UTC))
        )

    def add_constraint(self, kind: str, a: str, b: str, reason: str, decided_by: str) -> None:
        first, second = sorted([a, b])
        self.conn.execute(
            sa.insert(identity_constraints).values(
                kind=kind,
                a=first,
                b=second,
                reason=reason,
                decided_by=decided_by,
                at=datetime.now(UTC),
            )
        )

    def absorbed(self, canonical_ids: Iterable[str]) -> dict[str, str]:
        """Each of ``canonical_ids``, and every golden record merged into one of them (through
        chains of merges), → the one of ``canonical_ids`` it now belongs to."""
        owner = {cid: cid for cid in canonical_ids}
        frontier = list(owner)
        t = golden_records
        while frontier:
            found = [
                row
                for part in chunks(frontier)
                for row in self.conn.execute(
                    sa.select(t.c.canonical_id, t.c.redirect_to).where(t.c.redirect_to.in_(part))
                )
            ]
            frontier = []
            for cid, target in found:
                if cid not in owner:  # a cycle would otherwise loop for ever
                    owner[cid] = owner[target]
                    frontier.append(cid)
        return owner

    def merge_survivors(self) -> dict[str, str]:
        """Every golden record merged away → the live one it ended in (following chains)."""
        t = golden_records
        redirect = dict(
            self.conn.execute(
                sa.select(t.c.canonical_id, t.c.redirect_to).where(t.c.redirect_to.is_not(None))
            ).all()
        )
        final: dict[str, str] = {}
        for start in redirect:
            seen, current = {start}, redirect[start]
            while current in redirect and redirect[current] not in seen:
                seen.add(current)
                current = redirect[current]
            final[start] = current
        return final

    def constraints(self, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """(kind, a, b) for every constraint touching one of ``ids``, newest decision per pair last."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        t = identity_constraints
        rows = self.conn.execute(
            sa.select(t.c.kind, t.c.a, t.c.b)
            .where(sa.or_(t.c.a.in_(wanted), t.c.b.in_(wanted)))
            .order_by(t.c.id)
        )
        return [(r.kind, r.a, r.b) for r in rows]

    def history(self, canonical_id: str, until: datetime | None = None) -> list[dict[str, Any]]:
        """Audit events of one golden record, oldest first, up to ``until``."""
        t = audit_events
        query = sa.select(t).where(t.c.canonical_id == canonical_id).order_by(t.c.seq)
        if until is not None:
            query = query.where(t.c.at <= until)
        return [
            {"seq": r.seq, "at": r.at, "event": r.event, "source": f"{r.system}/{r.object}/{r.external_id}"
             if r.system else None, "detail": orjson.loads(r.detail)}
            for r in self.conn.execute(query)
        ]  # fmt: skip
