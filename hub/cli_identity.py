"""``huitong dedupe`` and ``huitong review``: the batch match pass and the review queue.

Registered on the main app by ``hub.cli``; shares its consoles, exit codes and config handling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hub.model import EntityType

review_app = typer.Typer(
    help="Uncertain matches: pairs scored between the thresholds. A person links or rejects.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The configuration file.", envvar="HUITONG_CONFIG")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ByOption = Annotated[str, typer.Option(help="Who decided, for the audit log.", envvar="USER")]
_ENTITIES = {e.value.lower(): e for e in EntityType}


def _entity(name: str) -> EntityType:
    from hub.cli import EXIT_CONFIG, err

    found = _ENTITIES.get(name.lower())
    if found is None:
        err.print(f"[red]✗[/red] --entity {name!r}: one of {', '.join(_ENTITIES)}")
        raise typer.Exit(EXIT_CONFIG)
    return found


def dedupe(
    config: ConfigOption = Path("huitong.yaml"),
    entity: Annotated[
        list[str] | None,
        typer.Option("--entity", "-e", help="person, company or employee (default: all)."),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply/--dry-run",
            help="Merge what the clusters join and queue the uncertain pairs for review.",
        ),
    ] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes comparing pairs.")] = 2,
    by: ByOption = "dedupe",
    as_json: JsonOption = False,
) -> None:
    """Match every stored record against every other: train the scorer on your data, report the
    clusters, and store the model and blocking index so incremental syncs match the same way.
    `--apply` merges (each merge audited and undoable with `huitong unmerge`)."""
    from hub.bootstrap import open_hub
    from hub.cli import (
        EXIT_OK,
        EXIT_PARTIAL,
        RichReporter,
        _config_errors,
        _print_json,
        err,
        out,
        progress_bar,
    )
    from hub.golden import Survivorship
    from hub.identity.dedupe_job import run_dedupe
    from hub.identity.merging import Identity
    from hub.ids import new_run_id

    chosen = [_entity(e) for e in entity] if entity else list(EntityType)
    with _config_errors():
        hub = open_hub(config)
        configs = {e: hub.settings.match.for_entity(e) for e in chosen}
    identity = Identity(
        Survivorship(hub.settings.survivorship, hub.settings.system_priority()), hub.planner()
    )
    run_id = new_run_id()
    hub.store.start_run(run_id, "dedupe", [e.value for e in chosen], "cli")
    reports = []
    try:
        with progress_bar(err) as progress:
            reporter = RichReporter(progress)
            for e in chosen:
                task = progress.add_task(f"dedupe {e.value}", total=None)

                def phase(text: str, task: Any = task, e: EntityType = e) -> None:
                    progress.update(task, description=f"dedupe {e.value}: {text}")

                report = run_dedupe(
                    hub.store, e, configs[e], identity, apply, by, workers, run_id, reporter,
                    on_phase=phase,
                )  # fmt: skip
                progress.update(task, description=f"dedupe {e.value}: done", total=1, completed=1)
                reports.append(report.as_dict())
    except Exception as exc:
        hub.store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
        hub.close()
        raise
    refused = sum(len(r["refused"]) for r in reports)
    status = "partial" if refused else "succeeded"
    hub.store.finish_run(run_id, status, None, {"dedupe": reports})
    if apply:
        hub.dispatcher().dispatch()
    hub.close()
    if as_json:
        _print_json({"run_id": run_id, "status": status, "entities": reports})
    else:
        for r in reports:
            out.print(
                f"[bold]{r['entity']}[/bold]: {r['records']:,} records in "
                f"{r['golden_records_before']:,} golden records; {r['clustering'].get('pairs_compared', 0):,} "
                f"pairs compared; clusters join {r['golden_records_joined']:,} golden records "
                f"into {r['groups']:,}"
            )
            for group in r["sample_groups"][:5]:
                out.print("  " + " + ".join(group))
            if r["applied"]:
                out.print(
                    f"  merged {r['merged']:,}; {r['reviews_queued']:,} pairs queued for review"
                    + (f"; {len(r['refused'])} merges refused" if r["refused"] else "")
                )
            elif r["groups"] or r["review_pairs"]:
                out.print(
                    f"  dry run: nothing merged ({r['review_pairs']:,} uncertain pairs); "
                    "run with --apply to merge and queue them for review"
                )
            if r["records"] >= 2:
                out.print(
                    f"  model stored and blocking index rebuilt ({r['index_keys']:,} keys): "
                    "incremental syncs now score what no key links"
                )
    raise typer.Exit(EXIT_PARTIAL if refused else EXIT_OK)


def _row(review: Any) -> dict[str, Any]:
    return {
        "id": review.id,
        "entity": review.entity_type.value,
        "a": review.a,
        "b": review.b,
        "a_source": review.a_source,
        "b_source": review.b_source,
        "probability": review.probability,
        "weight": review.weight,
        "origin": review.origin,
        "status": review.status,
        "created_at": review.created_at,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at,
        "note": review.note,
        "detail": review.detail,
    }


@review_app.command("list")
def review_list(
    config: ConfigOption = Path("huitong.yaml"),
    status: Annotated[str, typer.Option(help="open, linked, rejected, stale or all.")] = "open",
    entity: Annotated[str | None, typer.Option("--entity", "-e")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Pairs waiting for a decision, most likely first."""
    from hub.bootstrap import open_store
    from hub.cli import _config_errors, _print_json, out

    chosen = _entity(entity) if entity else None
    with _config_errors():
        _settings, store = open_store(config)
    with store.transaction() as tx:
        found = tx.reviews(None if status == "all" else status, chosen, limit)
        names = {
            cid: _name(g)
            for cid, g in tx.goldens({r.a for r in found} | {r.b for r in found}).items()
        }
        counts = tx.count_reviews()
    store.close()
    if as_json:
        _print_json({"reviews": [_row(r) for r in found], "counts": counts})
        return
    table = Table(
        title=f"reviews ({status}): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    for column in ("id", "p", "entity", "a", "b", "origin", "status"):
        table.add_column(column)
    for r in found:
        table.add_row(
            str(r.id), f"{r.probability:.3f}", r.entity_type.value,
            escape(f"{r.a} {names.get(r.a, '')}"), escape(f"{r.b} {names.get(r.b, '')}"),
            r.origin, r.status,
        )  # fmt: skip
    out.print(table)


def _name(golden: Any) -> str:
    values = golden.values()
    return str(values.get("full_name") or values.get("name") or "")


@review_app.command("show")
def review_show(
    review_id: int,
    config: ConfigOption = Path("huitong.yaml"),
    as_json: JsonOption = False,
) -> None:
    """The two golden records side by side, with each compared field's level and weight."""
    from hub.bootstrap import open_store
    from hub.cli import EXIT_NOT_FOUND, _config_errors, _print_json, err, out

    with _config_errors():
        settings, store = open_store(config)
    with store.transaction() as tx:
        review = tx.review(review_id)
        if review is None:
            store.close()
            err.print(f"[red]✗[/red] no review {review_id}")
            raise typer.Exit(EXIT_NOT_FOUND)
        goldens = tx.goldens([review.a, review.b])
        compared = tx.source_values([review.a_source, review.b_source])
    store.close()
    spec = {c.name: c.fields for c in settings.match.for_entity(review.entity_type).comparisons}
    a_values = goldens[review.a].values() if review.a in goldens else {}
    b_values = goldens[review.b].values() if review.b in goldens else {}
    a_source = compared.get(review.a_source, ("", {}))[1]
    b_source = compared.get(review.b_source, ("", {}))[1]
    levels = review.detail.get("levels", {})
    weights = review.detail.get("contributions", {})
    if as_json:
        _print_json(
            {**_row(review), "a_values": a_values, "b_values": b_values,
             "a_source_values": a_source, "b_source_values": b_source,
             "comparisons": {name: {"fields": list(fields), "level": levels.get(name, "missing"),
                                    "weight": weights.get(name, 0.0)} for name, fields in spec.items()}}
        )  # fmt: skip
        return
    out.print(
        f"review {review.id} ({review.status}, {review.origin}): {review.entity_type.value}, "
        f"p={review.probability:.4f}, weight {review.weight:+.2f}"
    )
    if review.detail.get("rule") == "deterministic":
        out.print("the record's keys point at both: " + ", ".join(review.detail.get("keys", [])))
    if "conflict" in review.detail:
        out.print(f"[yellow]strong identifier conflict: {review.detail['conflict']}[/yellow]")
    table = Table()
    table.add_column("compared")
    table.add_column(f"{review.a_source}\n({review.a})")
    table.add_column(f"{review.b_source}\n({review.b})")
    table.add_column("level")
    table.add_column("weight", justify="right")
    for name, fields in spec.items():
        left = " / ".join(str(a_source[f]) for f in fields if a_source.get(f))
        right = " / ".join(str(b_source[f]) for f in fields if b_source.get(f))
        if not left and not right:
            continue
        weight = weights.get(name, 0.0)
        colour = "green" if weight > 0 else "red" if weight < 0 else "dim"
        table.add_row(name, escape(left or "—"), escape(right or "—"), levels.get(name, "missing"),
                      f"[{colour}]{weight:+.2f}[/{colour}]")  # fmt: skip
    out.print(table)
    other = sorted((set(a_values) | set(b_values)) - {f for fs in spec.values() for f in fs})
    for name in other:
        mine, theirs = a_values.get(name), b_values.get(name)
        if mine or theirs:
            out.print(f"  {name}: {escape(str(mine or '—'))} | {escape(str(theirs or '—'))}")
    out.print(f"decide: huitong review link {review.id}  |  huitong review reject {review.id}")


def _settle(config: Path, review_ids: list[int], decision: str, by: str, note: str) -> None:
    """Settle each review in its own transaction, as `link` or `reject`."""
    from hub.cli import _identity_action, out
    from hub.identity import review

    for review_id in review_ids:
        outcome = _identity_action(
            config,
            lambda identity, tx, rid=review_id: (
                review.link(tx, identity, rid, by, note)
                if decision == "link"
                else review.reject(tx, rid, by, note)
            ),
        )
        r = outcome.review
        if outcome.status == "stale":
            out.print(f"review {review_id}: the two are one already ({outcome.survivor}); settled")
        elif outcome.status == "linked":
            out.print(f"review {review_id}: linked into {outcome.survivor}")
        else:
            out.print(f"review {review_id}: {r.a} and {r.b} kept apart from now on")


ReviewIds = Annotated[list[int], typer.Argument(help="One or more review ids.")]
NoteOption = Annotated[str, typer.Option(help="Why, for the audit log.")]


@review_app.command("link")
def review_link(
    review_ids: ReviewIds,
    config: ConfigOption = Path("huitong.yaml"),
    note: NoteOption = "",
    by: ByOption = "cli",
) -> None:
    """They are one customer: merge the two golden records (undo with `huitong unmerge`)."""
    _settle(config, review_ids, "link", by, note)


@review_app.command("reject")
def review_reject(
    review_ids: ReviewIds,
    config: ConfigOption = Path("huitong.yaml"),
    note: NoteOption = "",
    by: ByOption = "cli",
) -> None:
    """Two different customers: they are kept apart from now on (a cannot-link constraint)."""
    _settle(config, review_ids, "reject", by, note)
