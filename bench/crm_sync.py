"""Benchmark: 10,000 changed records each way between Salesforce and HubSpot, through the hub.

    .venv/bin/python bench/crm_sync.py               # 10,000 each way
    .venv/bin/python bench/crm_sync.py --records 2000

Salesforce holds N contacts HubSpot lacks, and HubSpot N that Salesforce lacks. One hub sync reads
both (Salesforce queryAll pages of 2,000; HubSpot list pages of 100) and writes each side's records to
the other (Salesforce sObject Collections of 200; HubSpot batch upsert of 100), through the real
simple-salesforce and hubspot-api-client against the emulators on loopback. Printed: API calls used
against the theoretical minimum for those batch limits, records per second end to end, and the same
writes made by a naive client (one API call per record) for comparison.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.testing import connector_for as hubspot_connector
from connectors.salesforce.emulator import SalesforceEmulator, connect_client
from connectors.salesforce.testing import connector_for as salesforce_connector
from hub.bootstrap import open_hub

CONFIG = """
hub:
  database_url: sqlite:///{db}
  default_region: CN
  batch_size: 2000
systems:
  sf:
    kind: salesforce
    options: {{auth: client_credentials, domain: huitong-dev.my}}
    secrets: {{consumer_key: "x", consumer_secret: "y"}}
    objects:
      Contact: {{mapping: "builtin:salesforce/contacts", direction: both}}
  hs:
    kind: hubspot
    options: {{base_url: "http://127.0.0.1:9"}}
    secrets: {{token: "pat-na1-placeholder"}}
    objects:
      contacts: {{mapping: "builtin:hubspot/contacts", direction: both}}
survivorship:
  default: {{rule: priority, systems: [sf, hs]}}
"""


def person(i: int) -> dict[str, str]:
    return {"first": f"First{i}", "last": f"Last{i}", "email": f"person{i}@bench{i % 13}.example.com",
            "mobile": f"13{i:09d}", "title": ("Buyer", "CFO", "CTO")[i % 3]}  # fmt: skip


def hub_run(records: int) -> dict[str, float]:
    sf, hs = SalesforceEmulator(), HubSpotEmulator()
    with tempfile.TemporaryDirectory() as tmp, sf.serve() as running, hs.serve():
        for i in range(records):
            p = person(i)
            running.org.seed("Contact", {"FirstName": p["first"], "LastName": p["last"], "Email": p["email"],
                                         "MobilePhone": p["mobile"], "Title": p["title"]})  # fmt: skip
        for i in range(records, 2 * records):
            p = person(i)
            hs.portal.create("contacts", {"firstname": p["first"], "lastname": p["last"], "email": p["email"],
                                          "mobilephone": p["mobile"], "jobtitle": p["title"]})  # fmt: skip
        config = Path(tmp) / "huitong.yaml"
        config.write_text(CONFIG.format(db=Path(tmp) / "hub.db"), encoding="utf-8")
        hub = open_hub(config)
        hub.connectors["sf"] = salesforce_connector(running, "sf")
        hub.connectors["hs"] = hubspot_connector(hs, "hs")
        sf_before, hs_before = running.org.api_calls, len(hs.portal.calls)
        started = time.perf_counter()
        summary = hub.engine().sync()
        sent = hub.dispatcher().dispatch()
        seconds = time.perf_counter() - started
        hub.close()
        sf_calls, hs_calls = running.org.api_calls - sf_before, len(hs.portal.calls) - hs_before
    # The minimum for these batch limits: reads at the largest page, writes at the largest batch.
    minimum = {
        "sf": math.ceil(records / 2000) + math.ceil(records / 200),
        "hs": math.ceil(records / 100) + math.ceil(records / 100),
    }
    return {
        "read": summary.counts["read"],
        "written": sent.counts["written"],
        "seconds": seconds,
        "sf_calls": sf_calls,
        "hs_calls": hs_calls,
        "sf_min": minimum["sf"],
        "hs_min": minimum["hs"],
    }


def naive_run(records: int) -> dict[str, float]:
    """What a one-call-per-record integration does for the same writes."""
    sf, hs = SalesforceEmulator(), HubSpotEmulator()
    with sf.serve() as running, hs.serve():
        client = connect_client(running, flow="client_credentials")
        hubspot = hs.client()
        started = time.perf_counter()
        from hubspot.crm.contacts.exceptions import ApiException

        for i in range(records):
            p = person(i)
            while True:  # a naive client still has to wait out HubSpot's rolling 10-second limit
                try:
                    hubspot.crm.contacts.basic_api.create(
                        {
                            "properties": {
                                "firstname": p["first"],
                                "lastname": p["last"],
                                "email": p["email"],
                            }
                        }
                    )
                    break
                except ApiException as exc:
                    if exc.status != 429:
                        raise
                    time.sleep(0.5)
        for i in range(records, 2 * records):
            p = person(i)
            client.Contact.create(  # type: ignore[operator]
                {"FirstName": p["first"], "LastName": p["last"], "Email": p["email"]}
            )
        seconds = time.perf_counter() - started
        successful = sum(1 for c in hs.portal.calls if c.status < 400)
        return {"seconds": seconds, "calls": running.org.api_calls + successful,
                "rejected_429": len(hs.portal.calls) - successful}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000, help="records changed on each side")
    parser.add_argument(
        "--naive-records", type=int, default=400, help="records per side for the naive run"
    )
    args = parser.parse_args()
    n = args.records
    h = hub_run(n)
    total, minimum = h["sf_calls"] + h["hs_calls"], h["sf_min"] + h["hs_min"]
    print(f"hub: {n:,} records each way: read {h['read']:,}, wrote {h['written']:,} in {h['seconds']:.1f} s "
          f"({2 * n / h['seconds']:,.0f} records/s end to end)")  # fmt: skip
    print(f"  Salesforce API calls {h['sf_calls']:,} (minimum {h['sf_min']:,}); "
          f"HubSpot API calls {h['hs_calls']:,} (minimum {h['hs_min']:,})")  # fmt: skip
    print(f"  all calls {total:,} vs minimum {minimum:,}: {total / minimum:.3f}x")
    m = args.naive_records
    naive = naive_run(m)
    rate = 2 * m / naive["seconds"]
    print(f"naive one-call-per-record writes ({m:,} each way): {naive['calls']:,.0f} calls, "
          f"{rate:,.0f} records/s; extrapolated to {n:,} each way: {2 * n:,} calls, {2 * n / rate:.0f} s")  # fmt: skip
    print(
        f"calls per 1,000 records: hub {1000 * total / (2 * n):.1f}, naive {1000 * naive['calls'] / (2 * m):.0f}"
    )


if __name__ == "__main__":
    main()
