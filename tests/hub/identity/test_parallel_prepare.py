"""Preparing a batch in forked workers gives exactly the batch one process prepares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hub.identity import scorer
from hub.identity.scorer import default_person_config, prepare_batch


def test_parallel_preparation_equals_serial(
    crm_people: tuple[list[dict[str, Any]], np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    records, _ = crm_people
    config = default_person_config()
    seen_serial: list[int] = []
    serial = prepare_batch(records, config, each=lambda i, _r: seen_serial.append(i))
    monkeypatch.setattr(scorer, "_PREPARE_CHUNK", 500)
    seen_parallel: list[int] = []
    parallel = prepare_batch(
        iter(records), config, each=lambda i, _r: seen_parallel.append(i), workers=2
    )
    assert seen_parallel == seen_serial == list(range(len(records)))
    assert parallel.prepared == serial.prepared
    for mine, theirs in zip(parallel.value_records, serial.value_records, strict=True):
        assert np.array_equal(mine, theirs)
    for mine, theirs in zip(parallel.value_hashes, serial.value_hashes, strict=True):
        assert np.array_equal(mine, theirs)
    assert parallel.blocks.records == serial.blocks.records
    assert parallel.blocks.hashes == serial.blocks.hashes
    assert len(parallel.blocks.hashes[0]) > 0
