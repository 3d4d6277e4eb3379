"""Shared helpers: the labelled synthetic CRM data of ``bench/synth_crm.py``, small."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

_BENCH = Path(__file__).resolve().parents[3] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", _BENCH / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synth() -> ModuleType:
    return _load("synth_crm")


@pytest.fixture(scope="session")
def crm_people(synth: ModuleType) -> tuple[list[dict[str, Any]], np.ndarray]:
    """About 2,800 person records of ~1,200 people, and each record's true person (an index)."""
    rows = [r for r in synth.generate(3000, seed=11) if r["entity"] == "Person"]
    meta = ("entity", "system", "external_id", "true_id")
    records = [{k: v for k, v in r.items() if k not in meta} for r in rows]
    _, truth = np.unique([r["true_id"] for r in rows], return_inverse=True)
    return records, truth


def pairwise_f1(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of record pairs sharing a cluster vs sharing a true entity."""

    def pairs(counts: np.ndarray) -> int:
        return int((counts * (counts - 1) // 2).sum())

    joint = labels.astype(np.int64) * (int(truth.max()) + 1) + truth
    tp = pairs(np.unique(joint, return_counts=True)[1])
    predicted = pairs(np.unique(labels, return_counts=True)[1])
    actual = pairs(np.unique(truth, return_counts=True)[1])
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall)
