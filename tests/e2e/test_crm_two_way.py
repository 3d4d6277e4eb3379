"""Salesforce ⇄ hub ⇄ HubSpot, two-way, through the real clients against the emulators.

Each side starts with its own contacts, some shared (the same people, formatted differently). After
a sync both systems hold every person exactly once, with the golden values; the echoes of the hub's
own writes change nothing, so a second pass is quiet (no loop). With 20% of API calls failing
(429, 5xx, timeouts, dropped connections) the same end state is reached, every record once.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.emulation import FaultKind
from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.testing import connector_for as hubspot_connector
from connectors.salesforce.emulator import SalesforceEmulator
from connectors.salesforce.testing import connector_for as salesforce_connector
from hub.bootstrap import Hub, open_hub

CONFIG = """
hub:
  database_url: {db}
  default_region: CN
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
  fields:
    Person.title: {{rule: latest}}
"""

SHARED = 30
ONLY_SF = 40
ONLY_HS = 35


def _people() -> list[dict[str, str]]:
    rng = random.Random(7)
    first = ["Wei", "Na", "Emma", "Liam", "Olivia", "Noah", "Min", "Jun", "Ava", "Lucas"]
    last = ["Zhang", "Li", "Smith", "Brown", "Wang", "Chen", "Davis", "Liu", "Wilson", "Zhao"]
    return [
        {
            "first": rng.choice(first),
            "last": rng.choice(last),
            "email": f"person{i}@example{i % 7}.com",
            "mobile": f"1{rng.choice('3589')}{i:09d}",
            "title": rng.choice(["Buyer", "CFO", "CTO", "Engineer"]),
        }
        for i in range(SHARED + ONLY_SF + ONLY_HS)
    ]


@pytest.fixture
def crms(tmp_path: Path, db_url: str) -> Iterator[tuple[Hub, Any, HubSpotEmulator]]:
    people = _people()
    sf_emulator, hs_emulator = SalesforceEmulator(), HubSpotEmulator()
    with sf_emulator.serve() as running, hs_emulator.serve():
        for p in people[: SHARED + ONLY_SF]:
            running.org.seed("Contact", {"FirstName": p["first"], "LastName": p["last"], "Email": p["email"],
                                         "MobilePhone": p["mobile"], "Title": p["title"]})  # fmt: skip
        for p in people[:SHARED] + people[SHARED + ONLY_SF :]:
            hs_emulator.portal.create("contacts", {"firstname": p["first"], "lastname": p["last"],
                                                   "email": p["email"].upper(),
                                                   "mobilephone": f"+86 {p['mobile']}"})  # fmt: skip
        config = tmp_path / "huitong.yaml"
        config.write_text(CONFIG.format(db=db_url), encoding="utf-8")
        hub = open_hub(config)
        hub.connectors["sf"] = salesforce_connector(running, "sf")
        hub.connectors["hs"] = hubspot_connector(hs_emulator, "hs")
        yield hub, running, hs_emulator
        hub.close()


def _sync(hub: Hub) -> tuple[Counter[str], Counter[str]]:
    summary = hub.engine().sync()
    assert not summary.failures, summary.failures
    sent = hub.dispatcher(base_delay=0.0).dispatch()
    return summary.counts, sent.counts


def _emails_in_salesforce(running: Any) -> Counter[str]:
    return Counter(
        str(r["Email"]).lower() for r in running.org.records("Contact") if r.get("Email")
    )


def _emails_in_hubspot(emulator: HubSpotEmulator) -> Counter[str]:
    return Counter(
        str(o.properties.get("email")).lower()
        for o in emulator.portal.live_objects("contacts")
        if o.properties.get("email")
    )


def _assert_everyone_once_everywhere(hub: Hub, running: Any, emulator: HubSpotEmulator) -> None:
    everyone = {p["email"] for p in _people()}
    in_sf, in_hs = _emails_in_salesforce(running), _emails_in_hubspot(emulator)
    assert set(in_sf) == everyone
    assert set(in_hs) == everyone
    assert max(in_sf.values()) == 1, [e for e, n in in_sf.items() if n > 1]
    assert max(in_hs.values()) == 1, [e for e, n in in_hs.items() if n > 1]
    with hub.store.transaction() as tx:
        assert tx.count_goldens() == {"Person": len(everyone)}


def test_two_way_sync_converges_without_a_loop(crms: tuple[Hub, Any, HubSpotEmulator]) -> None:
    hub, running, emulator = crms
    counts, sent = _sync(hub)
    assert (
        counts["linked"] == SHARED
    )  # the shared people are recognised (email, phone) across systems
    assert sent["created"] == ONLY_SF + ONLY_HS  # each side learns of the other's people
    assert sent.get("dead", 0) == 0
    _assert_everyone_once_everywhere(hub, running, emulator)

    # Both systems report the hub's writes back: echoes. Salesforce also assigned each new contact
    # an owner, a value of its own, which now reaches HubSpot, once.
    counts, sent = _sync(hub)
    assert counts["echoes"] + counts["updated"] == counts["read"], counts
    assert counts["echoes"] > 0
    assert sent.get("dead", 0) == 0
    for _ in range(2):  # quiet from now on: no loop
        counts, sent = _sync(hub)
        assert counts.get("writes_queued", 0) == 0, counts
        assert sent.get("written", 0) == 0
    assert counts.get("applied", 0) == 0
    _assert_everyone_once_everywhere(hub, running, emulator)


def test_twenty_percent_of_calls_failing_still_syncs_every_record_once(
    crms: tuple[Hub, Any, HubSpotEmulator],
) -> None:
    hub, running, emulator = crms
    kinds: tuple[FaultKind, ...] = ("429", "500", "503", "timeout", "drop")
    running.faults.rate, running.faults.kinds = 0.2, kinds
    emulator.faults.rate, emulator.faults.kinds = 0.2, kinds
    running.faults.timeout_seconds = emulator.faults.timeout_seconds = 0.5
    for plan in (running.faults, emulator.faults):  # each kind at least once, then 20% at random
        # A request between two scripted faults: five in a row would spend most of one call's
        # retries (the first call is the login) and leave the rest to chance. Seeded, so a run
        # that fails fails again.
        plan.script.extend(["503", None, "429", None, "timeout", None, "drop", None, "500"])
        plan.reseed(20261122)
    for _ in range(12):  # passes until nothing is left to send or read
        counts, _sent = _sync(hub)
        with hub.store.transaction() as tx:
            depth = tx.outbox_depth()
        if not any(
            n for (_, status), n in depth.items() if status in ("pending", "inflight")
        ) and not counts.get("writes_queued"):
            break
        hub.dispatcher(base_delay=0.0).dispatch()
    assert running.faults.injected + emulator.faults.injected >= 10  # faults did happen
    running.faults.rate = emulator.faults.rate = 0.0
    _sync(hub)
    _assert_everyone_once_everywhere(hub, running, emulator)
