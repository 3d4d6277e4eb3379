"""Benchmark: from a webhook leaving the source system to the write landing in the target system.

    .venv/bin/python bench/webhooks_end_to_end.py                   # 200 changes/s for 10 s
    .venv/bin/python bench/webhooks_end_to_end.py --rate 100 --seconds 20

A source HubSpot portal (emulator) gets new contacts at a steady rate; each change goes out as a
signed v3 webhook (HubSpot batches events, up to 100 per request, sent every 50 ms here) to
``huitong serve`` running in its own process. The hub stores each delivery before replying, its
worker reads the changed contacts from the source, applies them and writes them to a second
HubSpot portal (the target emulator). Printed: webhook requests accepted per second, and the latency
from a change's webhook being sent to its contact existing in the target, at p50 and p99; and that
nothing was lost (every contact reached the target, once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from connectors.emulation import free_port
from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_portal import DEFAULT_TOKEN
from connectors.hubspot.emulator_ratelimit import RateLimitConfig

SECRET = "bench-client-secret"  # noqa: S105 - the bench's own webhook secret

CONFIG = """
hub:
  database_url: sqlite:///{db}
  default_region: CN
server: {{host: 127.0.0.1, port: {port}}}
systems:
  src:
    kind: hubspot
    options: {{base_url: "{src}", index_lag_seconds: 0, resolve_owners: false, tombstones: full_reads}}
    secrets: {{token: "{token}"}}
    webhook: {{scheme: hubspot_v3, secret: "{secret}", public_base_url: "http://127.0.0.1:{port}"}}
    objects:
      contacts: {{mapping: "builtin:hubspot/contacts"}}
  dst:
    kind: hubspot
    options: {{base_url: "{dst}", index_lag_seconds: 0, resolve_owners: false}}
    secrets: {{token: "{token}"}}
    objects:
      contacts: {{mapping: "builtin:hubspot/contacts", direction: write}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="changes (webhook events) per second"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    src = HubSpotEmulator(rate_limits=RateLimitConfig(burst_max=1000, search_per_second=20))
    dst = HubSpotEmulator(rate_limits=RateLimitConfig(burst_max=1000))
    with tempfile.TemporaryDirectory() as tmp, src.serve(), dst.serve():
        port = free_port()
        config = Path(tmp) / "huitong.yaml"
        config.write_text(
            CONFIG.format(db=Path(tmp) / "hub.db", port=port, src=src.url, dst=dst.url, token=DEFAULT_TOKEN,
                          secret=SECRET),
            encoding="utf-8",
        )  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "-c", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("huitong serve did not become ready")
                time.sleep(0.1)
            src.webhooks.client_secret = SECRET
            src.webhooks.target_url = f"http://127.0.0.1:{port}/webhooks/src"
            src.webhooks.subscribe("contact.creation")
            # Deletions arrive as their own webhooks; an incremental read need not list the archive.

            sent_at: dict[str, float] = {}
            landed_at: dict[str, float] = {}
            accepted = [0, 0]  # requests, 2xx
            stop = threading.Event()

            def flusher() -> None:
                while not stop.is_set() or src.webhooks.pending:
                    for delivery in src.webhooks.flush():
                        accepted[0] += 1
                        status = delivery.status or 0  # None: no answer at all
                        accepted[1] += 1 if 200 <= status < 300 else 0
                    time.sleep(0.05)

            def watcher() -> None:
                while True:
                    now = time.monotonic()
                    emails = [
                        str(o.properties.get("email")) for o in dst.portal.live_objects("contacts")
                    ]
                    for email in emails:
                        landed_at.setdefault(email, now)
                    if len(landed_at) >= total:
                        return
                    if stop.is_set() and now - stopped[0] > 60:
                        return  # what has not landed a minute after the last change is lost
                    time.sleep(0.02)

            stopped = [0.0]
            threads = [threading.Thread(target=flusher), threading.Thread(target=watcher)]
            for t in threads:
                t.start()
            started = time.monotonic()
            ids: dict[str, str] = {}
            for i in range(total):
                due = started + i / args.rate
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                email = f"bench{i}@source.example.com"
                obj = src.portal.create(
                    "contacts", {"firstname": "Bench", "lastname": str(i), "email": email}
                )
                ids[str(obj.id)] = email
                sent_at[str(obj.id)] = (
                    time.monotonic()
                )  # the change; its webhook leaves within 50 ms
            stopped[0] = time.monotonic()
            stop.set()
            for t in threads:
                t.join(timeout=120)
            offered = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(
        landed_at[email] - sent_at[obj_id]
        for obj_id, email in ids.items()
        if email in landed_at and obj_id in sent_at
    )
    lost = total - len(latencies)
    in_target = len(dst.portal.live_objects("contacts"))
    print(f"{total:,} changes at {args.rate:.0f}/s over {offered:.1f} s; webhook requests {accepted[0]:,} "
          f"({accepted[1]:,} answered 2xx, {accepted[1] / offered:.1f} requests/s carrying "
          f"{total / offered:.0f} events/s)")  # fmt: skip
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"change in the source → written in the target: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        )
    print(f"lost: {lost}; contacts in the target: {in_target:,} (each once: {in_target == total})")


if __name__ == "__main__":
    main()
