"""Benchmark skeleton: the webhook receiver over loopback at a steady rate.

    .venv/bin/python bench/webhooks.py                         # 200 webhooks/s for 10 s, SQLite
    .venv/bin/python bench/webhooks.py --rate 400 --seconds 20 --database-url postgresql://...

HubSpot-shaped deliveries (one event each, signed with v3) are sent open-loop: request i leaves at
``start + i / rate`` whatever the earlier ones are doing, from a pool of keep-alive connections, so a
slow receiver shows up as latency, not as a lower offered rate. The receiver runs in its own process
(uvicorn, as ``huitong serve`` runs it). It prints the accepted requests per
second, the latency from a request leaving to its 2xx (an upper bound of receipt-to-inbox: the inbox
commit precedes the reply) at p50/p99, and checks that every accepted delivery is in the inbox.

Receipt to the write landing in the target system (through the inbox worker, a read of the source
and the dispatcher) is measured by ``bench/webhooks_end_to_end.py``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from pathlib import Path

import httpx

from connectors.emulation import free_port
from connectors.hubspot.signature import sign_v3
from hub.observability import configure_logging
from hub.settings import Settings
from hub.webhooks.receiver import create_app, serve
from state.inbox import SqlInbox

SECRET = "bench-client-secret"  # noqa: S105 - the bench signs its own requests


def _event(i: int) -> bytes:
    event = {
        "eventId": i,
        "subscriptionId": 1001,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 100_000 + i,
        "propertyName": "email",
        "propertyValue": f"p{i}@example.com",
        "changeSource": "CRM",
    }
    return json.dumps([event], separators=(",", ":")).encode()


def _serve(database_url: str, port: int) -> None:
    """The receiver in its own process, as ``huitong serve`` runs it (the sender's threads would
    otherwise share its interpreter lock)."""
    configure_logging("WARNING")  # a line per request would cost more than the receiver
    hook = {"scheme": "hubspot_v3", "secret": SECRET}
    settings = Settings.model_validate(
        {"systems": {"hubspot": {"kind": "hubspot", "webhook": hook}}}
    )
    serve(create_app(settings, SqlInbox.open(database_url)), "127.0.0.1", port)


def _wait_ready(url: str, child: BaseProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.is_alive():
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the receiver did not start")


def run(rate: float, seconds: float, database_url: str, connections: int) -> None:
    inbox = SqlInbox.open(database_url)  # migrated before the receiver starts
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(target=_serve, args=(database_url, port))
    child.start()
    total = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    local = threading.local()

    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, child)
        url = f"{base}/webhooks/hubspot"

        def send(i: int, due: float) -> None:
            nonlocal failures
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=10)
            time.sleep(max(0.0, due - time.perf_counter()))
            body = _event(i)
            ts = int(time.time() * 1000)
            headers = {
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", url, body, ts),
                "X-HubSpot-Request-Timestamp": str(ts),
            }
            started = time.perf_counter()
            try:
                ok = client.post(url, content=body, headers=headers).status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    failures += 1

        start = time.perf_counter() + 0.2
        with ThreadPoolExecutor(connections) as pool:
            for i in range(total):
                pool.submit(send, i, start + i / rate)
        wall = time.perf_counter() - start
    finally:
        child.terminate()
        child.join(10)

    stored = inbox.depth("hubspot")
    latencies.sort()
    accepted = len(latencies)
    print(
        f"offered   {total} webhooks at {rate:g}/s over {seconds:g} s ({connections} connections)"
    )
    print(f"accepted  {accepted} ({accepted / wall:.1f} req/s), failed {failures}")
    if latencies:
        p99 = latencies[min(accepted - 1, int(accepted * 0.99))]
        print(
            f"send->2xx p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
            " (upper bound of receipt-to-inbox)"
        )
    print(f"inbox     {stored} stored; {'nothing lost' if stored == accepted else 'MISMATCH'}")
    inbox.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        run(args.rate, args.seconds, url, args.connections)


if __name__ == "__main__":
    main()
