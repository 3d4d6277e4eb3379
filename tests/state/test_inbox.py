"""The inbox store's guarantees (``hub.webhooks.inbox`` docstring), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import state.tables_inbox  # noqa: F401  (before any store is made: the tables fixture truncates it)
from hub.webhooks.inbox import Delivery, hashed_key
from state import db
from state.inbox import SqlInbox
from state.store import SqlStore
from state.tables import metadata
from state.tables_inbox import webhook_inbox

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox(store: SqlStore, clock: Clock) -> SqlInbox:
    return SqlInbox(store.engine, clock=clock)


def _delivery(key: str, system: str = "crm", payload: bytes = b"{}") -> Delivery:
    return Delivery(system, "hmac_sha256", key, payload, "application/json", {"user-agent": "t"})


def _fill(inbox: SqlInbox, n: int) -> None:
    assert all(inbox.add_many([_delivery(f"k{i}") for i in range(n)]))


def test_add_reports_new_and_stores_a_key_once(inbox: SqlInbox) -> None:
    assert inbox.add(_delivery("a")) is True
    assert inbox.add(_delivery("a", payload=b"other bytes")) is False
    # In one batch: the first occurrence of a key is the new one; a key seen before is not.
    assert inbox.add_many([_delivery("b"), _delivery("a"), _delivery("b"), _delivery("c")]) == [
        True,
        False,
        False,
        True,
    ]
    # Keys are per system.
    assert inbox.add(_delivery("a", system="erp")) is True
    assert inbox.counts() == {("crm", "pending"): 3, ("erp", "pending"): 1}
    first = inbox.items()[0]  # ids are not reset between tests on PostgreSQL: never assume 1
    assert inbox.get(first.id) == first
    assert first.payload == b"{}"
    assert inbox.get(first.id + 10_000) is None


def test_payload_and_headers_round_trip_byte_for_byte(inbox: SqlInbox) -> None:
    payload = bytes(range(256)) * 3 + "汇通".encode()
    inbox.add(Delivery("crm", "wecom", "bin", payload, "application/xml", {"x-a": "值"}))
    [item] = inbox.items()
    assert item.payload == payload
    assert item.headers == {"x-a": "值"}
    assert (item.content_type, item.scheme, item.key, item.status) == (
        "application/xml",
        "wecom",
        "bin",
        "pending",
    )
    assert item.received_at.tzinfo is not None


def test_claim_leases_oldest_first_and_hides_claimed_items(inbox: SqlInbox, clock: Clock) -> None:
    _fill(inbox, 5)
    first = inbox.claim(3, "w1", lease_seconds=30)
    assert [i.key for i in first] == ["k0", "k1", "k2"]
    assert {(i.status, i.claimed_by, i.attempts) for i in first} == {("processing", "w1", 1)}
    assert all(i.lease_until == T0 + timedelta(seconds=30) for i in first)
    second = inbox.claim(10, "w2")
    assert [i.key for i in second] == ["k3", "k4"]
    assert inbox.claim(10, "w3") == []
    assert inbox.depth() == 5
    assert inbox.depth("crm") == 5
    assert inbox.depth("erp") == 0


def test_an_expired_lease_is_claimed_again(inbox: SqlInbox, clock: Clock) -> None:
    _fill(inbox, 2)
    held = inbox.claim(2, "crashed", lease_seconds=30)
    clock.advance(29)
    assert inbox.claim(2, "w2") == []  # still leased
    assert inbox.renew([held[0].id], "crashed", lease_seconds=30) == 1  # a live worker extends one
    clock.advance(2)  # the other one's lease has run out
    retaken = inbox.claim(2, "w2")
    assert [(i.key, i.claimed_by, i.attempts) for i in retaken] == [("k1", "w2", 2)]
    assert inbox.renew([held[1].id], "crashed") == 0  # the dead worker no longer holds it
    clock.advance(60)
    assert [i.key for i in inbox.claim(5, "w3")] == ["k0", "k1"]


def test_failed_waits_for_retry_at_and_keeps_the_error(inbox: SqlInbox, clock: Clock) -> None:
    _fill(inbox, 1)
    [item] = inbox.claim(1, "w1")
    assert inbox.failed(item.id, "HubSpot 503", retry_at=T0 + timedelta(seconds=60)) is True
    assert inbox.claim(1, "w1") == []
    clock.advance(61)
    [again] = inbox.claim(1, "w2")
    assert (again.attempts, again.last_error) == (2, "HubSpot 503")
    assert inbox.failed(item.id, "x", retry_at=T0) is True
    assert inbox.failed(item.id, "x", retry_at=T0) is False  # no longer processing


def test_dead_letters_are_kept_listed_and_requeued(inbox: SqlInbox) -> None:
    _fill(inbox, 2)
    a, b = inbox.claim(2, "w1")
    assert inbox.dead(a.id, "unparseable body") is True
    assert inbox.done([b.id]) == 1
    assert inbox.claim(5, "w1") == []
    [dead] = inbox.items("dead")
    assert (dead.key, dead.last_error) == ("k0", "unparseable body")
    assert inbox.depth() == 0
    assert inbox.counts() == {("crm", "dead"): 1}  # finished items are no queue's depth
    assert inbox.requeue([a.id, b.id]) == 1  # only dead letters go back
    [back] = inbox.claim(5, "w2")
    assert (back.key, back.attempts) == ("k0", 1)
    assert inbox.add(_delivery("k0")) is False  # a dead or finished key still de-duplicates


def test_purge_done_removes_only_old_finished_items(inbox: SqlInbox, clock: Clock) -> None:
    _fill(inbox, 3)
    a, b, _ = inbox.claim(3, "w")
    inbox.done([a.id])
    clock.advance(3600)
    inbox.done([b.id])
    assert inbox.purge_done(T0 + timedelta(seconds=10)) == 1
    assert sorted(i.key for i in inbox.items()) == ["k1", "k2"]


def test_claims_from_many_threads_never_share_an_item(inbox: SqlInbox) -> None:
    _fill(inbox, 120)
    claimed: list[list[int]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        while batch := inbox.claim(7, f"w{slot}"):
            claimed[slot].extend(i.id for i in batch)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    every = [i for ids in claimed for i in ids]
    assert len(every) == 120
    assert len(set(every)) == 120


def test_ready_reports_a_migrated_database(inbox: SqlInbox, tmp_path: Path) -> None:
    assert inbox.ready() == (True, "ok")
    bare = SqlInbox(db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    ok, detail = bare.ready()
    assert not ok
    assert "not migrated" in detail
    behind = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = db.alembic_config()
    with behind.begin() as conn:
        config.attributes["connection"] = conn
        from alembic import command

        command.upgrade(config, "0002")
    ok, detail = SqlInbox(behind).ready()
    assert not ok
    assert "0002" in detail
    heads = db.ScriptDirectory.from_config(config).get_heads()
    assert all(head in detail for head in heads)


def test_migration_matches_the_table_definition(store: SqlStore) -> None:
    def ours(diff: object) -> bool:
        return "webhook_inbox" in repr(diff)

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, metadata) if ours(d)]
    assert diffs == []
    assert webhook_inbox.name in sa.inspect(store.engine).get_table_names()


def test_hashed_keys_are_stable_and_unambiguous() -> None:
    assert hashed_key("x", ["ab", "c"]) == hashed_key("x", ["ab", b"c"])
    assert hashed_key("x", ["ab", "c"]) != hashed_key("x", ["a", "bc"])
    assert len(hashed_key("hubspot", ["e"])) == len("hubspot:") + 64


# --- PostgreSQL: real concurrency -------------------------------------------------------------------


@pytest.fixture
def pg_inbox(pg_url: str) -> Iterator[SqlInbox]:
    store = SqlStore(pg_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE webhook_inbox"))
    try:
        yield SqlInbox(store.engine)
    finally:
        store.close()


def test_pg_skip_locked_claims_around_rows_another_connection_holds(pg_inbox: SqlInbox) -> None:
    _fill(pg_inbox, 6)
    ids = [i.id for i in pg_inbox.items()]
    with pg_inbox.engine.connect() as other:
        # Another worker mid-claim: rows 1-3 locked in an open transaction.
        other.execute(
            sa.text("SELECT id FROM webhook_inbox WHERE id = ANY(:ids) FOR UPDATE"),
            {"ids": ids[:3]},
        )
        got = pg_inbox.claim(10, "w2")  # does not wait for the lock, does not take those rows
        other.rollback()
    assert [i.id for i in got] == ids[3:]
    assert [i.id for i in pg_inbox.claim(10, "w3")] == ids[:3]


def test_pg_concurrent_adds_of_one_key_store_one_row(pg_inbox: SqlInbox) -> None:
    barrier = threading.Barrier(20)

    def add(_: int) -> bool:
        barrier.wait()
        return pg_inbox.add(_delivery("same-event"))

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(add, range(20)))
    assert results.count(True) == 1
    with pg_inbox.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM webhook_inbox")).scalar_one() == 1
