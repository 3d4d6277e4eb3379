"""Clusters: the chaining guard, review decisions as constraints, and the batch end to end."""

from __future__ import annotations

from typing import Any

import numpy as np

from hub.identity.clustering import Constraints, StrongKeys, cluster_links, dedupe
from hub.identity.scorer import StrongKeySpec, default_person_config

from .conftest import pairwise_f1

EMAIL = StrongKeySpec(name="email", fields=("email", "email2"), kind="personal_email")
BIRTH = StrongKeySpec(name="birth_date", fields=("birth_date",))


def strong_keys(records: list[dict[str, Any]]) -> StrongKeys:
    keys = StrongKeys([EMAIL, BIRTH])
    for i, record in enumerate(records):
        keys.add(i, record)
    return keys


def clusters(
    records: list[dict[str, Any]],
    links: list[tuple[int, int, float]],
    must: list[tuple[int, int]] | None = None,
    cannot: list[tuple[int, int]] | None = None,
) -> list[int]:
    left = np.array([a for a, _, _ in links], dtype=np.int64)
    right = np.array([b for _, b, _ in links], dtype=np.int64)
    weights = np.array([w for _, _, w in links], dtype=np.float64)
    labels, _ = cluster_links(
        len(records), left, right, weights, link_weight=5.0, conflict_weight=20.0,
        strong=strong_keys(records), must_link=must or [], cannot_link=cannot or [],
    )  # fmt: skip
    return labels.tolist()


COLLEAGUES = [
    {"full_name": "张伟", "email": "zhang.wei@acme.cn", "phone": "+8675588886666"},
    {"full_name": "Zhang Wei", "email": "zhang.wei@acme.cn", "mobile": "+8613800000001"},
    {"full_name": "李娜", "email": "li.na@acme.cn", "phone": "+8675588886666"},
    {"full_name": "Li Na", "email": "li.na@acme.cn", "mobile": "+8613800000002"},
]


def test_weak_link_does_not_chain_two_people_with_different_work_emails() -> None:
    # 0-1 and 2-3 are strong; 0-2 is a weak link (switchboard + company domain) above the link
    # threshold but far below what joining two different personal emails at one domain needs
    labels = clusters(COLLEAGUES, [(0, 1, 30.0), (2, 3, 30.0), (0, 2, 8.0)])
    assert labels[0] == labels[1]
    assert labels[2] == labels[3]
    assert labels[0] != labels[2]


def test_overwhelming_evidence_still_joins_despite_a_conflict() -> None:
    labels = clusters(COLLEAGUES, [(0, 1, 30.0), (2, 3, 30.0), (0, 2, 25.0)])
    assert len(set(labels)) == 1


def test_work_and_private_mailboxes_of_one_person_do_not_conflict() -> None:
    records = [
        {"full_name": "张伟", "email": "zhang.wei@acme.cn"},
        {"full_name": "张伟", "email": "13800138@qq.com"},
        {"full_name": "张伟", "birth_date": "1980-02-03"},
        {"full_name": "张伟", "birth_date": "1975-08-21"},
    ]
    labels = clusters(records, [(0, 1, 8.0), (1, 2, 8.0), (2, 3, 8.0)])
    # work + private mail join; two birth dates conflict and the weak link is refused
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] != labels[2]


def test_typos_in_strong_keys_are_no_conflict() -> None:
    records = [
        {"full_name": "张伟", "email": "zhang.wei@acme.cn", "birth_date": "1980-02-03"},
        {"full_name": "张伟", "email": "zhnag.wei@acme.cn", "birth_date": "1980-03-02"},
    ]
    assert len(set(clusters(records, [(0, 1, 8.0)]))) == 1


def test_must_link_joins_whatever_the_score() -> None:
    records = [{"full_name": "张伟"}, {"full_name": "David Zhang"}, {"full_name": "王芳"}]
    assert clusters(records, [], must=[(0, 1)]) == [0, 0, 2]


def test_cannot_link_holds_directly_and_through_others() -> None:
    records = [{"full_name": "张伟"}, {"full_name": "张伟"}, {"full_name": "张伟"}]
    links = [(0, 1, 12.0), (1, 2, 11.0), (0, 2, 10.0)]
    labels = clusters(records, links, cannot=[(0, 2)])
    assert labels[0] != labels[2]
    assert labels[1] in (labels[0], labels[2])


def test_dedupe_keeps_colleagues_apart_and_honours_review_decisions(
    crm_people: tuple[list[dict[str, Any]], Any],
) -> None:
    """End to end: two colleagues behind one switchboard at one company domain, with different
    personal emails, stay apart; a review decision is respected over the scores."""
    background, _ = crm_people
    people = [
        {"full_name": "张伟", "email": "zhang.wei@tengda.cn", "phone": "+8675588886666",
         "company_name": "深圳市腾达电子有限公司", "city": "深圳"},
        {"full_name": "Zhang Wei", "email": "zhang.wei@tengda.cn", "mobile": "+8613911112222"},
        {"full_name": "张伟强", "email": "zhang.weiqiang@tengda.cn", "phone": "+8675588886666",
         "company_name": "腾达电子有限公司", "city": "深圳"},
        {"full_name": "张伟强", "email": "zhang.weiqiang@tengda.cn", "mobile": "+8613933334444"},
    ]  # fmt: skip
    records = background + people
    ids = [f"r{i}" for i in range(len(records))]
    config = default_person_config().model_copy(update={"u_sample_pairs": 30_000})
    n = len(background)
    result = dedupe(records, config, ids=ids, workers=1)
    labels = result.labels
    assert labels[n] == labels[n + 1]
    assert labels[n + 2] == labels[n + 3]
    assert labels[n] != labels[n + 2]

    decided = Constraints(cannot_link=[(ids[n], ids[n + 1])], must_link=[(ids[n], ids[n + 2])])
    again = dedupe(records, config, ids=ids, constraints=decided, workers=1).labels
    assert again[n] == again[n + 2]
    assert again[n] != again[n + 1]
    assert result.summary()["clusters"] == len(np.unique(labels))


def test_parallel_comparison_gives_the_same_clusters(
    crm_people: tuple[list[dict[str, Any]], Any],
) -> None:
    records, truth = crm_people
    config = default_person_config().model_copy(update={"u_sample_pairs": 30_000})
    one = dedupe(records[:1200], config, workers=1)
    two = dedupe(records[:1200], config, workers=2)
    assert np.array_equal(one.labels, two.labels)
    assert pairwise_f1(one.labels, truth[:1200])[2] > 0.85
