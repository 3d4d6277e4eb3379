"""The ``huitong`` command line: Typer for the commands, Rich for people, ``--json`` for scripts.

Results go to stdout, logs and progress to stderr. Exit codes scripts can rely on:

==  ==========================================================================
0   success
1   done, but partly: records were rejected or one of several systems failed
2   the configuration or the command line is wrong (nothing was done)
3   the run failed: no system could be synced, or a check failed
4   the audit log does not verify (edited or deleted events)
5   not found (an unknown canonical id or run id)
==  ==========================================================================
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hub import explain as explain_mod
from hub.errors import ConfigError
from hub.starter import STARTER_CONFIG

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_FAILED, EXIT_AUDIT, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5

app = typer.Typer(
    name="huitong",
    help="Huitong (汇通): keep companies, contacts and owners consistent across your systems.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(
    help="Sync runs: list them, or show one with its errors.", invoke_without_command=True
)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: writes that failed for good. List, show, replay, discard.",
    no_args_is_help=True,
)
app.add_typer(runs_app, name="runs")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@app.callback()
def _logging() -> None:
    """Logs go to stderr, never to stdout (where results and --json go): JSON lines, or readable
    lines when stderr is a terminal. The level is HUITONG_LOG_LEVEL (WARNING by default; `serve`
    and `worker` log at INFO)."""
    import os

    from hub.observability import configure_logging

    configure_logging(os.environ.get("HUITONG_LOG_LEVEL", "WARNING"))


ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", envvar="HUITONG_CONFIG", help="The configuration file.", show_default=True
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def _config_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        err.print(f"[red]✗[/red] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None


class RichReporter:
    """Shows the engine's progress as Rich progress bars on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def started(self, task: str, total: int | None = None) -> None:
        self.tasks[task] = self.progress.add_task(task, total=total)

    def advanced(self, task: str, by: int = 1) -> None:
        self.progress.advance(self.tasks[task], by)

    def finished(self, task: str) -> None:
        done = self.progress.tasks[self.tasks[task]].completed
        self.progress.update(self.tasks[task], total=done, completed=done)

    def message(self, text: str) -> None:
        self.progress.console.print(text)


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def init(
    config: ConfigOption = Path("huitong.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter configuration."""
    if config.exists() and not force:
        err.print(f"{config} exists already; use --force to overwrite it")
        raise typer.Exit(EXIT_CONFIG)
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    out.print(f"wrote {config}: edit it, then run `huitong check -c {config}`")


@app.command()
def check(config: ConfigOption = Path("huitong.yaml"), as_json: JsonOption = False) -> None:
    """Validate the configuration and check each system's reachability (changes nothing)."""
    from hub.bootstrap import open_hub

    with _config_errors():
        hub = open_hub(config, migrate=False)
    results: list[dict[str, Any]] = []
    for name, connector in hub.connectors.items():
        result = connector.check()
        results.append(
            {
                "system": name,
                "ok": result.ok,
                "detail": result.detail,
                "checks": [list(c) for c in result.checks],
            }
        )
    hub.close()
    ok = all(r["ok"] for r in results)
    if as_json:
        _print_json({"config": str(config), "ok": ok, "systems": results})
    else:
        out.print(f"[green]✓[/green] configuration {config} is valid")
        for r in results:
            mark = "[green]✓[/green]" if r["ok"] else "[red]✗[/red]"
            out.print(f"{mark} {r['system']}: {r['detail']}")
            for name, passed, detail in r["checks"]:
                out.print(f"    {'✓' if passed else '✗'} {name}: {detail}")
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


@app.command()
def sync(
    config: ConfigOption = Path("huitong.yaml"),
    system: Annotated[
        list[str] | None, typer.Option("--system", "-s", help="Only these systems.")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read everything, ignoring cursors.")
    ] = False,
    dispatch: Annotated[
        bool, typer.Option("--dispatch/--no-dispatch", help="Send queued writes after reading.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Read every configured system (incrementally by default) into the golden records, then send
    the writes the changes queued to the systems that take them."""
    from hub.bootstrap import open_hub

    with _config_errors():
        hub = open_hub(config)
        unknown = [s for s in system or [] if s not in hub.settings.systems]
        if unknown:
            raise ConfigError(
                f"--system {', '.join(unknown)}: not in the configuration", str(config)
            )
    with progress_bar(err) as progress:
        summary = hub.engine(RichReporter(progress)).sync(system, full=full)
    sent = hub.dispatcher().dispatch() if dispatch else None
    writes = dict(sent.counts) if sent else {}
    if sent is not None and sent.failures:
        summary.failures.update({f"{s} (writes)": m for s, m in sent.failures.items()})
        summary.status = "partial" if summary.status == "succeeded" else summary.status
    goldens = _golden_counts(hub)
    hub.close()
    if as_json:
        _print_json(
            {
                "run_id": summary.run_id,
                "status": summary.status,
                "counts": dict(summary.counts),
                "writes": writes,
                "failures": summary.failures,
                "golden_records": goldens,
                "seconds": round(summary.seconds, 3),
            }
        )
    else:
        _print_summary(summary, goldens)
        if writes:
            out.print("writes sent: " + ", ".join(f"{k} {v:,}" for k, v in sorted(writes.items())))
        if writes.get("dead"):
            out.print("[red]some writes failed for good[/red]: see `huitong dlq list`")
    raise typer.Exit(_exit_for(summary.status))


def _golden_counts(hub: Any) -> dict[str, int]:
    with hub.store.transaction() as tx:
        return dict(tx.count_goldens())


def _exit_for(status: str) -> int:
    return {"succeeded": EXIT_OK, "partial": EXIT_PARTIAL}.get(status, EXIT_FAILED)


def _print_summary(summary: Any, goldens: dict[str, int]) -> None:
    c = summary.counts
    table = Table(
        title=f"run {summary.run_id} — {summary.status}", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("records read", c["read"]),
        ("rejected", c["rejected"]),
        ("field warnings (value dropped, record kept)", c["warnings"]),
        ("unchanged (already applied)", c["unchanged"]),
        ("new golden records", c["created"]),
        ("linked to an existing golden record", c["linked"]),
        ("golden records updated", c["updated"]),
        ("conflicts recorded", c["conflicts"]),
        ("deleted", c["deleted"]),
    ]
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    for etype, count in sorted(goldens.items()):
        table.add_row(f"golden {etype} records", f"{count:,}")
    table.add_row("seconds", f"{summary.seconds:.2f}")
    out.print(table)
    for system, message in summary.failures.items():
        out.print(f"[red]✗ {system}[/red]: {message}")
    if summary.rejection_samples:
        out.print(
            f"[yellow]rejected (first few; all in `huitong runs show {summary.run_id}`):[/yellow]"
        )
        for line in summary.rejection_samples[:8]:
            out.print(f"  {line}")


@app.command()
def status(config: ConfigOption = Path("huitong.yaml"), as_json: JsonOption = False) -> None:
    """Golden record counts, cursors and the last run."""
    from hub.bootstrap import open_store

    with _config_errors():
        settings, store = open_store(config)
    info = explain_mod.status(store, settings)
    store.close()
    if as_json:
        _print_json(info)
        return
    out.print(f"database: {info['database']}")
    for etype, count in sorted(info["golden_records"].items()):
        out.print(f"golden {etype}: {count:,}")
    for cur in info["cursors"]:
        out.print(f"cursor {cur['system']}/{cur['object']}: updated {cur['updated_at']}")
    if info["matching"]:
        for etype, model in info["matching"].items():
            if not model["current"]:
                out.print(
                    f"matching {etype}: deterministic keys only: the stored model was trained for"
                    " other comparisons or an earlier version (`huitong dedupe` trains it again)"
                )
                continue
            out.print(
                f"matching {etype}: scored (model of {model['trained_on_records']:,} records, "
                f"{model['model_trained_at'][:19]})"
            )
    else:
        out.print("matching: deterministic keys only (`huitong dedupe` trains the scorer)")
    if info["reviews_open"]:
        out.print(f"reviews open: {info['reviews_open']:,} (`huitong review list`)")
    if info["last_run"]:
        r = info["last_run"]
        out.print(f"last run {r['id']} ({r['kind']}) {r['status']} at {r['started_at']}")


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    config: ConfigOption = Path("huitong.yaml"),
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recent runs, newest first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"config": config, "json": as_json}
        return
    from hub.bootstrap import open_store

    with _config_errors():
        _, store = open_store(config)
    rows = store.runs(limit)
    store.close()
    if as_json:
        _print_json([explain_mod.run_to_dict(r) for r in rows])
        return
    table = Table(
        "run", "kind", "status", "started", "seconds", "read", "rejected", "created", "linked"
    )
    for r in rows:
        seconds = f"{(r.finished_at - r.started_at).total_seconds():.1f}" if r.finished_at else "…"
        table.add_row(
            r.id,
            r.kind,
            r.status,
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            seconds,
            str(r.counts.get("read", 0)),
            str(r.counts.get("rejected", 0)),
            str(r.counts.get("created", 0)),
            str(r.counts.get("linked", 0)),
        )
    out.print(table)


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: str,
    config: ConfigOption = Path("huitong.yaml"),
    as_json: JsonOption = False,
) -> None:
    """One run: its counts and every rejected record with where and why."""
    from hub.bootstrap import open_store

    parent = ctx.obj or {}
    config = parent.get("config", config) if config == Path("huitong.yaml") else config
    as_json = as_json or bool(parent.get("json"))
    with _config_errors():
        _, store = open_store(config)
    run = store.run(run_id)
    if run is None:
        store.close()
        err.print(f"no run {run_id}")
        raise typer.Exit(EXIT_NOT_FOUND)
    errors = store.errors(run_id)
    store.close()
    data = explain_mod.run_to_dict(run) | {"errors": [dataclasses.asdict(e) for e in errors]}
    if as_json:
        _print_json(data)
        return
    out.print(f"run {run.id}: {run.kind}, {run.status}, started {run.started_at.isoformat()}")
    if run.report:
        out.print_json(data=run.report)
    if run.error:
        out.print(f"[red]{run.error}[/red]")
    for key, value in sorted(run.counts.items()):
        out.print(f"  {key}: {value:,}")
    for e in errors:
        out.print(
            f"  [{'red' if e.severity == 'rejected' else 'yellow'}]{e.severity}[/] "
            f"{e.system}/{e.object} {e.location}: {e.reason}"
        )


@audit_app.command("verify")
def audit_verify(config: ConfigOption = Path("huitong.yaml"), as_json: JsonOption = False) -> None:
    """Check the audit log's hash chain: any edited or deleted event is reported."""
    from hub.bootstrap import open_store

    with _config_errors():
        _, store = open_store(config)
    report = store.verify_audit()
    store.close()
    if as_json:
        _print_json({"ok": report.ok, "checked": report.checked, "problems": report.problems})
    elif report.ok:
        out.print(f"[green]✓[/green] audit log verified: {report.checked:,} events, chain intact")
    else:
        out.print(f"[red]✗ audit log does not verify[/red] ({report.checked:,} events checked)")
        for problem in report.problems:
            out.print(f"  {problem}")
    raise typer.Exit(EXIT_OK if report.ok else EXIT_AUDIT)


@app.command()
def explain(
    canonical_id: str,
    field: Annotated[str | None, typer.Argument(help="Only this field.")] = None,
    config: ConfigOption = Path("huitong.yaml"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Show the golden values as they were then (ISO time)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Why each value of a golden record is what it is: candidates, sources, times, rule, winner."""
    from hub.bootstrap import open_store

    moment = None
    if as_of is not None:
        from hub.normalize import InvalidValue, parse_datetime

        try:
            moment = parse_datetime(as_of, "UTC")
        except InvalidValue as exc:
            err.print(f"--as-of: {exc}")
            raise typer.Exit(EXIT_CONFIG) from None
    with _config_errors():
        settings, store = open_store(config)
    data = (
        explain_mod.explain(store, settings, canonical_id, field)
        if moment is None
        else explain_mod.explain_as_of(store, canonical_id, moment, field)
    )
    store.close()
    if data is None:
        err.print(f"no golden record {canonical_id}")
        raise typer.Exit(EXIT_NOT_FOUND)
    if as_json:
        _print_json(data)
        return
    explain_mod.render(out, data)


@app.command()
def reconcile(
    config: ConfigOption = Path("huitong.yaml"),
    system: Annotated[
        list[str] | None, typer.Option("--system", "-s", help="Only these systems.")
    ] = None,
    dispatch: Annotated[
        bool, typer.Option("--dispatch/--no-dispatch", help="Send the repair writes at once.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Compare every system with the golden records and the xref, repair drift, and report."""
    from hub.bootstrap import open_hub
    from hub.reconcile import Reconciler

    with _config_errors():
        hub = open_hub(config)
    with progress_bar(err) as progress:
        reconciler = Reconciler(hub.settings, hub.store, hub.connectors, hub.mappers, hub.planner())
        reconciler.engine.reporter = RichReporter(progress)
        summary = reconciler.run(system)
    sent = hub.dispatcher().dispatch() if dispatch else None
    run = hub.store.run(summary.run_id)
    hub.close()
    report = (run.report if run else None) or {}
    if as_json:
        _print_json({"run_id": summary.run_id, "status": summary.status, "counts": dict(summary.counts),
                     "writes": dict(sent.counts) if sent else {}, "report": report})  # fmt: skip
    else:
        out.print(f"reconcile {summary.run_id}: {summary.status}")
        for system_name, objects in report.get("systems", {}).items():
            for obj, found in objects.items():
                if isinstance(found, dict):
                    out.print(f"  {system_name}/{obj}: read {found['read']:,}, applied "
                              f"{found['new_or_changed_applied']:,} missed changes, "
                              f"{found['deleted_in_system']:,} deleted there without notice")  # fmt: skip
        for target, found in report.get("writes", {}).items():
            out.print(f"  {target}: {found['writes_queued']:,} repair writes queued")
        for item in report.get("needs_a_person", []):
            out.print(f"  [yellow]needs a person[/yellow]: {item['canonical_id']} has "
                      f"{len(item['records'])} records in {item['system']}/{item['object']}: "
                      f"{', '.join(item['records'])}")  # fmt: skip
        if sent and sent.counts:
            out.print(
                "writes sent: " + ", ".join(f"{k} {v:,}" for k, v in sorted(sent.counts.items()))
            )
    raise typer.Exit(_exit_for(summary.status))


@app.command()
def worker(
    config: ConfigOption = Path("huitong.yaml"),
    poll: Annotated[float, typer.Option(help="Seconds between passes over the queues.")] = 1.0,
    once: Annotated[
        bool, typer.Option("--once", help="One pass, then exit (for cron and tests).")
    ] = False,
    until_idle: Annotated[
        float | None, typer.Option(help="Exit once the queues have been empty this many seconds.")
    ] = None,
) -> None:
    """Run the schedules (when this worker is the leader) and send queued writes, until stopped.

    Start as many workers as you like on PostgreSQL: they share the queues, and one of them at a
    time runs the schedules; another takes over when it stops."""
    import signal
    import threading
    import time

    from hub.bootstrap import database_url, open_hub
    from hub.scheduler import HubScheduler

    with _config_errors():
        hub = open_hub(config)
        url = database_url(hub.settings, config.resolve().parent)
        scheduler = HubScheduler(hub.settings, url, config.resolve())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    leader = False
    dispatcher = hub.dispatcher()
    idle_since = time.monotonic()
    try:
        while not stop.is_set():
            if not leader and hub.settings.schedules:
                leader = scheduler.start()
                if leader:
                    err.print("this worker runs the schedules")
            sent = dispatcher.dispatch(max_batches=10)
            if sent.counts:
                idle_since = time.monotonic()
                err.print(
                    "writes: " + ", ".join(f"{k} {v}" for k, v in sorted(sent.counts.items()))
                )
            if once or (until_idle is not None and time.monotonic() - idle_since >= until_idle):
                break
            stop.wait(poll)
    finally:
        scheduler.shutdown(wait=True)
        hub.close()


@app.command()
def serve(
    config: ConfigOption = Path("huitong.yaml"),
    host: Annotated[str | None, typer.Option(help="Listen address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port).")] = None,
) -> None:
    """Receive webhooks (one route per system with a webhook section), and process them.

    Each delivery is verified, stored in the inbox and answered; a worker thread then reads the
    changed system, applies the changes and sends the writes they cause. /healthz, /readyz and
    /metrics are served beside the webhook routes."""
    import threading

    from hub.bootstrap import database_url, open_hub
    from hub.inbox_worker import InboxWorker
    from hub.observability import Metrics, configure_logging
    from hub.webhooks.receiver import create_app
    from hub.webhooks.receiver import serve as run_server
    from state.inbox import SqlInbox

    configure_logging()
    with _config_errors():
        hub = open_hub(config)
    url = database_url(hub.settings, config.resolve().parent)
    inbox = SqlInbox.open(url)
    metrics = Metrics()
    hub.metrics = metrics

    def outbox_depth() -> dict[tuple[str, str], int]:
        with hub.store.transaction() as tx:
            return dict(tx.outbox_depth())

    metrics.watch_queue("outbox", outbox_depth)
    metrics.watch_queue("inbox", inbox.counts)
    wake = threading.Event()
    stop = threading.Event()
    app_ = create_app(
        hub.settings, inbox, metrics=metrics, on_stored=lambda _system, _new: wake.set()
    )
    worker_ = InboxWorker(
        inbox,
        lambda systems, trigger: hub.engine().sync(systems, trigger=trigger),
        hub.dispatcher(),
    )

    def work() -> None:
        while not stop.is_set():
            if worker_.run_once() == 0:
                wake.wait(1.0)
                wake.clear()

    thread = threading.Thread(target=work, name="inbox-worker", daemon=True)
    thread.start()
    try:
        run_server(app_, host or hub.settings.server.host, port or hub.settings.server.port)
    finally:
        stop.set()
        wake.set()
        thread.join(timeout=30)
        hub.close()


def _identity_action(config: Path, action: Any) -> Any:
    from hub.bootstrap import open_hub
    from hub.golden import Survivorship
    from hub.identity.merging import Identity, IdentityError

    with _config_errors():
        hub = open_hub(config)
    identity = Identity(
        Survivorship(hub.settings.survivorship, hub.settings.system_priority()), hub.planner()
    )
    try:
        with hub.store.transaction() as tx:
            result = action(identity, tx)
    except IdentityError as exc:
        hub.close()
        err.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(
            EXIT_NOT_FOUND
            if any(text in str(exc) for text in ("no golden record", "not linked", "no review"))
            else EXIT_CONFIG
        ) from None
    hub.close()
    return result


@app.command()
def merge(
    survivor: Annotated[str, typer.Argument(help="The canonical id that stays.")],
    merged: Annotated[
        str, typer.Argument(help="The canonical id merged into it (redirects to it).")
    ],
    config: ConfigOption = Path("huitong.yaml"),
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    by: Annotated[str, typer.Option(help="Who decided, for the audit log.", envvar="USER")] = "cli",
) -> None:
    """Merge two golden records: one customer. Undo with `huitong unmerge`."""
    kept = _identity_action(
        config, lambda identity, tx: identity.merge(tx, survivor, merged, by, reason)
    )
    out.print(f"merged {merged} into {kept}; {merged} now redirects to it")


@app.command()
def unmerge(
    canonical_id: str,
    record: Annotated[
        str, typer.Argument(help="system/object/external-id of the record to split off.")
    ],
    config: ConfigOption = Path("huitong.yaml"),
    by: Annotated[str, typer.Option(help="Who decided, for the audit log.", envvar="USER")] = "cli",
) -> None:
    """Split a record off a golden record; undoes the merge that brought it, exactly."""
    other = _identity_action(
        config, lambda identity, tx: identity.unmerge(tx, canonical_id, record, by)
    )
    out.print(f"{record} split off {canonical_id}: it is now {other} (kept apart from now on)")


@app.command()
def export(
    system: Annotated[
        str, typer.Option("--system", "-s", help="The system whose mapping shapes the rows.")
    ],
    obj: Annotated[
        str, typer.Option("--object", "-o", help="The object (its mapping spec is used reversed).")
    ],
    config: ConfigOption = Path("huitong.yaml"),
    with_id: Annotated[
        bool, typer.Option("--with-id/--without-id", help="Add the huitong_id column.")
    ] = True,
) -> None:
    """Export every live golden record of the object's entity type through its mapping, into the
    system (for a CSV system: its output file, written atomically)."""
    from hub.bootstrap import open_hub
    from hub.export import export_rows

    with _config_errors():
        hub = open_hub(config)
        mapper = hub.mappers.get((system, obj))
        if mapper is None:
            raise ConfigError(
                f"--system {system} --object {obj}: no such object in the configuration",
                str(config),
            )
    connector = hub.connectors[system]
    write_file = getattr(connector, "export", None)
    if write_file is None:
        hub.close()
        err.print(
            f"{system} ({hub.settings.systems[system].kind}) cannot export files; use sync to write to it"
        )
        raise typer.Exit(EXIT_CONFIG)
    columns, rows = export_rows(hub.store, mapper.spec.entity, mapper, system, with_id)
    count = write_file(obj, rows, columns)
    hub.close()
    out.print(f"exported {count:,} {mapper.spec.entity.value} golden records to {system}/{obj}")


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo writes its files.")
    ] = Path("huitong-demo"),
    customers: Annotated[int, typer.Option(help="About how many customers to generate.")] = 2000,
) -> None:
    """Generate two messy CSV exports, sync them into SQLite and show what the hub made of them."""
    from hub import demo as demo_mod
    from hub.bootstrap import open_hub

    config = demo_mod.prepare(directory, customers)
    out.print(f"demo files written to {directory}/: config {config}, exports in {directory}/data/")
    out.print("[bold]sync[/bold]: a CRM export (UTF-8) and an ERP export (GBK) → golden records")
    with _config_errors():
        hub = open_hub(config)
    with progress_bar(err) as progress:
        summary = hub.engine(RichReporter(progress)).sync()
    _print_summary(summary, _golden_counts(hub))
    again = hub.engine().sync(full=True)
    out.print(
        f"\n[bold]again[/bold] (huitong sync --full): {again.counts['read']:,} read, "
        f"{again.counts['unchanged']:,} unchanged, {again.counts['created']:,} created, "
        f"{again.counts['updated']:,} updated: re-importing the same files changes nothing."
    )
    example = demo_mod.pick_example(hub.store)
    if example:
        out.print(f"\n[bold]why?[/bold]  huitong explain -c {config} {example}")
        data = explain_mod.explain(hub.store, hub.settings, example, None)
        if data:
            explain_mod.render(out, data)
    hub.close()
    out.print(
        f"\nmore: huitong runs show -c {config} {summary.run_id}   (every rejected row, with file and line)"
    )
    raise typer.Exit(EXIT_OK if summary.status in ("succeeded", "partial") else EXIT_FAILED)


QueueOption = Annotated[
    str,
    typer.Option(
        "--queue",
        "-q",
        help="outbox: writes to systems; inbox: webhook deliveries that failed for good.",
    ),
]


def _dlq_store(config: Path) -> Any:
    from hub.bootstrap import open_store

    with _config_errors():
        _, store = open_store(config)
    return store


def _inbox(store: Any) -> Any:
    from state.inbox import SqlInbox

    return SqlInbox(store.engine)


def _check_queue(queue: str) -> None:
    if queue not in ("outbox", "inbox"):
        err.print(f"--queue {queue}: outbox or inbox")
        raise typer.Exit(EXIT_CONFIG)


def _inbox_item(item: Any) -> dict[str, Any]:
    return {
        "id": item.id, "system": item.system, "scheme": item.scheme, "key": item.key,
        "received_at": item.received_at.isoformat(), "attempts": item.attempts,
        "status": item.status, "last_error": item.last_error, "size": len(item.payload),
    }  # fmt: skip


@dlq_app.command("list")
def dlq_list(
    config: ConfigOption = Path("huitong.yaml"),
    system: Annotated[str | None, typer.Option("--system", "-s")] = None,
    queue: QueueOption = "outbox",
    limit: int = 100,
    as_json: JsonOption = False,
) -> None:
    """Dead letters, oldest first, with the error each one ended with."""
    _check_queue(queue)
    store = _dlq_store(config)
    if queue == "inbox":
        rows = [
            _inbox_item(i)
            for i in _inbox(store).items("dead", limit)
            if not system or i.system == system
        ]
        store.close()
        if as_json:
            _print_json(rows)
            return
        table = Table("id", "system", "delivery", "attempts", "error")
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["system"],
                r["key"][:40],
                str(r["attempts"]),
                (r["last_error"] or "")[:160],
            )
        out.print(table if rows else "no dead letters in the inbox")
        return
    with store.transaction() as tx:
        items = tx.outbox_items("dead", limit, system)
    store.close()
    if as_json:
        _print_json([dataclasses.asdict(i) for i in items])
        return
    if not items:
        out.print("no dead letters")
        return
    table = Table("id", "system/object", "record", "op", "attempts", "error")
    for i in items:
        table.add_row(
            str(i.id),
            f"{i.system}/{i.object}",
            i.external_id or i.canonical_id,
            i.op,
            str(i.attempts),
            (i.last_error or "")[:160],
        )
    out.print(table)


@dlq_app.command("show")
def dlq_show(
    item_id: int, config: ConfigOption = Path("huitong.yaml"), queue: QueueOption = "outbox"
) -> None:
    """One dead letter: what it carried and why it failed."""
    _check_queue(queue)
    store = _dlq_store(config)
    if queue == "inbox":
        item = _inbox(store).get(item_id)
        data = _inbox_item(item) if item is not None else None
    else:
        with store.transaction() as tx:
            found = tx.outbox_item(item_id)
        data = dataclasses.asdict(found) if found is not None else None
    store.close()
    if data is None:
        err.print(f"no {queue} item {item_id}")
        raise typer.Exit(EXIT_NOT_FOUND)
    _print_json(data)


def _dlq_act(config: Path, item_ids: list[int], action: str, queue: str = "outbox") -> None:
    from hub.audit import AuditEvent

    _check_queue(queue)
    store = _dlq_store(config)
    done: list[int] = []
    missing: list[int] = []
    if queue == "inbox":
        inbox = _inbox(store)
        for item_id in item_ids:
            item = inbox.get(item_id)
            ok = item is not None and bool(
                inbox.requeue([item_id]) if action == "replay" else inbox.discard([item_id])
            )
            (done if ok else missing).append(item_id)
            if ok and item is not None:
                with store.transaction() as tx:
                    tx.append_audit([AuditEvent(f"dlq.{action}", {"inbox_id": item_id, "key": item.key,
                                                                   "error": item.last_error}, system=item.system)])  # fmt: skip
    else:
        with store.transaction() as tx:
            for item_id in item_ids:
                item = tx.outbox_item(item_id)
                ok = item is not None and (
                    tx.requeue(item_id) if action == "replay" else tx.discard(item_id)
                )
                (done if ok else missing).append(item_id)
                if ok and item is not None:
                    event = AuditEvent(
                        f"dlq.{action}",
                        {"outbox_id": item_id, "error": item.last_error},
                        item.canonical_id,
                        item.system,
                        item.object,
                        item.external_id,
                    )
                    tx.append_audit([event])
    store.close()
    if done:
        later = " (processed by the next sync, worker or serve)" if action == "replay" else ""
        out.print(f"{action}: {', '.join(map(str, done))}{later}")
    if missing:
        err.print(f"not dead letters: {', '.join(map(str, missing))}")
        raise typer.Exit(EXIT_NOT_FOUND)


@dlq_app.command("replay")
def dlq_replay(
    item_ids: list[int],
    config: ConfigOption = Path("huitong.yaml"),
    queue: QueueOption = "outbox",
    now: Annotated[
        bool, typer.Option("--now/--later", help="Send at once, as a replay run.")
    ] = True,
) -> None:
    """Put dead letters back in their queue (attempts reset, audited); outbox ones are sent at once
    as a `replay` run."""
    _dlq_act(config, item_ids, "replay", queue)
    if not now or queue == "inbox":
        return
    from hub.bootstrap import open_hub
    from hub.ids import new_run_id

    with _config_errors():
        hub = open_hub(config)
    with hub.store.transaction() as tx:
        systems = sorted({i.system for i in (tx.outbox_item(n) for n in item_ids) if i is not None})
    run_id = new_run_id()
    hub.store.start_run(run_id, "replay", systems)
    sent = hub.dispatcher().dispatch(systems)
    with hub.store.transaction() as tx:
        tx.bump_run(run_id, dict(sent.counts))
    status = "succeeded" if not sent.failures and not sent.counts.get("dead") else "partial"
    error = "; ".join(f"{s}: {m}" for s, m in sent.failures.items()) or None
    hub.store.finish_run(run_id, status, error)
    hub.close()
    out.print(
        f"replay run {run_id}: "
        + (", ".join(f"{k} {v:,}" for k, v in sorted(sent.counts.items())) or "nothing sent")
    )
    raise typer.Exit(_exit_for(status))


@dlq_app.command("discard")
def dlq_discard(
    item_ids: list[int], config: ConfigOption = Path("huitong.yaml"), queue: QueueOption = "outbox"
) -> None:
    """Give up on dead letters for good; audited, and kept for the record."""
    _dlq_act(config, item_ids, "discard", queue)


# The identity commands live in their own module; registered here so `huitong --help` lists them.
from hub.cli_identity import dedupe as _dedupe  # noqa: E402
from hub.cli_identity import review_app  # noqa: E402

app.command("dedupe")(_dedupe)
app.add_typer(review_app, name="review")


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="huitong")


if __name__ == "__main__":  # pragma: no cover - `python -m hub.cli`
    main()
