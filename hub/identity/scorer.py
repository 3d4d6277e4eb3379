"""Fellegi–Sunter scoring: how much each comparison level says, learned from the data.

For each comparison level, m = P(level | same entity) and u = P(level | different entities). A pair's
match weight is ``log2(λ/(1-λ)) + Σ log2(m/u)`` over its levels (missing fields add nothing), and its
probability ``1 / (1 + 2^-weight)`` (Fellegi & Sunter, 1969; the formulation of Splink,
https://moj-analytical-services.github.io/splink/topic_guides/theory/fellegi_sunter.html).

How the parameters are estimated (``train``):

- **u** from random pairs, which are almost all non-matches. The exact-agreement level is cross-checked
  with the value frequencies (``Σ c(c-1) / T(T-1)``) so a rare agreement is not estimated from zero.
- **m** by expectation–maximisation on the blocked pairs, one session per blocking rule. Pairs found by a
  rule agree on that rule's fields by construction, so in that session the comparisons on those fields
  are left out of the likelihood; each comparison's m is the mean over the sessions that estimated it
  (Splink's scheme; https://moj-analytical-services.github.io/splink/topic_guides/training/training_rationale.html).
  u stays fixed during EM unless ``refine_u`` asks otherwise.
- **λ**, the probability two random records match, as the fixed point of ``λ = Σ posterior(pair | λ) /
  (N(N-1)/2)`` over the blocked pairs (pairs no rule blocks are taken as non-matches).
- **Term frequency**: agreeing on a common value (a shared switchboard, 张伟, a generic mailbox) is
  weaker evidence: at a level where ``tf_adjust`` applies, the weight moves by
  ``log2(u_agree / f(value))`` where f is the value's relative frequency, bounded above by
  ``tf_max_boost`` bits.

Thresholds are probabilities: at or above ``link`` → link, at or above ``review`` → review, else new.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
from array import array
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from hub.identity.blocking import BlockingIndex, BlockingRule, BlockKeys, Blocker, candidate_pairs
from hub.identity.compare import (
    MISSING,
    Comparison,
    ComparisonSpec,
    build_comparisons,
    compare_prepared,
    prepare_record,
)
from hub.model import EntityType

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
LevelArray = npt.NDArray[np.int8]

_M_FLOOR = 1e-5
_U_FLOOR = 1e-8


# ------------------------------------------------------------------------------------ configuration


class StrongKeySpec(BaseModel):
    """Values that, when two clusters both hold them and share none, say they are different entities
    (two credit codes, two birth dates, two personal emails): such a join needs ``conflict_link``.

    ``personal_email`` ignores role mailboxes (info@, sales@) that many people share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    fields: tuple[str, ...]
    kind: Literal["value", "personal_email"] = "value"


class EntityMatchConfig(BaseModel):
    """How records of one entity type are matched. Probabilities for thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comparisons: tuple[ComparisonSpec, ...]
    blocking: tuple[BlockingRule, ...]
    strong_keys: tuple[StrongKeySpec, ...] = ()
    link: float = Field(0.97, gt=0, lt=1)
    review: float = Field(0.6, gt=0, lt=1)
    # A link that would join two clusters holding conflicting strong keys must reach this.
    conflict_link: float = Field(0.99999, gt=0, lt=1)
    max_block: int = Field(40, ge=2)
    max_candidates: int = Field(400, ge=1)
    u_sample_pairs: int = Field(200_000, ge=1000)
    em_max_iterations: int = Field(200, ge=1)
    refine_u: bool = False
    tf_max_boost: float = 3.0
    tf_model_values: int = Field(20_000, ge=0)
    tf_model_min_count: int = Field(3, ge=2)

    def fields(self) -> set[str]:
        return {f for spec in self.comparisons for f in spec.fields}


def _c(name: str, fields: Sequence[str], comparator: str, tf: bool = False) -> ComparisonSpec:
    return ComparisonSpec.model_validate(
        {"name": name, "fields": tuple(fields), "comparator": comparator, "tf_adjust": tf}
    )


def _rule(name: str, on: Sequence[str], refine: Sequence[str] = ()) -> BlockingRule:
    return BlockingRule.model_validate({"name": name, "on": tuple(on), "refine": tuple(refine)})


def default_person_config() -> EntityMatchConfig:
    return EntityMatchConfig(
        comparisons=(
            _c("name", ["full_name"], "person_name", tf=True),
            _c("email", ["email", "email2"], "email", tf=True),
            _c("phone", ["mobile", "phone"], "phone", tf=True),
            _c("company", ["company_name"], "company_name", tf=True),
            _c("city", ["city"], "place"),
            _c("birth_date", ["birth_date"], "date"),
            _c("street", ["street"], "street"),
            _c("street_number", ["street"], "street_number"),
            _c("postcode", ["postcode"], "postcode"),
        ),
        blocking=(
            _rule("email", ["email(email, email2)"]),
            _rule("email_local", ["email_local(email, email2)"], ["surname(full_name)"]),
            _rule("phone", ["phone_last8(mobile, phone)"], ["name(full_name)"]),
            _rule("name", ["name(full_name)"], ["place(city)"]),
            _rule("name_company", ["surname(full_name)", "company_tokens(company_name)"]),
            _rule(
                "address", ["postcode(postcode)", "street_number(street)"], ["surname(full_name)"]
            ),
        ),
        strong_keys=(
            StrongKeySpec(name="email", fields=("email", "email2"), kind="personal_email"),
            StrongKeySpec(name="birth_date", fields=("birth_date",)),
        ),
    )


def default_company_config() -> EntityMatchConfig:
    return EntityMatchConfig(
        comparisons=(
            _c("name", ["name"], "company_name", tf=True),
            _c("credit_code", ["credit_code"], "identifier"),
            _c("tax_id", ["tax_id"], "identifier"),
            _c("domain", ["domain"], "exact", tf=True),
            _c("phone", ["phone"], "phone", tf=True),
            _c("email", ["email"], "email", tf=True),
            _c("city", ["city"], "place"),
            _c("street", ["street"], "street"),
            _c("street_number", ["street"], "street_number"),
            _c("postcode", ["postcode"], "postcode"),
            _c("founded", ["founded"], "date"),
        ),
        blocking=(
            _rule("credit_code", ["identifier(credit_code)"]),
            _rule("tax_id", ["identifier(tax_id)"]),
            _rule("name", ["company(name)"], ["place(city)"]),
            _rule("name_tokens", ["company_tokens(name)"], ["place(city)"]),
            _rule("domain", ["domain(domain, email)"]),
            _rule("phone", ["phone_last8(phone)"]),
            _rule("address", ["postcode(postcode)", "street_number(street)"]),
        ),
        strong_keys=(
            StrongKeySpec(name="credit_code", fields=("credit_code",)),
            StrongKeySpec(name="tax_id", fields=("tax_id",)),
        ),
    )


def default_employee_config() -> EntityMatchConfig:
    return EntityMatchConfig(
        comparisons=(
            _c("name", ["full_name"], "person_name", tf=True),
            _c("email", ["email"], "email", tf=True),
            _c("phone", ["mobile", "phone"], "phone", tf=True),
            _c("employee_no", ["employee_no"], "identifier"),
            _c("department", ["department"], "text"),
        ),
        blocking=(
            _rule("email", ["email(email)"]),
            _rule("phone", ["phone_last8(mobile, phone)"], ["name(full_name)"]),
            _rule("employee_no", ["identifier(employee_no)"]),
            _rule("name", ["name(full_name)"]),
        ),
        strong_keys=(
            StrongKeySpec(name="employee_no", fields=("employee_no",)),
            StrongKeySpec(name="email", fields=("email",), kind="personal_email"),
        ),
    )


class MatchConfig(BaseModel):
    """Matching configuration per entity type; any type not given uses its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person: EntityMatchConfig = Field(default_factory=default_person_config)
    company: EntityMatchConfig = Field(default_factory=default_company_config)
    employee: EntityMatchConfig = Field(default_factory=default_employee_config)

    def for_entity(self, entity: EntityType) -> EntityMatchConfig:
        return {
            EntityType.PERSON: self.person,
            EntityType.COMPANY: self.company,
            EntityType.EMPLOYEE: self.employee,
        }[entity]


# ---------------------------------------------------------------------------------------- the model


class LevelParams(BaseModel):
    name: str
    m: float
    u: float


class ComparisonParams(BaseModel):
    name: str
    comparator: str
    fields: tuple[str, ...]
    levels: list[LevelParams]
    tf_total: int = 0  # values counted for term frequency
    tf_rare: float = 0.0  # relative frequency assumed for a value not in ``tf_common``
    tf_common: dict[str, int] = Field(default_factory=dict)  # frequent values → count

    def weight(self, level: int) -> float:
        if level == MISSING:
            return 0.0
        params = self.levels[level]
        return math.log2(params.m / params.u)


class ScorerModel(BaseModel):
    """Everything the scorer learned; JSON so the store can keep it (``to_json`` / ``from_json``)."""

    version: int = 1
    prior: float  # λ: the probability that two random records are the same entity
    n_records: int
    comparisons: list[ComparisonParams]
    training: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> ScorerModel:
        return cls.model_validate_json(text)

    def check_matches(self, config: EntityMatchConfig) -> None:
        names = [(c.name, c.comparator, c.fields) for c in self.comparisons]
        wanted = [(s.name, s.comparator, s.fields) for s in config.comparisons]
        if names != wanted:
            raise ValueError(
                "the scorer model was trained with other comparisons than the configuration "
                f"names (model: {names}; config: {wanted}); train it again"
            )


def probability(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-weight)) if weight > -1000 else 0.0


def weight_of(probability_: float) -> float:
    return math.log2(probability_ / (1.0 - probability_))


# ------------------------------------------------------------------------------------------ scorer


@dataclass(slots=True)
class PairScore:
    weight: float
    probability: float
    levels: dict[str, str]  # comparison → level name
    contributions: dict[str, float]  # comparison → weight it added (with term frequency)


class Scorer:
    """A trained model bound to the configured comparisons: scores prepared pairs."""

    def __init__(self, config: EntityMatchConfig, model: ScorerModel) -> None:
        model.check_matches(config)
        self.config = config
        self.model = model
        self.comparisons = build_comparisons(config.comparisons)
        self.prior_weight = weight_of(min(max(model.prior, 1e-300), 1 - 1e-12))
        self.weights: list[list[float]] = [
            [params.weight(level) for level in range(len(params.levels))]
            for params in model.comparisons
        ]
        self.tf_u: list[float] = []
        for comparison, params in zip(self.comparisons, model.comparisons, strict=True):
            agree = sum(params.levels[lv].u for lv in comparison.tf_levels)
            self.tf_u.append(agree)

    def prepare(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        return prepare_record(self.comparisons, record)

    def tf_adjustment(self, index: int, frequency: float) -> float:
        """Weight added at a term-frequency level for a value of this relative frequency."""
        agree = self.tf_u[index]
        if frequency <= 0 or agree <= 0:
            return 0.0
        return min(math.log2(agree / frequency), self.config.tf_max_boost)

    def _model_frequency(self, index: int, value: str | None) -> float:
        params = self.model.comparisons[index]
        if value is None or params.tf_total == 0:
            return 0.0
        count = params.tf_common.get(value)
        return count / params.tf_total if count else params.tf_rare

    def score(self, a: Sequence[Any], b: Sequence[Any]) -> PairScore:
        """Score two prepared records (``prepare``), with the model's term frequencies."""
        levels = compare_prepared(self.comparisons, a, b)
        weight = self.prior_weight
        names: dict[str, str] = {}
        contributions: dict[str, float] = {}
        for index, (comparison, level) in enumerate(zip(self.comparisons, levels, strict=True)):
            added = self.weights[index][level]
            if level in comparison.tf_levels:
                value = comparison.pair_tf_key(a[index], b[index], level)
                added += self.tf_adjustment(index, self._model_frequency(index, value))
            weight += added
            names[comparison.name] = comparison.levels[level]
            contributions[comparison.name] = round(added, 3)
        return PairScore(weight, probability(weight), names, contributions)

    def batch_weights(self, levels: LevelArray, tf_frequencies: FloatArray) -> FloatArray:
        """Weights of many compared pairs at once (``tf_frequencies``: pairs × comparisons, 0 = none)."""
        total = np.full(len(levels), self.prior_weight, dtype=np.float64)
        for index, comparison in enumerate(self.comparisons):
            table = np.asarray(self.weights[index], dtype=np.float64)
            column = levels[:, index]
            total += table[column]
            if comparison.tf_levels and self.tf_u[index] > 0:
                freq = tf_frequencies[:, index]
                at_tf = np.isin(column, list(comparison.tf_levels)) & (freq > 0)
                adjust = np.zeros(len(levels))
                adjust[at_tf] = np.minimum(
                    np.log2(self.tf_u[index] / freq[at_tf]), self.config.tf_max_boost
                )
                total += adjust
        return total


# ------------------------------------------------------------------------------- batch preparation


@dataclass
class ValueCounts:
    """How many records hold each value (by hash) of one comparison, for u and term frequency."""

    hashes: IntArray
    counts: IntArray
    total: int

    def lookup(self, hashes: IntArray) -> IntArray:
        if len(self.hashes) == 0:
            return np.zeros(len(hashes), dtype=np.int64)
        at = np.clip(np.searchsorted(self.hashes, hashes), 0, len(self.hashes) - 1)
        found = self.hashes[at] == hashes
        return np.where(found, self.counts[at], 0)

    def agreement_probability(self) -> float:
        """P(two random values are equal) = Σ c(c-1) / T(T-1)."""
        if self.total < 2:
            return 0.0
        c = self.counts.astype(np.float64)
        return float((c * (c - 1)).sum() / (self.total * (self.total - 1.0)))


@dataclass
class PreparedBatch:
    """Records of one entity type made ready for batch matching (their raw values are not kept)."""

    config: EntityMatchConfig
    comparisons: list[Comparison]
    prepared: list[tuple[Any, ...]]
    value_counts: list[ValueCounts]
    blocks: BlockKeys

    def __len__(self) -> int:
        return len(self.prepared)


def prepare_batch(
    records: Iterable[Mapping[str, Any]],
    config: EntityMatchConfig,
    each: Callable[[int, Mapping[str, Any]], None] | None = None,
) -> PreparedBatch:
    """One pass over the records: prepared values, value counts, blocking keys. ``each(index, record)``
    lets the caller keep what else it needs (strong keys, labels) without a second pass."""
    comparisons = build_comparisons(config.comparisons)
    blocker = Blocker(config.blocking)
    blocks = BlockKeys(len(config.blocking))
    value_hashes = [array("q") for _ in comparisons]
    prepared: list[tuple[Any, ...]] = []
    for index, record in enumerate(records):
        values = prepare_record(comparisons, record)
        prepared.append(values)
        for c, comparison in enumerate(comparisons):
            if values[c] is not None:
                value_hashes[c].extend(hash(k) for k in comparison.tf_keys(values[c]))
        blocks.add(index, blocker.keys_by_rule(record))
        if each is not None:
            each(index, record)
    counts = []
    for hashes in value_hashes:
        unique, count = np.unique(np.frombuffer(hashes, dtype=np.int64), return_counts=True)
        counts.append(ValueCounts(unique, count.astype(np.int64), int(count.sum())))
    return PreparedBatch(config, comparisons, prepared, counts, blocks)


# ---------------------------------------------------------------------------------- pair comparison

# Read by forked workers: set just before the pool starts, inherited copy-on-write.
_WORK: dict[str, Any] = {}


def _compare_range(bounds: tuple[int, int]) -> tuple[bytes, bytes]:
    start, stop = bounds
    comparisons: list[Comparison] = _WORK["comparisons"]
    prepared: list[tuple[Any, ...]] = _WORK["prepared"]
    left: list[int] = _WORK["left"][start:stop].tolist()
    right: list[int] = _WORK["right"][start:stop].tolist()
    functions = [c.compare for c in comparisons]
    tf_columns = [(i, c) for i, c in enumerate(comparisons) if c.tf_levels]
    width = len(comparisons)
    levels = array("b")
    tf_hashes = array("q", bytes(8 * width * (stop - start)))
    for row, (i, j) in enumerate(zip(left, right, strict=True)):
        a = prepared[i]
        b = prepared[j]
        found = [
            MISSING if x is None or y is None else f(x, y)
            for f, x, y in zip(functions, a, b, strict=True)
        ]
        levels.extend(found)
        for c, comparison in tf_columns:
            level = found[c]
            if level in comparison.tf_levels:
                value = comparison.pair_tf_key(a[c], b[c], level)
                if value is not None:
                    tf_hashes[row * width + c] = hash(value)
    return levels.tobytes(), tf_hashes.tobytes()


def compare_pairs(
    comparisons: Sequence[Comparison],
    prepared: Sequence[tuple[Any, ...]],
    left: IntArray,
    right: IntArray,
    workers: int = 1,
    chunk: int = 100_000,
) -> tuple[LevelArray, IntArray]:
    """Levels (pairs × comparisons) and, at term-frequency levels, the hash of the shared value.

    With ``workers`` > 1 the pairs are split across forked processes (copy-on-write: the prepared
    records are not pickled). Where fork is unavailable it runs in this process."""
    width = len(comparisons)
    _WORK.update(comparisons=list(comparisons), prepared=prepared, left=left, right=right)
    bounds = [(s, min(s + chunk, len(left))) for s in range(0, len(left), chunk)]
    try:
        if workers > 1 and len(bounds) > 1 and "fork" in multiprocessing.get_all_start_methods():
            gc.collect()
            gc.freeze()  # keep the collector from touching (and so copying) every inherited object
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    parts = pool.map(_compare_range, bounds, chunksize=1)
            finally:
                gc.unfreeze()
        else:
            parts = [_compare_range(b) for b in bounds]
    finally:
        _WORK.clear()
    levels = np.frombuffer(b"".join(p[0] for p in parts), dtype=np.int8).reshape(-1, width)
    hashes = np.frombuffer(b"".join(p[1] for p in parts), dtype=np.int64).reshape(-1, width)
    return levels, hashes


# --------------------------------------------------------------------------------------- estimation


def _random_pairs(n: int, count: int, seed: int) -> tuple[IntArray, IntArray]:
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=count, dtype=np.int64)
    right = rng.integers(0, n - 1, size=count, dtype=np.int64)
    right = right + (right >= left)  # never a record with itself
    return left, right


def estimate_u(batch: PreparedBatch, levels: LevelArray) -> list[FloatArray]:
    """u per comparison level from random pairs' levels, the exact level checked against value counts."""
    u_all: list[FloatArray] = []
    for c, comparison in enumerate(batch.comparisons):
        size = len(comparison.levels)
        counts = np.bincount(levels[:, c].astype(np.int64), minlength=size).astype(np.float64)
        counts[MISSING] = 0.0
        observed = counts.sum()
        u = np.zeros(size)
        if observed > 0:
            u = counts / observed
        agree_levels = sorted(comparison.comparator.tf_levels) or [1]
        agree_observed = counts[agree_levels].sum()
        analytic = batch.value_counts[c].agreement_probability()
        if agree_observed < 30 and analytic > 0:
            # Too few random pairs agree to estimate it: use the value counts instead.
            share = (
                counts[agree_levels] / agree_observed
                if agree_observed > 0
                else np.eye(len(agree_levels))[0]
            )
            rest = [lv for lv in range(1, size) if lv not in agree_levels]
            rest_total = u[rest].sum()
            u[agree_levels] = analytic * share
            if rest_total > 0:
                u[rest] *= (1.0 - analytic) / rest_total
        # Levels never seen among random pairs are rare, not impossible.
        u[1:] = np.maximum(u[1:], 0.5 / max(observed, 1.0))
        u[1:] = np.maximum(u[1:], _U_FLOOR)
        u[1:] /= u[1:].sum()
        u[MISSING] = 1.0
        u_all.append(u)
    return u_all


def _initial_m(size: int) -> FloatArray:
    """A starting point: agreement likely among matches, disagreement unlikely."""
    m = np.zeros(size)
    if size <= 2:
        return np.array([1.0, 1.0])[:size]
    m[1] = 0.7
    middle = list(range(2, size - 1))
    for lv in middle:
        m[lv] = 0.25 / len(middle)
    m[size - 1] = 0.05
    m[1:] /= m[1:].sum()
    m[MISSING] = 1.0
    return m


@dataclass
class EmResult:
    m: list[FloatArray]
    u: list[FloatArray]
    prior: float
    iterations: int
    converged: bool


def expectation_maximisation(
    patterns: LevelArray,
    counts: FloatArray,
    m_start: Sequence[FloatArray],
    u_start: Sequence[FloatArray],
    active: Sequence[bool],
    prior: float = 0.1,
    refine_u: bool = False,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> EmResult:
    """EM for the two-class mixture over comparison patterns (rows of levels, with their counts).

    Only ``active`` comparisons enter the likelihood and are re-estimated; level 0 (missing) is
    ignored. u stays as given unless ``refine_u``."""
    m = [np.array(x, dtype=np.float64) for x in m_start]
    u = [np.array(x, dtype=np.float64) for x in u_start]
    columns = [patterns[:, c].astype(np.int64) for c in range(patterns.shape[1])]
    iterations = 0
    converged = False
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        log_m = np.zeros(len(patterns))
        log_u = np.zeros(len(patterns))
        for c, column in enumerate(columns):
            if active[c]:
                log_m += np.log(m[c])[column] * (column != MISSING)
                log_u += np.log(u[c])[column] * (column != MISSING)
        log_odds = math.log(prior) - math.log1p(-prior) + log_m - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        matched = counts * posterior
        unmatched = counts - matched
        new_prior = float(matched.sum() / counts.sum())
        change = abs(new_prior - prior)
        prior = min(max(new_prior, 1e-9), 1 - 1e-9)
        for c, column in enumerate(columns):
            if not active[c]:
                continue
            size = len(m[c])
            for estimate, weights, floor in ((m, matched, _M_FLOOR), (u, unmatched, _U_FLOOR)):
                if estimate is u and not refine_u:
                    continue
                totals = np.bincount(column, weights=weights, minlength=size)
                totals[MISSING] = 0.0
                if totals.sum() <= 0:
                    continue
                new = np.maximum(totals / totals.sum(), floor)
                new[1:] /= new[1:].sum()
                new[MISSING] = 1.0
                change = max(change, float(np.abs(new - estimate[c]).max()))
                estimate[c] = new
        if change < tolerance:
            converged = True
            break
    return EmResult(m, u, prior, iterations, converged)


def _patterns(levels: LevelArray, active: Sequence[bool]) -> tuple[LevelArray, FloatArray]:
    """Distinct rows (inactive columns zeroed) and how often each occurs."""
    masked = levels * np.asarray(active, dtype=np.int8)[None, :]
    unique, counts = np.unique(masked, axis=0, return_counts=True)
    return unique.astype(np.int8), counts.astype(np.float64)


def estimate_prior(weights_without_prior: FloatArray, n_records: int, start: float) -> float:
    """λ as the fixed point of ``λ = Σ_blocked P(match | weight, λ) / (N(N-1)/2)``."""
    all_pairs = n_records * (n_records - 1) / 2.0
    if all_pairs <= 0 or len(weights_without_prior) == 0:
        return start
    prior = start
    for _ in range(200):
        offset = math.log2(prior / (1 - prior))
        z = np.clip(weights_without_prior + offset, -1000, 1000)
        expected = float((1.0 / (1.0 + np.exp2(-z))).sum())
        new = min(max(expected / all_pairs, 1e-15), 0.5)
        if abs(new - prior) <= 1e-6 * prior:
            return new
        prior = new
    return prior


# ------------------------------------------------------------------------------------------ training


@dataclass
class ScoredPairs:
    """Blocked pairs of a batch with their levels and weights (record indexes, ``left < right``)."""

    left: IntArray
    right: IntArray
    levels: LevelArray
    weights: FloatArray
    rules: npt.NDArray[np.uint32]
    stats: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.left)


@dataclass
class Trained:
    model: ScorerModel
    scorer: Scorer
    pairs: ScoredPairs


def _tf_frequencies(batch: PreparedBatch, tf_hashes: IntArray) -> FloatArray:
    frequencies = np.zeros(tf_hashes.shape, dtype=np.float64)
    for c, comparison in enumerate(batch.comparisons):
        if not comparison.tf_levels:
            continue
        column = tf_hashes[:, c]
        present = column != 0
        counts = batch.value_counts[c]
        if counts.total:
            frequencies[present, c] = counts.lookup(column[present]) / counts.total
    return frequencies


def _common_values(batch: PreparedBatch, c: int) -> dict[str, int]:
    """The most frequent values of a term-frequency comparison, as text for the stored model."""
    config = batch.config
    counts = batch.value_counts[c]
    frequent = counts.counts >= config.tf_model_min_count
    if not frequent.any() or config.tf_model_values == 0:
        return {}
    order = np.argsort(-counts.counts[frequent], kind="stable")[: config.tf_model_values]
    wanted = dict(
        zip(
            counts.hashes[frequent][order].tolist(),
            counts.counts[frequent][order].tolist(),
            strict=True,
        )
    )
    comparison = batch.comparisons[c]
    found: dict[str, int] = {}
    for values in batch.prepared:
        if values[c] is None:
            continue
        for key in comparison.tf_keys(values[c]):
            count = wanted.get(hash(key))
            if count is not None:
                found[key] = count
        if len(found) == len(wanted):
            break
    return found


def train(
    batch: PreparedBatch,
    workers: int = 1,
    seed: int = 0,
    report: Callable[[str, dict[str, Any]], None] | None = None,
) -> Trained:
    """Estimate u, m, λ and term frequencies on a prepared batch; score its blocked pairs."""
    config = batch.config
    comparisons = batch.comparisons
    n = len(batch)
    say = report or (lambda _event, _data: None)
    if n < 2:
        raise ValueError("training needs at least two records")

    pairs = candidate_pairs(batch.blocks, n, config.max_block)
    say("blocked", {"pairs": len(pairs), "per_rule": pairs.pairs_per_rule,
                    "skipped_blocks": pairs.skipped_blocks_per_rule})  # fmt: skip

    sample = min(config.u_sample_pairs, n * (n - 1) // 2)
    u_left, u_right = _random_pairs(n, sample, seed)
    u_levels, _ = compare_pairs(comparisons, batch.prepared, u_left, u_right, workers)
    u = estimate_u(batch, u_levels)
    say("u", {"pairs": sample})

    levels, tf_hashes = compare_pairs(comparisons, batch.prepared, pairs.left, pairs.right, workers)
    say("compared", {"pairs": len(pairs)})

    m_sums = [np.zeros(len(c.levels)) for c in comparisons]
    m_sessions = [0] * len(comparisons)
    sessions: list[dict[str, Any]] = []
    for r, rule in enumerate(config.blocking):
        in_rule = (pairs.rules & np.uint32(1 << r)) != 0
        if not in_rule.any():
            continue
        blocked_fields = rule.fields()
        active = [not (set(c.fields) & blocked_fields) for c in comparisons]
        if not any(active):
            continue
        patterns, counts = _patterns(levels[in_rule], active)
        result = expectation_maximisation(
            patterns, counts, [_initial_m(len(c.levels)) for c in comparisons], u, active,
            refine_u=config.refine_u, max_iterations=config.em_max_iterations,
        )  # fmt: skip
        for c, on in enumerate(active):
            if on:
                m_sums[c] += result.m[c]
                m_sessions[c] += 1
                if config.refine_u:
                    u[c] = result.u[c]
        sessions.append({"rule": rule.name, "pairs": int(in_rule.sum()), "prior": result.prior,
                         "iterations": result.iterations, "converged": result.converged})  # fmt: skip
    m = [
        m_sums[c] / m_sessions[c] if m_sessions[c] else _initial_m(len(comp.levels))
        for c, comp in enumerate(comparisons)
    ]
    say("em", {"sessions": sessions})

    params = []
    for c, comparison in enumerate(comparisons):
        counts_c = batch.value_counts[c]
        common = _common_values(batch, c) if comparison.tf_levels else {}
        rare_total = counts_c.total - sum(common.values())
        rare_values = len(counts_c.hashes) - len(common)
        params.append(
            ComparisonParams(
                name=comparison.name,
                comparator=comparison.spec.comparator,
                fields=comparison.fields,
                levels=[
                    LevelParams(name=name, m=float(m[c][lv]), u=float(u[c][lv]))
                    for lv, name in enumerate(comparison.levels)
                ],
                tf_total=counts_c.total if comparison.tf_levels else 0,
                tf_rare=(rare_total / rare_values / counts_c.total)
                if comparison.tf_levels and rare_values and counts_c.total
                else 0.0,
                tf_common=common,
            )
        )
    provisional = ScorerModel(prior=0.5, n_records=n, comparisons=params)
    scorer = Scorer(config, provisional)
    frequencies = _tf_frequencies(batch, tf_hashes)
    without_prior = scorer.batch_weights(levels, frequencies) - scorer.prior_weight
    prior = estimate_prior(without_prior, n, start=min(0.5, max(1.0 / n, 1e-12)))
    model = provisional.model_copy(
        update={
            "prior": prior,
            "training": {
                "records": n, "blocked_pairs": len(pairs), "u_pairs": sample,
                "sessions": sessions, "skipped_blocks": pairs.skipped_blocks_per_rule,
            },
        }
    )  # fmt: skip
    scorer = Scorer(config, model)
    weights = without_prior + scorer.prior_weight
    say("trained", {"prior": prior})
    scored = ScoredPairs(
        pairs.left, pairs.right, levels, weights, pairs.rules,
        stats={"pairs_per_rule": pairs.pairs_per_rule,
               "skipped_blocks_per_rule": pairs.skipped_blocks_per_rule,
               "skipped_records_per_rule": pairs.skipped_records_per_rule},
    )  # fmt: skip
    return Trained(model, scorer, scored)


def fit(
    records: Iterable[Mapping[str, Any]], config: EntityMatchConfig, workers: int = 1, seed: int = 0
) -> ScorerModel:
    """Learn a scorer model from records of one entity type (canonical values)."""
    return train(prepare_batch(records, config), workers=workers, seed=seed).model


# ------------------------------------------------------------------------------- incremental match


@dataclass(slots=True)
class Match:
    record_id: str
    weight: float
    probability: float
    levels: dict[str, str]
    contributions: dict[str, float]


Decision = Literal["link", "review", "new"]


class Matcher:
    """Matches one incoming record against stored ones through a blocking index: no scan, and the
    same comparisons, weights and term frequencies as the batch."""

    def __init__(self, config: EntityMatchConfig, model: ScorerModel) -> None:
        self.config = config
        self.scorer = Scorer(config, model)
        self.blocker = Blocker(config.blocking)

    def blocking_keys(self, record: Mapping[str, Any]) -> list[str]:
        """The keys to store in the index for a record (``BlockingIndex.add``)."""
        return self.blocker.keys(record)

    def match_one(
        self,
        record: Mapping[str, Any],
        index: BlockingIndex,
        store_lookup: Callable[[Collection[str]], Mapping[str, Mapping[str, Any]]],
        exclude: Collection[str] = (),
    ) -> list[Match]:
        """Candidates from the index, scored, best first. ``store_lookup(ids)`` returns the stored
        canonical values of those ids (missing ids are skipped); ``exclude`` drops ids (the record
        itself when it is already stored)."""
        candidates = index.candidates(self.blocking_keys(record), self.config.max_block)
        candidates.difference_update(exclude)
        if not candidates:
            return []
        if len(candidates) > self.config.max_candidates:
            candidates = set(sorted(candidates)[: self.config.max_candidates])
        mine = self.scorer.prepare(record)
        found: list[Match] = []
        for record_id, values in store_lookup(candidates).items():
            scored = self.scorer.score(mine, self.scorer.prepare(values))
            found.append(
                Match(record_id, scored.weight, scored.probability, scored.levels,
                      scored.contributions)
            )  # fmt: skip
        found.sort(key=lambda match: (-match.weight, match.record_id))
        return found

    def decide(self, matches: Sequence[Match]) -> tuple[Decision, Match | None]:
        """``link`` / ``review`` / ``new`` from the best match and the configured thresholds."""
        if not matches:
            return "new", None
        best = matches[0]
        if best.probability >= self.config.link:
            return "link", best
        if best.probability >= self.config.review:
            return "review", best
        return "new", best
