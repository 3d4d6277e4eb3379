"""Answers "why is this value here?": for each field of a golden record, every linked source's value,
when it changed there, the rule that decided and the winner; for each link, the keys that made it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from hub.golden import Survivorship
from hub.model import EntityType
from hub.settings import Settings


def run_to_dict(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "trigger": run.trigger,
        "systems": run.systems,
        "status": run.status,
        "counts": run.counts,
        "error": run.error,
        "report": run.report,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def status(store: Any, settings: Settings | None = None) -> dict[str, Any]:
    """Counts, cursors, the last run and how each entity type is matched. With ``settings``, a
    stored model counts only if trained for the configured comparisons (and this version's
    comparators); otherwise matching is deterministic until `huitong dedupe` trains again."""
    with store.transaction() as tx:
        goldens = tx.count_goldens()
        cursors = tx.cursors()
        models = tx.match_models_trained()
        reviews = tx.count_reviews()
    last = store.runs(1)
    return {
        "database": store.describe(),
        "golden_records": goldens,
        "cursors": cursors,
        "last_run": run_to_dict(last[0]) if last else None,
        # Entity types scored probabilistically (a model trained by `huitong dedupe`); the others
        # are matched on deterministic keys only.
        "matching": {
            entity: {
                "model_trained_at": at.isoformat(),
                "trained_on_records": n,
                "current": settings is None or _model_is_current(settings, entity, fingerprint),
            }
            for entity, (at, n, fingerprint) in sorted(models.items())
        },
        "reviews_open": reviews.get("open", 0),
    }


def _model_is_current(settings: Settings, entity: str, fingerprint: str) -> bool:
    from hub.identity.probabilistic import config_fingerprint

    try:
        kind = EntityType(entity)
    except ValueError:
        return False
    return fingerprint == config_fingerprint(settings.match.for_entity(kind))


def explain(
    store: Any, settings: Settings, canonical_id: str, only: str | None
) -> dict[str, Any] | None:
    with store.transaction() as tx:
        resolved = tx.resolve(canonical_id)
        golden = tx.goldens([resolved]).get(resolved)
        if golden is None:
            return None
        sources = tx.sources_of([resolved]).get(resolved, [])
        links = tx.xref_of(resolved)
        history = tx.audit_for(resolved, limit=50)
    survivorship = Survivorship(settings.survivorship, settings.system_priority())
    names = sorted({*golden.fields, *(k for s in sources for k in s.values)})
    fields = []
    for name in names:
        if only and name != only:
            continue
        winner = golden.fields.get(name)
        rule = survivorship.settings.rule_for(golden.entity_type, name)
        fields.append(
            {
                "field": name,
                "value": winner.value if winner else None,
                "source": str(winner.source) if winner and winner.source else None,
                "changed_at": winner.changed_at.isoformat()
                if winner and winner.changed_at
                else None,
                "rule": winner.rule if winner else rule.rule,
                "rule_systems": rule.systems or survivorship.system_order,
                "candidates": [
                    {
                        "source": str(s.ref),
                        "value": s.values.get(name),
                        "changed_at": s.changed_at(name).isoformat(),
                        "deleted": s.deleted,
                        "location": s.location,
                    }
                    for s in sources
                    if name in s.values
                ],
            }
        )
    return {
        "canonical_id": resolved,
        "requested_id": canonical_id,
        "entity_type": golden.entity_type.value,
        "version": golden.version,
        "deleted": golden.deleted,
        "fields": fields,
        "links": [
            {"source": str(ref), "reason": json.loads(reason), "linked_at": at.isoformat()}
            for ref, reason, at in links
        ],
        "history": history,
    }


def explain_as_of(
    store: Any, canonical_id: str, moment: datetime, only: str | None
) -> dict[str, Any] | None:
    """The golden values as they stood at ``moment``, rebuilt from the audit log."""
    from hub.identity.merging import as_of

    with store.transaction() as tx:
        resolved = tx.resolve(canonical_id)
        golden = tx.goldens([resolved]).get(resolved)
        if golden is None:
            return None
        fields = as_of(tx, resolved, moment)
    return {
        "canonical_id": resolved,
        "requested_id": canonical_id,
        "entity_type": golden.entity_type.value,
        "as_of": moment.isoformat(),
        "version": None,
        "deleted": False,
        "fields": [
            {"field": name, "value": gv.value, "source": str(gv.source) if gv.source else None,
             "changed_at": gv.changed_at.isoformat() if gv.changed_at else None, "rule": gv.rule,
             "rule_systems": [], "candidates": []}
            for name, gv in sorted(fields.items()) if not only or name == only
        ],
        "links": [],
        "history": [],
    }  # fmt: skip


def render(console: Console, data: dict[str, Any]) -> None:
    head = f"[bold]{data['entity_type']} {data['canonical_id']}[/bold] (version {data['version']})"
    if data["requested_id"] != data["canonical_id"]:
        head += f" — {data['requested_id']} was merged into it"
    if data["deleted"]:
        head += " — deleted in every source"
    console.print(head)
    for f in data["fields"]:
        rule = f["rule"]
        if rule == "priority":
            rule += f" ({' > '.join(f['rule_systems'])})"
        value = "—" if f["value"] is None else str(f["value"])
        console.print(
            f"  [bold]{f['field']}[/bold] = [green]{escape(value)}[/green]  [dim]by {rule}[/dim]"
        )
        for c in f["candidates"]:
            mark = "✓" if c["source"] == f["source"] else "·"
            gone = " (deleted)" if c["deleted"] else ""
            console.print(
                f"      {mark} {escape(str(c['value']))}  [dim]{c['source']} @ {c['changed_at'][:19]}{gone}[/dim]"
            )
    for link in data["links"]:
        console.print(f"  linked {link['source']} — {escape(describe_link(link['reason']))}")


def describe_link(reason: dict[str, Any]) -> str:
    """One line on what made a link: the keys, the hint, or the score and what each field brought."""
    rule = reason.get("rule")
    if rule == "new":
        why = "first record of this entity"
        if "review" in reason:
            queued = reason["review"]
            why += (
                f"; near {queued['candidate']} (p={queued['probability']:.3f}), queued for review"
            )
        return why
    if rule in ("probabilistic", "review", "dedupe") and "probability" in reason:
        fields = ", ".join(
            f"{name} {reason.get('levels', {}).get(name, '')} {weight:+.1f}"
            for name, weight in sorted(
                reason.get("contributions", {}).items(), key=lambda item: -abs(item[1])
            )
        )
        return f"{rule} (p={reason['probability']:.4f}, matched {reason.get('matched')}): {fields}"
    if rule == "id_hint":
        return f"id hint: carries {reason.get('hint')}"
    return f"{rule}: " + ", ".join(reason.get("keys", []))
