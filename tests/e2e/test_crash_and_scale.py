"""Crash anywhere, converge; several workers, each change once.

* ``huitong sync`` is killed with SIGKILL at random moments, 20 times, then run to the end: every
  record of the ERP export reaches the golden records and HubSpot exactly once (no duplicate, none
  missing), the outbox is drained and the audit chain is intact.
* Four ``huitong worker`` processes share one PostgreSQL outbox of 10,000 writes: HubSpot ends with
  each record once, and each write was settled exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_portal import DEFAULT_TOKEN
from connectors.hubspot.emulator_ratelimit import RateLimitConfig
from hub.bootstrap import open_hub
from state.tables import audit_events, outbox

HUITONG = [sys.executable, "-m", "hub.cli"]

CONFIG = """
hub:
  database_url: {db}
  default_region: CN
  batch_size: {batch}
  write_lease_seconds: {lease}
systems:
  erp:
    kind: csv
    options:
      directory: erp
      objects:
        contacts: {{file: contacts.csv, id_column: code, modified_column: updated}}
    objects:
      contacts: {{mapping: erp_contacts.yaml}}
  hs:
    kind: hubspot
    options: {{base_url: "{hubspot}", retry_waits: false, index_lag_seconds: 0, resolve_owners: false}}
    secrets: {{token: "{token}"}}
    objects:
      contacts: {{mapping: "builtin:hubspot/contacts", direction: write}}
"""

MAPPING = """entity: Person
modified_at: updated
fields:
  full_name: name
  email: email
  mobile: mobile
  title: title
"""


def world(
    tmp_path: Path, db_url: str, hubspot_url: str, records: int, batch: int, lease: float = 2
) -> Path:
    (tmp_path / "erp").mkdir()
    rng = random.Random(5)
    lines = ["code,name,email,mobile,title,updated"]
    for i in range(records):
        surname, given = (
            rng.choice("王李张刘陈杨黄赵吴周"),
            rng.choice(["伟", "芳", "娜", "敏", "静", "强"]),
        )
        lines.append(
            f"E{i:06d},{surname}{given},user{i}@corp{i % 9}.cn,1{i % 7 + 3}{i:09d},经理,2026-01-01 08:00:00"
        )
    (tmp_path / "erp" / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="gbk")
    (tmp_path / "erp_contacts.yaml").write_text(MAPPING, encoding="utf-8")
    config = tmp_path / "huitong.yaml"
    config.write_text(
        CONFIG.format(
            db=db_url, batch=batch, hubspot=hubspot_url, token=DEFAULT_TOKEN, lease=lease
        ),
        encoding="utf-8",
    )
    return config


def hubspot_ids(emulator: HubSpotEmulator) -> Counter[str]:
    return Counter(
        str(o.properties.get("huitong_id")) for o in emulator.portal.live_objects("contacts")
    )


def run(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUITONG, *args, "-c", str(config)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)  # fmt: skip


def test_killed_twenty_times_at_random_then_converges(tmp_path: Path) -> None:
    records = 1500
    emulator = HubSpotEmulator(rate_limits=RateLimitConfig(enabled=False))
    with emulator.serve():
        config = world(
            tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", str(emulator.url), records, 100
        )
        rng = random.Random(20261122)
        kills = 0
        for _ in range(20):
            proc = subprocess.Popen([*HUITONG, "sync", "-c", str(config)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(rng.uniform(0.3, 2.5))  # anywhere: start-up, reading, applying, sending
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        assert kills >= 10  # most runs really were cut short
        final = run(config, "sync")
        assert final.returncode == 0, final.stdout + final.stderr
        # Writes claimed by a killed process come back when their lease runs out.
        idle = run(config, "worker", "--until-idle", "4", "--poll", "0.2")
        assert idle.returncode == 0, idle.stderr

        ids = hubspot_ids(emulator)
        assert len(ids) == records  # nothing lost
        assert max(ids.values()) == 1  # nothing duplicated
        hub = open_hub(config)
        with hub.store.transaction() as tx:
            assert tx.count_goldens() == {"Person": records}
            pending = {k: v for k, v in tx.outbox_depth().items() if k[1] != "dead"}
        assert not pending
        assert hub.store.verify_audit().ok
        assert set(ids) == set(_golden_ids(hub))
        hub.close()


def _golden_ids(hub):
    with hub.store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT canonical_id FROM golden_records")).scalars().all()


def test_four_workers_on_postgresql_write_each_change_once(tmp_path: Path, pg_url: str) -> None:
    records = 10_000
    emulator = HubSpotEmulator(rate_limits=RateLimitConfig(enabled=False))
    with emulator.serve():
        with sa.create_engine(pg_url).begin() as conn:  # this test's own tables: start empty
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        config = world(
            tmp_path, pg_url.replace("+psycopg", ""), str(emulator.url), records, 2000, lease=60
        )
        read = run(config, "sync", "--no-dispatch", timeout=600)
        assert read.returncode == 0, read.stdout + read.stderr
        workers = [
            subprocess.Popen([*HUITONG, "worker", "--until-idle", "3", "--poll", "0.1", "-c", str(config)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]  # fmt: skip
        for w in workers:
            _, stderr = w.communicate(timeout=600)
            assert w.returncode == 0, stderr
        ids = hubspot_ids(emulator)
        assert len(ids) == records
        assert max(ids.values()) == 1
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            statuses: dict[str, int] = dict(
                conn.execute(
                    sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
                ).all()
            )
            settled = Counter(
                conn.execute(
                    sa.select(audit_events.c.canonical_id).where(
                        audit_events.c.event == "system.written"
                    )
                ).scalars()
            )
            claimed_by = conn.execute(
                sa.select(sa.func.count(sa.distinct(outbox.c.claimed_by)))
            ).scalar_one()
        engine.dispose()
        assert statuses == {"done": records}
        assert len(settled) == records
        assert max(settled.values()) == 1
        assert claimed_by >= 2  # the work really was shared
