"""Probabilistic matching in the incremental apply path, through the persistent blocking index, on
SQLite and PostgreSQL: link / review / new by the configured thresholds, the strong-key guard, the
cannot-link a person decided, records of one batch matched with each other, the index kept in step
with changes, deletes and merges."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pytest

from hub.apply import Applier
from hub.golden import Survivorship
from hub.identity import review
from hub.identity.clustering import dedupe
from hub.identity.keys import keys_for
from hub.identity.merging import Identity
from hub.identity.probabilistic import config_fingerprint
from hub.identity.scorer import EntityMatchConfig, Matcher, ScorerModel, default_person_config
from hub.model import Candidate, EntityType
from hub.ports import RecordRef
from hub.settings import SurvivorshipSettings
from state.store import SqlStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONFIG = default_person_config().model_copy(update={"u_sample_pairs": 30_000})


@pytest.fixture(scope="module")
def trained(crm_people: tuple[list[dict[str, Any]], np.ndarray]) -> ScorerModel:
    records, _ = crm_people
    return dedupe(records, CONFIG).model


@pytest.fixture(scope="module")
def true_pair(
    crm_people: tuple[list[dict[str, Any]], np.ndarray], trained: ScorerModel
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Two records of one person that share no deterministic key, and their probability: only the
    scorer can link them."""
    records, truth = crm_people
    matcher = Matcher(CONFIG, trained)
    best: tuple[dict[str, Any], dict[str, Any], float] | None = None
    by_person: dict[int, list[int]] = {}
    for i, person in enumerate(truth.tolist()):
        by_person.setdefault(person, []).append(i)
    for members in by_person.values():
        for x in members:
            for y in members:
                if x >= y:
                    continue
                a, b = records[x], records[y]
                if {k.key for k in keys_for(EntityType.PERSON, a)} & {
                    k.key for k in keys_for(EntityType.PERSON, b)
                }:
                    continue
                if not set(matcher.blocking_keys(a)) & set(matcher.blocking_keys(b)):
                    continue
                p = matcher.scorer.score(matcher.scorer.prepare(a), matcher.scorer.prepare(b))
                if p.probability >= 0.95 and (best is None or p.probability < best[2]):
                    best = (a, b, p.probability)
    assert best is not None, "the synthetic data holds pairs only the scorer links"
    return best


def _store_model(store: SqlStore, model: ScorerModel, config: EntityMatchConfig = CONFIG) -> None:
    with store.transaction() as tx:
        tx.save_match_model(EntityType.PERSON, config_fingerprint(config), model.to_json(), 1, None)


def _candidate(
    system: str, external_id: str, values: dict[str, Any], at: datetime = T0
) -> Candidate:
    return Candidate(
        RecordRef(system, "contacts", external_id),
        EntityType.PERSON,
        dict(values),
        {},
        at,
        fingerprint=hashlib.sha256(
            orjson.dumps([values, at.isoformat()], option=orjson.OPT_SORT_KEYS)
        ).hexdigest()[:32],
    )


def _applier(config: EntityMatchConfig = CONFIG) -> Applier:
    return Applier(Survivorship(SurvivorshipSettings(), ["crm", "erp"]), "run-test", None,
                   lambda _entity: config)  # fmt: skip


def _apply(store: SqlStore, *candidates: Candidate, config: EntityMatchConfig = CONFIG) -> Any:
    with store.transaction() as tx:
        return _applier(config).apply(tx, list(candidates))


def _cid(store: SqlStore, ref: str) -> str:
    with store.transaction() as tx:
        return tx.xref_lookup([RecordRef(*ref.split("/"))])[RecordRef(*ref.split("/"))]


def _link_reason(store: SqlStore, ref: str) -> dict[str, Any]:
    system, obj, external_id = ref.split("/")
    with store.transaction() as tx:
        row = tx.conn.exec_driver_sql(
            "SELECT reason FROM xref WHERE system = {m} AND object = {m} AND external_id = {m}".format(
                m="%s" if tx.is_postgres else "?"
            ),
            (system, obj, external_id),
        ).first()
    assert row is not None
    reason: dict[str, Any] = orjson.loads(row[0])
    return reason


def _index(store: SqlStore) -> dict[str, set[str]]:
    with store.transaction() as tx:
        rows = tx.conn.exec_driver_sql("SELECT source_key, canonical_id FROM blocking_keys").all()
    found: dict[str, set[str]] = {}
    for source_key, cid in rows:
        found.setdefault(source_key, set()).add(cid)
    return found


@pytest.fixture
def scored_store(store: SqlStore, trained: ScorerModel) -> SqlStore:
    _store_model(store, trained)
    return store


def test_without_a_model_matching_stays_deterministic(store: SqlStore, true_pair: Any) -> None:
    a, b, _p = true_pair
    _apply(store, _candidate("crm", "A", a))
    _apply(store, _candidate("erp", "B", b))
    assert _cid(store, "crm/contacts/A") != _cid(store, "erp/contacts/B")
    assert _index(store) == {}  # no index is kept before a model exists


def test_a_record_no_key_links_is_linked_by_its_score(
    scored_store: SqlStore, true_pair: Any
) -> None:
    a, b, p = true_pair
    _apply(scored_store, _candidate("crm", "A", a))
    result = _apply(scored_store, _candidate("erp", "B", b))
    assert result.counts["linked"] == 1
    assert _cid(scored_store, "crm/contacts/A") == _cid(scored_store, "erp/contacts/B")
    reason = _link_reason(scored_store, "erp/contacts/B")
    assert reason["rule"] == "probabilistic"
    assert reason["matched"] == "crm/contacts/A"
    assert reason["probability"] == pytest.approx(p, abs=1e-6)  # the batch scorer's figure
    assert reason["contributions"]  # what each field brought, for `explain`
    index = _index(scored_store)
    assert (
        index["crm/contacts/A"] == index["erp/contacts/B"] == {_cid(scored_store, "crm/contacts/A")}
    )


def test_between_the_thresholds_the_pair_waits_for_a_person(
    scored_store: SqlStore, true_pair: Any
) -> None:
    a, b, p = true_pair
    undecided = CONFIG.model_copy(update={"link": min(0.9999999, p + (1 - p) / 2), "review": p / 2})
    _apply(scored_store, _candidate("crm", "A", a), config=undecided)
    result = _apply(scored_store, _candidate("erp", "B", b), config=undecided)
    first, second = _cid(scored_store, "crm/contacts/A"), _cid(scored_store, "erp/contacts/B")
    assert first != second
    assert result.counts["review_queued"] == 1
    assert _link_reason(scored_store, "erp/contacts/B")["review"]["candidate"] == first
    with scored_store.transaction() as tx:
        (queued,) = tx.reviews()
    assert {queued.a, queued.b} == {first, second}
    assert {queued.a_source, queued.b_source} == {"crm/contacts/A", "erp/contacts/B"}
    assert queued.probability == pytest.approx(p, abs=1e-6)
    assert queued.detail["levels"]
    # The same record again changes nothing and proposes nothing twice.
    assert (
        _apply(scored_store, _candidate("erp", "B", b), config=undecided).counts["unchanged"] == 1
    )
    # A person links them: one golden record, the decision audited, undoable.
    identity = Identity(Survivorship(SurvivorshipSettings(), ["crm", "erp"]))
    with scored_store.transaction() as tx:
        outcome = review.link(tx, identity, queued.id, "ana", "same mobile, typo")
    assert outcome.status == "linked"
    assert _cid(scored_store, "crm/contacts/A") == _cid(scored_store, "erp/contacts/B")
    with scored_store.transaction() as tx:
        assert tx.reviews() == []
        assert tx.review(queued.id).status == "linked"  # type: ignore[union-attr]
        events = tx.history(outcome.survivor or "")
        assert "review.linked" in [e["event"] for e in events]
        assert tx.constraints([first])[-1][0] == "must_link"
    # The blocking index followed the merge.
    assert {cid for cids in _index(scored_store).values() for cid in cids} == {outcome.survivor}
    assert scored_store.verify_audit().ok


def test_a_rejected_pair_is_kept_apart_from_then_on(scored_store: SqlStore, true_pair: Any) -> None:
    a, b, p = true_pair
    undecided = CONFIG.model_copy(update={"link": min(0.9999999, p + (1 - p) / 2), "review": p / 2})
    _apply(scored_store, _candidate("crm", "A", a), config=undecided)
    _apply(scored_store, _candidate("erp", "B", b), config=undecided)
    with scored_store.transaction() as tx:
        (queued,) = tx.reviews()
        review.reject(tx, queued.id, "ana", "two people")
    with scored_store.transaction() as tx:
        assert tx.review(queued.id).status == "rejected"  # type: ignore[union-attr]
        with pytest.raises(review.ReviewError, match="settled already"):
            review.reject(tx, queued.id, "ana")
    identity = Identity(Survivorship(SurvivorshipSettings(), ["crm", "erp"]))
    with scored_store.transaction() as tx, pytest.raises(Exception, match="cannot-link"):
        identity.merge(tx, queued.a, queued.b, "bob")


def test_a_cannot_link_on_the_record_stops_the_scorer(
    scored_store: SqlStore, true_pair: Any
) -> None:
    a, b, _p = true_pair
    _apply(scored_store, _candidate("crm", "A", a))
    first = _cid(scored_store, "crm/contacts/A")
    with scored_store.transaction() as tx:
        tx.add_constraint("cannot_link", "erp/contacts/B", first, "told apart", "ana")
    _apply(scored_store, _candidate("erp", "B", b))
    assert _cid(scored_store, "erp/contacts/B") != first


def test_a_clashing_personal_email_needs_more_than_the_link_threshold(
    scored_store: SqlStore, true_pair: Any
) -> None:
    a, b, _p = true_pair
    a = {**a, "email": "a.person@example-one.cn"}
    b = {**b, "email": "someone.else@example-two.cn"}
    _apply(scored_store, _candidate("crm", "A", a))
    result = _apply(scored_store, _candidate("erp", "B", b))
    if _cid(scored_store, "crm/contacts/A") == _cid(scored_store, "erp/contacts/B"):
        reason = _link_reason(scored_store, "erp/contacts/B")
        assert reason["probability"] >= CONFIG.conflict_link
    else:
        with scored_store.transaction() as tx:
            queued = tx.reviews()
        assert result.counts["review_queued"] == len(queued) <= 1
        if queued:
            assert queued[0].detail["conflict"] == "email differs"


def test_records_of_one_batch_are_matched_with_each_other(
    scored_store: SqlStore, true_pair: Any
) -> None:
    a, b, _p = true_pair
    _apply(scored_store, _candidate("crm", "A", a), _candidate("crm", "B", b))
    assert _cid(scored_store, "crm/contacts/A") == _cid(scored_store, "crm/contacts/B")


def test_the_index_follows_changes_and_deletes(scored_store: SqlStore, true_pair: Any) -> None:
    a, _b, _p = true_pair
    _apply(scored_store, _candidate("crm", "A", a))
    before = _index(scored_store)["crm/contacts/A"]
    with scored_store.transaction() as tx:
        keys_before = set(tx.conn.exec_driver_sql("SELECT key FROM blocking_keys").scalars())
    renamed = {**a, "full_name": "Zacharias Quimby"}
    _apply(scored_store, _candidate("crm", "A", renamed, T0 + timedelta(hours=1)))
    with scored_store.transaction() as tx:
        keys_after = set(tx.conn.exec_driver_sql("SELECT key FROM blocking_keys").scalars())
    assert keys_after != keys_before
    assert _index(scored_store)["crm/contacts/A"] == before
    deleted = _candidate("crm", "A", renamed, T0 + timedelta(hours=2))
    deleted.deleted = True
    _apply(scored_store, deleted)
    assert "crm/contacts/A" not in _index(scored_store)


def test_a_model_trained_for_other_comparisons_is_not_used(
    store: SqlStore, trained: ScorerModel, true_pair: Any
) -> None:
    a, b, _p = true_pair
    other = CONFIG.model_copy(update={"max_block": CONFIG.max_block + 1})
    _store_model(store, trained, other)  # stored for another blocking set-up
    _apply(store, _candidate("crm", "A", a))
    _apply(store, _candidate("erp", "B", b))
    assert _cid(store, "crm/contacts/A") != _cid(store, "erp/contacts/B")


def test_keys_pointing_at_two_golden_records_ask_a_person(store: SqlStore) -> None:
    """The deterministic linker picks one golden record and names the other: that pair is queued."""
    _apply(store, _candidate("crm", "A", {"full_name": "王芳", "email": "wang.fang@acme.cn"}))
    _apply(store, _candidate("erp", "B", {"full_name": "王芳", "mobile": "+8613800138000"}))
    first, second = _cid(store, "crm/contacts/A"), _cid(store, "erp/contacts/B")
    both = {"full_name": "王芳", "email": "wang.fang@acme.cn", "mobile": "+8613800138000"}
    result = _apply(store, _candidate("shop", "C", both))
    assert _cid(store, "shop/contacts/C") == first  # the personal e-mail is the stronger key
    assert result.counts["review_queued"] == 1
    with store.transaction() as tx:
        (queued,) = tx.reviews()
    assert {queued.a, queued.b} == {first, second}
    assert queued.detail == {"rule": "deterministic", "keys": ["phone:+8613800138000"]}
