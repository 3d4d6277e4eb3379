"""Schedules: a run missed while the hub was down runs once at start; one leader per database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.bootstrap import database_url, open_hub
from hub.scheduler import HubScheduler, LeaderLock
from hub.settings import load_settings

from ..e2e.test_two_way_csv import setup

SCHEDULE = """
schedules:
  hourly:
    job: incremental
    interval_seconds: 3600
    timezone: Asia/Shanghai
"""


def _scheduled_runs(config: Path) -> int:
    hub = open_hub(config)
    runs = [r for r in hub.store.runs(50) if r.trigger == "schedule:hourly"]
    hub.close()
    return len(runs)


def test_missed_runs_run_once_after_a_restart(tmp_path: Path, db_url: str) -> None:
    config = setup(tmp_path, db_url)
    config.write_text(config.read_text(encoding="utf-8") + SCHEDULE, encoding="utf-8")
    settings = load_settings(config)
    url = database_url(settings, tmp_path)
    open_hub(config).close()  # migrate

    first = HubScheduler(settings, url, config)
    assert first.start()
    job = first.scheduler.get_job("hourly")
    assert job is not None
    assert job.next_run_time > datetime.now(UTC)
    # The hub goes down, and stays down through three due runs. The stored next run time is moved
    # back by a scheduler that never processes jobs (started paused): moving it on the running one
    # races its loop, which may already be past its pause check and run the now-due job.
    first.shutdown()
    offline = HubScheduler(settings, url, config)
    offline.scheduler.start(paused=True)
    offline.scheduler.modify_job(
        "hourly", next_run_time=datetime.now(UTC) - timedelta(hours=3, minutes=1)
    )
    offline.scheduler.remove_jobstore("default", shutdown=True)  # see HubScheduler.shutdown
    offline.scheduler.shutdown()
    assert _scheduled_runs(config) == 0

    second = HubScheduler(settings, url, config)
    assert second.start()
    deadline = time.monotonic() + 30
    while _scheduled_runs(config) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # had the missed runs not been coalesced, more would start now
    job = second.scheduler.get_job("hourly")
    second.shutdown()
    assert _scheduled_runs(config) == 1
    assert job is not None
    assert job.next_run_time > datetime.now(UTC) + timedelta(minutes=50)


def test_only_one_leader_per_database(tmp_path: Path, db_url: str) -> None:
    url = db_url if not db_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'x.db'}"
    a, b = LeaderLock(url), LeaderLock(url)
    assert a.acquire()
    assert not b.acquire()
    a.release()  # the leader stops (or dies: its connection or file handle goes with it)
    assert b.acquire()
    b.release()


RUNNING: dict[str, int] = {"slow": 0, "slow_max": 0}
RAN: list[tuple[str, float]] = []
LOCK = __import__("threading").Lock()


def probe_job(config_path: str, name: str) -> None:
    """A stand-in job: the slow one outlasts its interval, the fast one must not wait for it."""
    with LOCK:
        RAN.append((name, time.monotonic()))
        if name == "slow":
            RUNNING["slow"] += 1
            RUNNING["slow_max"] = max(RUNNING["slow_max"], RUNNING["slow"])
    if name == "slow":
        time.sleep(2.5)
        with LOCK:
            RUNNING["slow"] -= 1


def test_a_job_never_overlaps_itself_and_never_blocks_another(tmp_path: Path) -> None:
    config = tmp_path / "huitong.yaml"
    config.write_text(
        f"hub: {{database_url: 'sqlite:///{tmp_path / 'h.db'}'}}\n"
        "schedules:\n  slow: {interval_seconds: 1}\n  fast: {interval_seconds: 1}\n",
        encoding="utf-8",
    )
    open_hub(config).close()
    settings = load_settings(config)
    scheduler = HubScheduler(settings, settings.hub.database_url, config, runner=probe_job)
    assert scheduler.start()
    time.sleep(4.2)
    scheduler.shutdown(wait=True)
    slow = [t for name, t in RAN if name == "slow"]
    fast = [t for name, t in RAN if name == "fast"]
    assert RUNNING["slow_max"] == 1  # never two runs of one job at once
    assert len(slow) <= 2  # runs that fell due while it ran were skipped, not queued behind it
    assert len(fast) >= 3  # the other job kept its pace meanwhile
