"""The matching store on SQLite and PostgreSQL: the blocking index answers by key and leaves out an
oversized block unread; the review queue stores a pair once; models are kept per entity type."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.golden import StoredSource
from hub.model import EntityType
from hub.ports import RecordRef
from state.store import SqlStore

P = EntityType.PERSON


def test_blocking_members_skip_oversized_blocks(store: SqlStore) -> None:
    rows = [("name:zhang wei", f"per_{i}", f"crm/contacts/{i}") for i in range(30)]
    rows += [
        ("mobile:13800138000", "per_1", "crm/contacts/1"),
        ("mobile:13800138000", "per_40", "erp/contacts/40"),
    ]
    with store.transaction() as tx:
        tx.add_blocking_keys(P, rows)
        tx.add_blocking_keys(
            EntityType.COMPANY, [("mobile:13800138000", "cmp_1", "crm/accounts/1")]
        )
    with store.transaction() as tx:
        found = tx.blocking_members(P, ["name:zhang wei", "mobile:13800138000", "email:none"], 25)
        assert set(found) == {"mobile:13800138000"}  # 30 records share the name: too common
        assert sorted(found["mobile:13800138000"]) == [
            ("crm/contacts/1", "per_1"),
            ("erp/contacts/40", "per_40"),
        ]
        assert len(tx.blocking_members(P, ["name:zhang wei"], 30)["name:zhang wei"]) == 30
        assert tx.count_blocking_keys(P) == 32


def test_replacing_a_records_keys_and_relinking_it(store: SqlStore) -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    source = StoredSource(
        RecordRef("crm", "contacts", "7"), P, "per_a", {"full_name": "王芳"}, {}, at
    )
    with store.transaction() as tx:
        tx.insert_sources([source])
        tx.replace_blocking_keys([(source, ["name:wang fang", "mobile:1"])])
    with store.transaction() as tx:
        held = tx.sources_by_ref("crm", "contacts", ["7"])["7"]
        tx.replace_blocking_keys([(held, ["name:wang fang"])])
        tx.relink([held.ref], "per_b")
    with store.transaction() as tx:
        assert tx.blocking_members(P, ["name:wang fang", "mobile:1"], 25) == {
            "name:wang fang": [("crm/contacts/7", "per_b")]
        }
        assert tx.source_values(["crm/contacts/7", "crm/contacts/8"]) == {
            "crm/contacts/7": ("per_b", {"full_name": "王芳"})
        }


def test_a_pair_is_queued_once_whatever_its_order(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.add_review(
            P,
            ("per_b", "per_a"),
            ("erp/c/2", "crm/c/1"),
            0.8,
            2.0,
            {"levels": {}},
            "incremental",
            None,
        )
        assert not tx.add_review(
            P, ("per_a", "per_b"), ("crm/c/1", "erp/c/2"), 0.7, 1.5, {}, "dedupe", None
        )
    with store.transaction() as tx:
        (queued,) = tx.reviews()
        assert (queued.a, queued.a_source, queued.b, queued.b_source) == (
            "per_a",
            "crm/c/1",
            "per_b",
            "erp/c/2",
        )
        tx.settle_review(queued.id, "rejected", "ana", "two people")
    with store.transaction() as tx:
        assert tx.reviews() == []
        assert tx.count_reviews() == {"rejected": 1}
        assert tx.review(queued.id).decided_by == "ana"  # type: ignore[union-attr]


def test_models_are_kept_per_entity_type(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.match_model(P) is None
        tx.save_match_model(P, "f1", '{"old": 1}', 10, None)
        tx.save_match_model(P, "f2", '{"new": 1}', 20, "run_x")
    with store.transaction() as tx:
        assert tx.match_model(P) == ("f2", '{"new": 1}')
        assert tx.match_model(EntityType.COMPANY) is None
        assert tx.match_models_trained()["Person"][1] == 20
