"""A merge in the hub reaches the systems that hold both records, as each API allows: HubSpot merges
them with its merge endpoint; Salesforce (no merge in its REST API) leaves it to a person, which
shows as a dead letter naming what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.testing import connector_for as hubspot_connector
from connectors.salesforce.emulator import SalesforceEmulator
from connectors.salesforce.testing import connector_for as salesforce_connector
from hub.bootstrap import Hub, open_hub
from hub.golden import Survivorship
from hub.identity.merging import Identity
from hub.ports import RecordRef

from .test_crm_two_way import CONFIG


@pytest.fixture
def two_of_one(
    tmp_path: Path, db_url: str
) -> Iterator[tuple[Hub, Any, HubSpotEmulator, list[str], list[str]]]:
    """The same person twice in each system, under different e-mails, so the hub keeps two."""
    sf, hs = SalesforceEmulator(), HubSpotEmulator()
    with sf.serve() as running, hs.serve():
        sf_ids = [
            running.org.seed("Contact", {"FirstName": "Wei", "LastName": "Zhang", "Email": email})
            for email in ("wei.zhang@acme.cn", "zw@private.cn")
        ]
        hs_ids = [
            hs.portal.create(
                "contacts", {"firstname": "Wei", "lastname": "Zhang", "email": email}
            ).id
            for email in ("wei.zhang@acme.cn", "zw@private.cn")
        ]
        config = tmp_path / "huitong.yaml"
        config.write_text(CONFIG.format(db=db_url), encoding="utf-8")
        hub = open_hub(config)
        hub.connectors["sf"] = salesforce_connector(running, "sf")
        hub.connectors["hs"] = hubspot_connector(hs, "hs")
        hub.engine().sync()
        hub.dispatcher().dispatch()
        yield hub, running, hs, sf_ids, [str(i) for i in hs_ids]
        hub.close()


def test_hub_merge_reaches_hubspot_and_flags_salesforce(two_of_one) -> None:
    hub, _running, hs, _sf_ids, hs_ids = two_of_one
    with hub.store.transaction() as tx:
        found = tx.xref_lookup([RecordRef("hs", "contacts", i) for i in hs_ids])
        keep, gone = (found[RecordRef("hs", "contacts", i)] for i in hs_ids)
        assert keep != gone
        identity = Identity(
            Survivorship(hub.settings.survivorship, hub.settings.system_priority()), hub.planner()
        )
        identity.merge(tx, keep, gone, "tester", "same person, two addresses")
    sent = hub.dispatcher().dispatch()
    assert sent.counts["dead"] == 1  # Salesforce: left for a person
    assert hs.portal.resolve_id("contacts", hs_ids[1]) == hs.portal.resolve_id(
        "contacts", hs_ids[0]
    )
    assert len(list(hs.portal.live_objects("contacts"))) == 1
    with hub.store.transaction() as tx:
        dead = tx.outbox_items("dead")
    assert len(dead) == 1
    assert dead[0].system == "sf"
    assert dead[0].op == "merge"
    assert "person" in (dead[0].last_error or "")
