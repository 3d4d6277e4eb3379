"""Fellegi–Sunter estimation: EM, term frequency, the stored model, incremental matching, and
configuration deciding what is compared."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hub.identity.blocking import BlockingRule, InMemoryBlockingIndex
from hub.identity.clustering import dedupe
from hub.identity.compare import ComparisonSpec, build_comparisons
from hub.identity.scorer import (
    EntityMatchConfig,
    MatchConfig,
    Matcher,
    Scorer,
    ScorerModel,
    ValueCounts,
    default_person_config,
    estimate_u,
    expectation_maximisation,
)
from hub.model import EntityType

from .conftest import pairwise_f1

FAST = {"u_sample_pairs": 30_000}


def test_em_recovers_known_parameters() -> None:
    """Pairs drawn from a known two-class model: EM finds m and the match share again."""
    rng = np.random.default_rng(3)
    true_m = [
        np.array([1.0, 0.85, 0.1, 0.05]),
        np.array([1.0, 0.7, 0.3]),
        np.array([1.0, 0.9, 0.1]),
    ]
    u = [np.array([1.0, 0.01, 0.09, 0.9]), np.array([1.0, 0.05, 0.95]), np.array([1.0, 0.2, 0.8])]
    n, share = 200_000, 0.15
    is_match = rng.random(n) < share
    columns = []
    for m_c, u_c in zip(true_m, u, strict=True):
        levels = np.arange(1, len(m_c))
        drawn_m = rng.choice(levels, size=n, p=m_c[1:])
        drawn_u = rng.choice(levels, size=n, p=u_c[1:])
        columns.append(np.where(is_match, drawn_m, drawn_u))
    patterns = np.stack(columns, axis=1).astype(np.int8)
    unique, counts = np.unique(patterns, axis=0, return_counts=True)
    start = [np.array([1.0, 0.5, 0.3, 0.2]), np.array([1.0, 0.5, 0.5]), np.array([1.0, 0.5, 0.5])]
    result = expectation_maximisation(
        unique, counts.astype(float), start, u, [True, True, True], prior=0.5
    )
    assert result.converged
    assert abs(result.prior - share) < 0.01
    for estimated, truth in zip(result.m, true_m, strict=True):
        assert np.abs(estimated - truth).max() < 0.03


def test_dedupe_on_labelled_synthetic_crm(crm_people: tuple[list[dict[str, Any]], Any]) -> None:
    """Trained only on the data itself (no labels), the clusters reach F1 ≥ 0.9 on ~2,800 records
    (the benchmark's 100k run is in bench/README.md)."""
    records, truth = crm_people
    config = default_person_config().model_copy(update=FAST)
    result = dedupe(records, config, workers=1)
    precision, recall, f1 = pairwise_f1(result.labels, truth)
    assert f1 >= 0.9, (precision, recall, f1)
    assert precision >= 0.95
    sessions = result.model.training["sessions"]
    assert sessions
    assert all(s["converged"] for s in sessions)
    # learned, not given: agreement weighs for, disagreement against
    name = next(c for c in result.model.comparisons if c.name == "name")
    assert name.weight(1) > 5 > 0 > name.weight(len(name.levels) - 1)


def _switchboard_people() -> list[dict[str, Any]]:
    """40 colleagues behind one switchboard, each in two systems, each with their own mobile."""
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
    given = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇"]
    records = []
    for i in range(40):
        name = surnames[i % 20] + given[i % 10] + given[(i // 10 + 3) % 10]
        mobile = f"+86139{i:08d}"
        records.append(
            {
                "full_name": name,
                "phone": "+8675588886666",
                "mobile": mobile,
                "company_name": "深圳市腾达电子有限公司",
                "email": f"u{i}x@tengda.cn",
            }
        )
        records.append({"full_name": name, "mobile": mobile, "city": "深圳"})
    return records  # fmt: skip


def test_shared_switchboard_weighs_less_than_a_personal_mobile(
    crm_people: tuple[list[dict[str, Any]], Any],
) -> None:
    records = crm_people[0] + _switchboard_people()
    config = default_person_config().model_copy(update=FAST)
    model = dedupe(records, config, workers=1).model
    scorer = Scorer(config, model)

    def weight(a: dict[str, Any], b: dict[str, Any]) -> float:
        return scorer.score(scorer.prepare(a), scorer.prepare(b)).weight

    shared = weight({"phone": "+8675588886666"}, {"phone": "+8675588886666"})
    personal = weight({"mobile": "+8613900000007"}, {"mobile": "+8613900000007"})
    landline = next(c for c in model.comparisons if c.name == "landline")
    assert landline.tf_common["+8675588886666"] >= 30  # holders counted by person, not by record
    assert personal - shared > 4  # bits: a switchboard says far less
    # two colleagues: switchboard, company and domain agree, names and mobiles differ → no link
    a, b = _switchboard_people()[0], _switchboard_people()[2]
    score = scorer.score(scorer.prepare(a), scorer.prepare(b))
    assert score.probability < config.review, score


def test_model_json_round_trip_scores_the_same(
    crm_people: tuple[list[dict[str, Any]], Any],
) -> None:
    records = crm_people[0][:1500]
    config = default_person_config().model_copy(update=FAST)
    model = dedupe(records, config, workers=1).model
    again = ScorerModel.from_json(model.to_json())
    assert again == model
    a, b = Scorer(config, model), Scorer(config, again)
    pa, pb = a.prepare(records[0]), a.prepare(records[1])
    assert a.score(pa, pb) == b.score(pa, pb)


def test_match_one_finds_the_stored_record(crm_people: tuple[list[dict[str, Any]], Any]) -> None:
    records, truth = crm_people
    config = default_person_config().model_copy(update=FAST)
    matcher = Matcher(config, dedupe(records, config, workers=1).model)
    index = InMemoryBlockingIndex()
    store = {}
    for i, record in enumerate(records[1:], start=1):
        store[str(i)] = record
        index.add(str(i), matcher.blocking_keys(record))

    def lookup(ids: Any) -> dict[str, dict[str, Any]]:
        return {i: store[i] for i in ids if i in store}

    linked = correct = 0
    for i in range(1, 400):
        incoming = records[i]
        index.remove(str(i))
        matches = matcher.match_one(incoming, index, lookup)
        decision, best = matcher.decide(matches)
        if decision == "link" and best is not None:
            linked += 1
            correct += truth[int(best.record_id)] == truth[i]
            assert best.levels
            assert best.contributions
        index.add(str(i), matcher.blocking_keys(incoming))
    assert linked > 150
    assert correct / linked > 0.97
    # the decision is about customers: several stored records of one person count once
    matches = matcher.match_one(records[0], index, lookup)
    by_person = matcher.best_by_cluster(matches, lambda rid: f"person-{truth[int(rid)]}")
    assert len(by_person) == len({truth[int(m.record_id)] for m in matches})
    assert [m for _, m in by_person] == sorted((m for _, m in by_person), key=lambda m: -m.weight)


def test_config_comparing_only_a_custom_identifier_and_birth_date() -> None:
    """A user whose data has membership numbers and birth dates, nothing else, matches on those."""
    config = EntityMatchConfig(
        comparisons=(
            ComparisonSpec(name="member", field="custom.member_no", comparator="identifier"),
            ComparisonSpec(name="born", field="birth_date", comparator="date"),
        ),
        blocking=(
            BlockingRule.model_validate({"name": "member", "on": ["identifier(custom.member_no)"]}),
            BlockingRule.model_validate({"name": "born", "on": ["date(birth_date)"]}),
        ),
        u_sample_pairs=20_000,
    )
    rng = np.random.default_rng(5)
    records, truth = [], []
    for person in range(600):
        member = f"VIP{100000 + person * 7}"
        born = f"19{rng.integers(50, 99)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        for copy in range(int(rng.integers(1, 4))):
            typo = copy == 2 and rng.random() < 0.5
            records.append({"custom.member_no": member[:-1] + "9" if typo else member,
                            "birth_date": born})  # fmt: skip
            truth.append(person)
    result = dedupe(records, config, workers=1)
    precision, recall, f1 = pairwise_f1(result.labels, np.array(truth))
    assert f1 > 0.95, (precision, recall)
    assert [c.name for c in result.model.comparisons] == ["member", "born"]


def test_match_config_defaults_per_entity_and_yaml_shaped_override() -> None:
    config = MatchConfig.model_validate(
        {"company": {"comparisons": [{"field": "name", "comparator": "company_name"}],
                     "blocking": [{"name": "n", "on": ["company(name)"]}], "link": 0.9}}
    )  # fmt: skip
    assert config.for_entity(EntityType.COMPANY).link == 0.9
    assert config.for_entity(EntityType.PERSON) == default_person_config()


def test_u_of_a_unique_identifier_falls_with_the_population() -> None:
    """Agreement on a mobile comes from the value counts, not from a fixed-size sample of random
    pairs: ten times the people, ten times rarer a chance agreement, so the weight of an exact mobile
    grows with the population as the prior falls, instead of stopping at half a sampled pair."""
    comparisons = build_comparisons(
        [ComparisonSpec(name="mobile", fields=("mobile",), comparator="phone", tf_adjust=True)]
    )
    different = comparisons[0].levels.index("different")
    random_levels = np.full((50_000, 1), different, dtype=np.int8)  # no agreement in the sample
    sample_floor = 0.5 / len(random_levels)
    exact = []
    for entities in (100_000, 1_000_000):
        shared = entities // 500  # as many values held by two people each, in proportion
        hashes = np.arange(entities, dtype=np.int64)
        hashes[:shared] = hashes[shared : 2 * shared]
        counts = [ValueCounts.of(hashes, entities, good_turing=True)]
        u = estimate_u(comparisons, random_levels, counts, by_entity=True)[0]
        analytic = shared * 2 / (entities * (entities - 1.0))
        assert u[1] == pytest.approx(analytic, rel=1e-6)
        assert u[1] < sample_floor
        assert u[different] == pytest.approx(1.0 - u[1:different].sum())
        exact.append(u[1])
    assert math.log2(exact[0] / exact[1]) == pytest.approx(math.log2(10), abs=0.01)
