"""The one-pair pooling used by incremental matching gives the batch's figure, for every grouping."""

from __future__ import annotations

import numpy as np

from hub.identity.compare import build_comparisons
from hub.identity.scorer import (
    comparison_groups,
    default_company_config,
    default_person_config,
    group_index,
    pool,
    pool_one,
)


def test_pool_one_equals_the_batch_pool() -> None:
    rng = np.random.default_rng(5)
    for config in (default_person_config(), default_company_config()):
        comparisons = build_comparisons(config.comparisons)
        groups = comparison_groups(comparisons)
        names = group_index(comparisons)
        joinable = {
            c: names[s.spec.shared_group] for c, s in enumerate(comparisons) if s.spec.shared_group
        }
        for _ in range(300):
            row = rng.normal(0, 4, len(comparisons)).round(3)
            row[rng.random(len(comparisons)) < 0.3] = 0.0  # missing fields weigh nothing
            shared = {c: g for c, g in joinable.items() if rng.random() < 0.5}
            batch = pool(
                row[None, :], groups, {c: (g, np.array([True])) for c, g in shared.items()}
            )
            assert abs(pool_one(row.tolist(), groups, shared) - float(batch[0])) < 1e-9
