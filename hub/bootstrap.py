"""The composition root: the one module that wires the real parts (settings, store, connectors,
mappings) together. The CLI and the server start from here; tests wire what they need.

Connectors are found by entry point (group ``huitong.connectors``): each names a factory
``create(system, options, secrets, base_dir) -> Connector``, so a new connector is a package plus one
line in its ``pyproject.toml``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.dispatcher import Dispatcher
from hub.engine import SyncEngine, init_map_worker
from hub.errors import ConfigError
from hub.observability import Metrics
from hub.outbox import WritePlanner, WriteTarget
from hub.pacing import SharesBudget
from hub.ports import Connector, Reporter
from hub.settings import Settings, load_settings
from mappings.mapper import Mapper
from mappings.spec import load_spec
from state.rate_windows import window_factory
from state.store import SqlStore

ConnectorFactory = Callable[[str, Mapping[str, Any], Mapping[str, SecretStr], Path], Connector]


@cache
def _connector_entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group="huitong.connectors")}


def installed_connector_kinds() -> list[str]:
    """The connector kinds installed, by entry point name, without importing any of them."""
    return sorted(_connector_entry_points())


@cache
def connector_factory(kind: str) -> ConnectorFactory | None:
    """The factory of one connector kind, importing only that connector's package: a hub that
    syncs CSV files does not load every CRM's SDK (tens of MB of memory per process)."""
    ep = _connector_entry_points().get(kind)
    return None if ep is None else ep.load()


def connector_factories() -> dict[str, ConnectorFactory]:
    """Every installed connector's factory (imports them all)."""
    found: dict[str, ConnectorFactory] = {}
    for kind in installed_connector_kinds():
        factory = connector_factory(kind)
        if factory is not None:
            found[kind] = factory
    return found


@dataclass
class Hub:
    settings: Settings
    config_path: Path
    store: SqlStore
    connectors: dict[str, Connector]
    mappers: dict[tuple[str, str], Mapper]

    map_pool: Executor | None = None
    metrics: Metrics | None = None

    def engine(self, reporter: Reporter | None = None) -> SyncEngine:
        workers = self.settings.hub.map_workers
        if workers and self.map_pool is None:
            # Mappers are rebuilt in each worker from their specs (transforms are closures).
            self.map_pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_map_worker,
                initargs=(self.mappers,),
            )
        return SyncEngine(
            self.settings,
            self.store,
            self.connectors,
            self.mappers,
            reporter,
            self.map_pool,
            self.planner(),
            self.metrics,
        )

    def planner(self) -> WritePlanner:
        targets = [
            WriteTarget(system, obj, mapper.spec.entity, mapper)
            for (system, obj), mapper in self.mappers.items()
            if self.settings.systems[system].objects[obj].direction in ("write", "both")
        ]
        return WritePlanner(targets)

    def dispatcher(self, **kwargs: Any) -> Dispatcher:
        kwargs.setdefault("metrics", self.metrics)
        kwargs.setdefault("lease", timedelta(seconds=self.settings.hub.write_lease_seconds))
        kwargs.setdefault("max_attempts", self.settings.hub.write_max_attempts)
        return Dispatcher(self.store, self.connectors, **kwargs)

    def close(self) -> None:
        if self.map_pool is not None:
            self.map_pool.shutdown(cancel_futures=True)
            self.map_pool = None
        self.store.close()


def database_url(settings: Settings, base: Path) -> str:
    url = settings.hub.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url[len("sqlite:///") :]
        if relative and relative != ":memory:":
            return f"sqlite:///{(base / relative).resolve()}"
    return url


def build_mappers(settings: Settings, base: Path) -> dict[tuple[str, str], Mapper]:
    mappers: dict[tuple[str, str], Mapper] = {}
    problems: list[str] = []
    for system, sys_settings in settings.systems.items():
        for obj, obj_settings in sys_settings.objects.items():
            try:
                spec = load_spec(obj_settings.mapping, base, settings.custom_fields)
            except ConfigError as exc:
                problems.extend(
                    f"systems.{system}.objects.{obj}.mapping: {p}" for p in exc.problems
                )
                continue
            same_as = [(h.field, h.system, h.object, h.transform) for h in obj_settings.same_as]
            try:
                mappers[(system, obj)] = Mapper(
                    spec,
                    settings.custom_fields,
                    settings.hub.default_region,
                    settings.hub.timezone,
                    same_as,
                )
            except ValueError as exc:
                problems.append(f"systems.{system}.objects.{obj}.same_as: {exc}")
    if problems:
        raise ConfigError(problems)
    return mappers


def build_connectors(settings: Settings, base: Path) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    problems: list[str] = []
    for system, sys_settings in settings.systems.items():
        # Only the kinds the configuration uses are imported.
        factory = connector_factory(sys_settings.kind)
        if factory is None:
            problems.append(
                f"systems.{system}.kind: unknown connector {sys_settings.kind!r} "
                f"(installed: {', '.join(installed_connector_kinds()) or 'none'})"
            )
            continue
        try:
            connectors[system] = factory(system, sys_settings.options, sys_settings.secrets, base)
        except ConfigError as exc:
            problems.extend(f"systems.{system}.options: {p}" for p in exc.problems)
    if problems:
        raise ConfigError(problems)
    return connectors


def open_hub(config_path: Path, migrate: bool = True) -> Hub:
    settings = load_settings(config_path)
    base = config_path.resolve().parent
    try:
        mappers = build_mappers(settings, base)
        connectors = build_connectors(settings, base)
    except ConfigError as exc:
        raise ConfigError(exc.problems, str(config_path)) from None
    store = SqlStore(database_url(settings, base), migrate=migrate)
    windows = window_factory(store.engine)
    for connector in connectors.values():
        if isinstance(connector, SharesBudget):  # every worker paces against one shared budget
            connector.share_budget(windows)
    return Hub(settings, config_path, store, connectors, mappers)


def open_store(config_path: Path) -> tuple[Settings, SqlStore]:
    """Only the settings and the store: for commands that read state and touch no system."""
    settings = load_settings(config_path)
    return settings, SqlStore(database_url(settings, config_path.resolve().parent))


def run_scheduled(config_path: str, schedule_name: str) -> str:
    """The scheduler's job: open the hub, run one scheduled job, send its writes, close.

    A plain importable function so APScheduler can keep a reference to it in its job store."""
    hub = open_hub(Path(config_path))
    try:
        schedule = hub.settings.schedules[schedule_name]
        systems = schedule.systems or None
        if schedule.job == "reconcile":
            from hub.reconcile import Reconciler

            summary = Reconciler(
                hub.settings, hub.store, hub.connectors, hub.mappers, hub.planner()
            ).run(systems, trigger=f"schedule:{schedule_name}")
        else:
            summary = hub.engine().sync(
                systems, full=schedule.job == "full", trigger=f"schedule:{schedule_name}"
            )
        hub.dispatcher().dispatch()
        return summary.run_id
    finally:
        hub.close()
