"""Schedules from the configuration, run by APScheduler 3 with its jobs kept in the hub's database.

* Jobs persist (``scheduler_jobs`` table), so a run that fell due while the hub was down is known at
  start and, coalesced, runs once, however many runs were missed.
* ``max_instances=1``: a job never overlaps itself. A thread pool with a thread per job means a long
  run of one system never holds back another system's job.
* Only one scheduler runs per database: on PostgreSQL the leader holds ``pg_try_advisory_lock`` on a
  connection of its own; when it dies the lock goes with its connection and a waiting worker takes
  over. On SQLite (one process by design) an exclusive file lock beside the database does the same.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.errors import ConfigError
from hub.settings import ScheduleSettings, Settings

log = logging.getLogger(__name__)

RUNNER = "hub.bootstrap:run_scheduled"
LEADER_LOCK_KEY = 0x48_55_49_54  # "HUIT": one advisory lock id for the scheduler leader
JOB_TABLE = "scheduler_jobs"


def trigger_for(name: str, schedule: ScheduleSettings) -> BaseTrigger:
    try:
        if schedule.cron:
            return CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
        if schedule.interval_seconds:
            return IntervalTrigger(seconds=schedule.interval_seconds, timezone=schedule.timezone)
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"schedules.{name}: {exc}") from None
    raise ConfigError(f"schedules.{name}: give either cron or interval_seconds")


class LeaderLock:
    """Held by at most one process per database; ``acquire`` never blocks."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._conn: Any = None
        self._file: Any = None

    def acquire(self) -> bool:
        if self.database_url.startswith("sqlite"):
            path = Path(self.database_url.split("///", 1)[1] + ".scheduler.lock")
            handle = path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True
        url = self.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        conn = engine.connect()
        got = bool(
            conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK_KEY}
            ).scalar()
        )
        conn.commit()
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            self._conn.close()  # closing the session releases the advisory lock
            self._conn = None


class HubScheduler:
    def __init__(
        self,
        settings: Settings,
        database_url: str,
        config_path: Path,
        runner: str | Callable[..., Any] = RUNNER,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.runner = runner
        url = database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url, tablename=JOB_TABLE)},
            executors={
                "default": ThreadPoolExecutor(max_workers=max(4, len(settings.schedules) + 1))
            },
            # misfire_grace_time None: a run missed while down still runs (once, coalesced), however late.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=settings.hub.timezone,
        )
        self.lock = LeaderLock(database_url)
        self._stop = threading.Event()

    def _install_jobs(self) -> None:
        """Add new schedules and changed ones; keep unchanged jobs as stored, so their next run time
        (and a run missed while the hub was down) survives the restart."""
        wanted = {name: trigger_for(name, s) for name, s in self.settings.schedules.items()}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for name, trigger in wanted.items():
            existing = self.scheduler.get_job(name)
            if (
                existing is not None
                and str(existing.trigger) == str(trigger)
                and existing.args
                == (
                    str(self.config_path),
                    name,
                )
            ):
                continue
            self.scheduler.add_job(
                self.runner, trigger, args=[str(self.config_path), name], id=name, name=name,
                replace_existing=True,
            )  # fmt: skip

    def start(self) -> bool:
        """Start if this process is the leader; False when another one is."""
        if not self.lock.acquire():
            return False
        self.scheduler.start(paused=True)
        self._install_jobs()
        self.scheduler.resume()
        return True

    def shutdown(self, wait: bool = True) -> None:
        if self.scheduler.running:
            # APScheduler 3's loop runs one more pass over due jobs while shutting down; the executor
            # is closed by then, the job fails to submit and its next run time moves on: a due run
            # would be lost. Detaching the job store first keeps it due for the next start.
            self.scheduler.pause()
            self.scheduler.remove_jobstore("default", shutdown=True)
            self.scheduler.shutdown(wait=wait)
        self.lock.release()
