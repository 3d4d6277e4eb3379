"""Fellegi–Sunter scoring: how much each comparison level says, learned from the data.

For each comparison level, m = P(level | same entity) and u = P(level | different entities). A pair's
match weight is ``log2(λ/(1-λ)) + Σ log2(m/u)`` over its levels (missing fields add nothing), and its
probability ``1 / (1 + 2^-weight)`` (Fellegi & Sunter, 1969; the formulation of Splink,
https://moj-analytical-services.github.io/splink/topic_guides/theory/fellegi_sunter.html).

How the parameters are estimated (``Trainer``):

- **u** from random pairs, which are almost all non-matches; the matches a random sample still holds
  are taken out once m and λ are known (``(f - λm) / (1 - λ)``), and the agreement levels come from
  the value counts (``Σ c(c-1) / T(T-1)``), which see far rarer agreements than any sample.
- **m** by expectation–maximisation on the blocked pairs, one session per blocking rule. Pairs found by
  a rule agree on that rule's fields by construction, so in that session the comparisons on those
  fields are left out of the likelihood; each comparison's m is the mean over the sessions that
  estimated it (Splink's scheme:
  https://moj-analytical-services.github.io/splink/topic_guides/training/training_rationale.html).
  u stays fixed during EM unless ``refine_u`` asks otherwise.
- **λ**, the probability two random records match, as the fixed point of ``λ = Σ posterior(pair | λ) /
  (N(N-1)/2)`` over the blocked pairs (pairs no rule blocks are taken as non-matches).
- **Term frequency**: agreeing on a common value (a switchboard, 张伟) is weaker evidence: at a level
  where ``tf_adjust`` applies, the weight moves by ``log2(u_agree / f(value))``, bounded above by
  ``tf_max_boost`` bits. f counts *entities*, not records (one person's three records are one holder
  of their mobile), and leaves out the pair being scored: how common the value is apart from these
  two records. A value no one else holds gets the Good–Turing estimate ``2·N2 / (N1·E)``. Entities are
  not known before clustering, so the batch estimates them: clusters of the pairs more likely the
  same than not (``clustering.dedupe``).

Correlated evidence (what conditional independence gets wrong on CRM data): comparisons in one
``group`` (company name and company email domain; street, number, postcode, city) pool — the
strongest evidence for plus the strongest against — instead of adding up; a comparison with a
``shared_group`` (mobile, email) joins that group for pairs whose value other entities also hold. EM's E-step pools the same way, so training and scoring agree.

Thresholds are probabilities: at or above ``link`` → link, at or above ``review`` → review, else new.
"""

from __future__ import annotations

import gc
import itertools
import math
import multiprocessing
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from hub.identity.blocking import (
    Blocker,
    BlockingRule,
    BlockKeys,
    CandidateSource,
    candidate_pairs,
)
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
    link: float = Field(0.9, gt=0, lt=1)
    review: float = Field(0.5, gt=0, lt=1)
    # A link that would join two clusters holding conflicting strong keys must reach this.
    conflict_link: float = Field(0.99999, gt=0, lt=1)
    max_block: int = Field(25, ge=2)
    max_candidates: int = Field(400, ge=1)
    u_sample_pairs: int = Field(200_000, ge=1000)
    em_max_iterations: int = Field(200, ge=1)
    refine_u: bool = False
    tf_max_boost: float = 3.0
    tf_model_values: int = Field(50_000, ge=0)
    tf_model_min_count: int = Field(2, ge=2)

    def fields(self) -> set[str]:
        return {f for spec in self.comparisons for f in spec.fields}


def _c(
    name: str,
    fields: Sequence[str],
    comparator: str,
    tf: bool = False,
    group: str | None = None,
    shared: str | None = None,
    options: dict[str, float | str] | None = None,
) -> ComparisonSpec:
    return ComparisonSpec.model_validate(
        {"name": name, "fields": tuple(fields), "comparator": comparator, "tf_adjust": tf,
         "group": group, "shared_group": shared, "options": options or {}}
    )  # fmt: skip


def _rule(name: str, on: Sequence[str], refine: Sequence[str] = ()) -> BlockingRule:
    return BlockingRule.model_validate({"name": name, "on": tuple(on), "refine": tuple(refine)})


def default_person_config() -> EntityMatchConfig:
    return EntityMatchConfig(
        comparisons=(
            _c("name", ["full_name"], "person_name", tf=True),
            _c("email", ["email", "email2"], "email", tf=True, shared="organisation"),
            _c(
                "mobile",
                ["mobile", "phone"],
                "phone",
                tf=True,
                shared="organisation",
                options={"kind": "mobile"},
            ),
            _c(
                "landline",
                ["phone", "mobile"],
                "phone",
                tf=True,
                group="organisation",
                options={"kind": "landline"},
            ),
            _c("birth_date", ["birth_date"], "date"),
            _c("company", ["company_name"], "company_name", tf=True, group="organisation"),
            _c("email_domain", ["email", "email2"], "email_domain", tf=True, group="organisation"),
            _c("city", ["city"], "place", group="address"),
            _c("street", ["street"], "street", group="address"),
            _c("street_number", ["street"], "street_number", group="address"),
            _c("postcode", ["postcode"], "postcode", group="address"),
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
            _c("domain", ["domain", "website", "email"], "domain", tf=True),
            _c("phone", ["phone"], "phone", tf=True),
            _c("country", ["country"], "exact"),
            _c("founded", ["founded"], "date"),
            _c("city", ["city"], "place", group="address"),
            _c("street", ["street"], "street", group="address"),
            _c("street_number", ["street"], "street_number", group="address"),
            _c("postcode", ["postcode"], "postcode", group="address"),
        ),
        blocking=(
            _rule("credit_code", ["identifier(credit_code)"]),
            _rule("tax_id", ["identifier(tax_id)"]),
            _rule("name", ["company(name)"], ["place(city)"]),
            _rule("name_tokens", ["company_tokens(name)"], ["place(city)"]),
            _rule("name_words", ["company_words(name)"], ["place(city)"]),
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


def comparison_groups(comparisons: Sequence[Comparison]) -> list[list[int]]:
    """Indexes of comparisons pooled together: one list per ungrouped comparison, then one per
    ``group`` (a group named only by a ``shared_group`` starts empty). See ``group_index``."""
    single = [[i] for i, c in enumerate(comparisons) if not c.spec.group]
    named = group_index(comparisons)
    groups: list[list[int]] = [[] for _ in named]
    for i, c in enumerate(comparisons):
        if c.spec.group:
            groups[named[c.spec.group] - len(single)].append(i)
    return single + groups


def group_index(comparisons: Sequence[Comparison]) -> dict[str, int]:
    """Group name → its position in ``comparison_groups``, in order of first mention."""
    single = sum(1 for c in comparisons if not c.spec.group)
    names: dict[str, int] = {}
    for c in comparisons:
        for name in (c.spec.group, c.spec.shared_group):
            if name and name not in names:
                names[name] = single + len(names)
    return names


BoolArray = npt.NDArray[np.bool_]


def pool(
    contributions: FloatArray,
    groups: Sequence[Sequence[int]],
    shared: Mapping[int, tuple[int, BoolArray]] | None = None,
) -> FloatArray:
    """Total weight of rows of per-comparison contributions: summed across groups; within a group,
    the strongest evidence for plus the strongest against (correlated evidence counts once).

    ``shared`` maps a comparison to (group index, rows where its value is shared by other entities):
    in those rows it is pooled with that group instead of standing alone."""
    shared = shared or {}
    joining: dict[int, list[tuple[int, BoolArray]]] = {}
    for c, (group, rows) in shared.items():
        joining.setdefault(group, []).append((c, rows))
    total = np.zeros(contributions.shape[0])
    for index, members in enumerate(groups):
        if len(members) == 1 and members[0] in shared:
            c = members[0]
            total += np.where(shared[c][1], 0.0, contributions[:, c])
            continue
        if len(members) == 1 and index not in joining:
            total += contributions[:, members[0]]
            continue
        if members:
            block = contributions[:, list(members)]
            best = np.maximum(block.max(axis=1), 0.0)
            worst = np.minimum(block.min(axis=1), 0.0)
        else:
            best = np.zeros(contributions.shape[0])
            worst = np.zeros(contributions.shape[0])
        for c, rows in joining.get(index, []):
            column = np.where(rows, contributions[:, c], 0.0)
            best = np.maximum(best, column)
            worst = np.minimum(worst, column)
        total += best + worst
    return total


def pool_one(
    contributions: Sequence[float], groups: Sequence[Sequence[int]], shared: Mapping[int, int]
) -> float:
    """``pool`` for one pair, in plain Python: numpy's per-call cost is most of the time of
    scoring one incoming record. ``shared``: comparison → the group it joins for this pair."""
    joining: dict[int, list[int]] = {}
    for c, group in shared.items():
        joining.setdefault(group, []).append(c)
    total = 0.0
    for index, members in enumerate(groups):
        if len(members) == 1 and members[0] in shared:
            continue  # counted within the group it joins
        if len(members) == 1 and index not in joining:
            total += contributions[members[0]]
            continue
        block = [contributions[c] for c in members] + [
            contributions[c] for c in joining.get(index, ())
        ]
        if block:
            total += max(max(block), 0.0) + min(min(block), 0.0)
    return total


def monotone_weights(weights: Sequence[float]) -> list[float]:
    """Levels are ordered from the strongest agreement down: a better level never weighs less than a
    worse one (EM can leave a rare level below the next, e.g. when matches never hit it)."""
    out = list(weights)
    for level in range(len(out) - 2, 0, -1):
        out[level] = max(out[level], out[level + 1])
    return out


@dataclass(slots=True)
class PairScore:
    weight: float
    probability: float
    levels: dict[str, str]  # comparison → level name
    contributions: dict[str, float]  # comparison → weight it brings (with term frequency)


class Scorer:
    """A trained model bound to the configured comparisons: scores prepared pairs."""

    def __init__(self, config: EntityMatchConfig, model: ScorerModel) -> None:
        model.check_matches(config)
        self.config = config
        self.model = model
        self.comparisons = build_comparisons(config.comparisons)
        self.groups = comparison_groups(self.comparisons)
        names = group_index(self.comparisons)
        self.shared_groups: dict[int, int] = {
            c: names[comparison.spec.shared_group]
            for c, comparison in enumerate(self.comparisons)
            if comparison.spec.shared_group and comparison.tf_levels
        }
        self.prior_weight = weight_of(min(max(model.prior, 1e-300), 1 - 1e-12))
        self.weights: list[list[float]] = [
            monotone_weights([params.weight(level) for level in range(len(params.levels))])
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

    def _model_holders(self, index: int, value: str | None) -> int:
        """How many entities hold the value, as the model counted (1 for a value it did not keep)."""
        params = self.model.comparisons[index]
        if value is None or params.tf_total == 0:
            return 0
        return params.tf_common.get(value, 1)

    def _frequency(self, index: int, holders: int) -> float:
        params = self.model.comparisons[index]
        if holders <= 0 or params.tf_total == 0:
            return 0.0
        return holders / params.tf_total if holders >= 2 else params.tf_rare

    def score(self, a: Sequence[Any], b: Sequence[Any]) -> PairScore:
        """Score two prepared records (``prepare``), with the model's term frequencies. The stored
        record's entity is one of a value's holders, the incoming record none yet."""
        levels = compare_prepared(self.comparisons, a, b)
        added: list[float] = []
        shared: dict[int, int] = {}
        for index, (comparison, level) in enumerate(zip(self.comparisons, levels, strict=True)):
            weight = self.weights[index][level]
            if level in comparison.tf_levels:
                value = comparison.pair_tf_key(a[index], b[index], level)
                holders = self._model_holders(index, value)
                weight += self.tf_adjustment(index, self._frequency(index, holders))
                if index in self.shared_groups and holders >= 2:
                    shared[index] = self.shared_groups[index]
            added.append(weight)
        total = self.prior_weight + pool_one(added, self.groups, shared)
        return PairScore(
            total,
            probability(total),
            {c.name: c.levels[lv] for c, lv in zip(self.comparisons, levels, strict=True)},
            {c.name: round(w, 3) for c, w in zip(self.comparisons, added, strict=True)},
        )

    def contributions(self, levels: LevelArray, tf_frequencies: FloatArray) -> FloatArray:
        """Per pair and comparison, the weight it brings (``tf_frequencies``: 0 = none)."""
        out = np.zeros(levels.shape, dtype=np.float64)
        for index, comparison in enumerate(self.comparisons):
            table = np.asarray(self.weights[index], dtype=np.float64)
            column = levels[:, index]
            out[:, index] = table[column]
            if comparison.tf_levels and self.tf_u[index] > 0:
                freq = tf_frequencies[:, index]
                at_tf = np.isin(column, list(comparison.tf_levels)) & (freq > 0)
                out[at_tf, index] += np.minimum(
                    np.log2(self.tf_u[index] / freq[at_tf]), self.config.tf_max_boost
                )
        return out

    def batch_weights(
        self,
        levels: LevelArray,
        tf_frequencies: FloatArray,
        shared: Mapping[int, BoolArray] | None = None,
        chunk: int = 1_000_000,
    ) -> FloatArray:
        """Weights of many compared pairs at once, in chunks to bound memory. ``shared``: per
        comparison with a ``shared_group``, the pairs whose agreed value other entities hold too."""
        total = np.empty(len(levels), dtype=np.float64)
        shared = shared or {}
        for start in range(0, len(levels), chunk):
            stop = start + chunk
            added = self.contributions(levels[start:stop], tf_frequencies[start:stop])
            rows = {
                c: (group, shared[c][start:stop])
                for c, group in self.shared_groups.items()
                if c in shared
            }
            total[start:stop] = self.prior_weight + pool(added, self.groups, rows)
        return total


# ------------------------------------------------------------------------------- batch preparation


@dataclass
class ValueCounts:
    """How often each value (by hash) of one comparison occurs, for u and term frequency.

    Counted by record before any clustering; by entity (distinct clusters) once clusters exist, which
    is what frequency should mean: a value held by three records of one person is one person's, not
    a common value. A value held by a single entity gets the Good–Turing estimate of its frequency,
    ``2·N2 / (N1·E)`` (N1, N2: values held by one and by two entities; E: entities): what data with
    few shared values says about a value seen once, far below the naive 1/E."""

    hashes: IntArray
    counts: IntArray
    total: int
    singleton: float  # frequency of a value held once

    @classmethod
    def of(cls, hashes: IntArray, total: int, good_turing: bool) -> ValueCounts:
        unique, counts = np.unique(hashes, return_counts=True)
        counts = counts.astype(np.int64)
        singleton = 1.0 / total if total else 0.0
        once = int((counts == 1).sum())
        if good_turing and total and once:
            twice = int((counts == 2).sum())
            singleton = min(max(2.0 * twice, 1.0) / (once * total), singleton)
        return cls(unique, counts, total, singleton)

    def lookup(self, hashes: IntArray) -> IntArray:
        if len(self.hashes) == 0:
            return np.zeros(len(hashes), dtype=np.int64)
        at = np.clip(np.searchsorted(self.hashes, hashes), 0, len(self.hashes) - 1)
        found = self.hashes[at] == hashes
        return np.where(found, self.counts[at], 0)

    def holders(self, hashes: IntArray, holders_in_pair: IntArray) -> IntArray:
        """Holders of each value counting the pair being scored as one: ``holders_in_pair`` (1 when
        its two records are already one holder, else 2) is taken off and one added back."""
        counts = self.lookup(hashes)
        return np.where(counts > 0, np.maximum(counts - holders_in_pair.astype(np.int64) + 1, 1), 0)

    def frequency(self, holders: IntArray) -> FloatArray:
        """Relative frequency for a number of holders; a value held by one (the pair alone) gets
        the Good–Turing singleton frequency."""
        if not self.total:
            return np.zeros(len(holders))
        counts = holders.astype(np.float64)
        return np.where(
            counts >= 2, counts / self.total, np.where(counts == 1, self.singleton, 0.0)
        )

    def agreement_probability(self) -> float:
        """P(two random holders share a value) = Σ c(c-1) / T(T-1)."""
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
    value_records: list[IntArray]  # per comparison: record index of each value occurrence
    value_hashes: list[IntArray]  # per comparison: hash of each value occurrence
    blocks: BlockKeys

    def __len__(self) -> int:
        return len(self.prepared)

    def counts_by_record(self) -> list[ValueCounts]:
        return [
            ValueCounts.of(hashes, len(hashes), good_turing=True) for hashes in self.value_hashes
        ]

    def counts_by_entity(self, labels: IntArray) -> list[ValueCounts]:
        """Values counted once per cluster (``labels``: cluster of each record)."""
        out = []
        for records, hashes in zip(self.value_records, self.value_hashes, strict=True):
            if len(hashes) == 0:
                out.append(ValueCounts.of(hashes, 0, good_turing=True))
                continue
            clusters = labels[records]
            order = np.lexsort((clusters, hashes))
            h, c = hashes[order], clusters[order]
            first = np.r_[True, (h[1:] != h[:-1]) | (c[1:] != c[:-1])]
            entities = len(np.unique(clusters))
            out.append(ValueCounts.of(h[first], entities, good_turing=True))
        return out


# Records a forked worker prepares at a time; a batch no larger is prepared in this process.
_PREPARE_CHUNK = 20_000


def prepare_batch(
    records: Iterable[Mapping[str, Any]],
    config: EntityMatchConfig,
    each: Callable[[int, Mapping[str, Any]], None] | None = None,
    workers: int = 1,
) -> PreparedBatch:
    """One pass over the records: prepared values, value occurrences, blocking keys.
    ``each(index, record)`` lets the caller keep what else it needs (strong keys, labels) without
    a second pass. With ``workers`` > 1, forked processes prepare chunks of the records while this
    one reads them and puts the parts together in order: the same batch, in about half the time
    on 2 cores (preparing names and companies is most of a million-record dedupe's single-threaded
    time), still streaming (the records need not be in memory at once)."""
    # Millions of small, acyclic objects are created here: the cyclic collector would rescan them
    # all again and again for nothing (measured: a quarter of the time at 300k records).
    collecting = gc.isenabled()
    gc.disable()
    try:
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            iterator = iter(records)
            first = list(itertools.islice(iterator, _PREPARE_CHUNK))
            if len(first) == _PREPARE_CHUNK:  # more may follow: worth the workers
                return _prepare_parallel(first, iterator, config, each, workers)
            records = first
        return _prepare_batch(records, config, each).frozen()
    finally:
        if collecting:
            gc.enable()


def _prepare_chunk(task: tuple[int, list[Mapping[str, Any]]]) -> tuple[Any, ...]:
    """In a forked worker: one chunk of records, numbered from ``offset``."""
    offset, chunk = task
    part = _prepare_batch(chunk, _WORK["prepare"], None, offset)
    blocks = part.blocks
    return part.prepared, part.value_records, part.value_hashes, blocks.records, blocks.hashes


def _prepare_parallel(
    first: list[Mapping[str, Any]],
    rest: Iterator[Mapping[str, Any]],
    config: EntityMatchConfig,
    each: Callable[[int, Mapping[str, Any]], None] | None,
    workers: int,
) -> PreparedBatch:
    def tasks() -> Iterator[tuple[int, list[Mapping[str, Any]]]]:
        offset, chunk = 0, first
        while chunk:
            if each is not None:
                for index, record in enumerate(chunk, start=offset):
                    each(index, record)
            yield offset, chunk
            offset += len(chunk)
            chunk = list(itertools.islice(rest, _PREPARE_CHUNK))

    comparisons = build_comparisons(config.comparisons)
    batch = _GrowingBatch(
        config, comparisons, [], [array("q") for _ in comparisons],
        [array("q") for _ in comparisons], BlockKeys(len(config.blocking)),
    )  # fmt: skip
    _WORK["prepare"] = config
    gc.freeze()  # the collector would touch (and so copy) every inherited object
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            # In order: each part's record numbers follow the previous part's.
            for prepared, value_records, value_hashes, block_records, block_hashes in pool.imap(
                _prepare_chunk, tasks()
            ):
                batch.prepared.extend(prepared)
                for grown, part in (
                    (batch.value_records, value_records),
                    (batch.value_hashes, value_hashes),
                    (batch.blocks.records, block_records),
                    (batch.blocks.hashes, block_hashes),
                ):
                    for mine, theirs in zip(grown, part, strict=True):
                        mine.extend(theirs)
    finally:
        gc.unfreeze()
        _WORK.pop("prepare", None)
    return batch.frozen()


def _prepare_batch(
    records: Iterable[Mapping[str, Any]],
    config: EntityMatchConfig,
    each: Callable[[int, Mapping[str, Any]], None] | None,
    offset: int = 0,
) -> _GrowingBatch:
    comparisons = build_comparisons(config.comparisons)
    blocker = Blocker(config.blocking)
    blocks = BlockKeys(len(config.blocking))
    value_records = [array("q") for _ in comparisons]
    value_hashes = [array("q") for _ in comparisons]
    prepared: list[tuple[Any, ...]] = []
    # Bound once: this loop runs a million times.
    counted = [
        (c, comparison.comparator.tf_key, len(comparison.fields) == 1,
         value_records[c].append, value_hashes[c].append)
        for c, comparison in enumerate(comparisons)
    ]  # fmt: skip
    for index, record in enumerate(records, start=offset):
        values = prepare_record(comparisons, record)
        prepared.append(values)
        for c, tf_key, single, add_record, add_hash in counted:
            value = values[c]
            if value is None:
                continue
            for one in (value,) if single else value:
                key = tf_key(one)
                if key:
                    add_record(index)
                    add_hash(hash(key))
        blocks.add(index, blocker.keys_by_rule(record))
        if each is not None:
            each(index, record)
    return _GrowingBatch(config, comparisons, prepared, value_records, value_hashes, blocks)


@dataclass
class _GrowingBatch:
    """A batch still being put together (its parts from several processes): plain arrays."""

    config: EntityMatchConfig
    comparisons: list[Comparison]
    prepared: list[tuple[Any, ...]]
    value_records: list[array[int]]
    value_hashes: list[array[int]]
    blocks: BlockKeys

    def frozen(self) -> PreparedBatch:
        return PreparedBatch(
            self.config, self.comparisons, self.prepared,
            [np.frombuffer(a, dtype=np.int64) for a in self.value_records],
            [np.frombuffer(a, dtype=np.int64) for a in self.value_hashes],
            self.blocks,
        )  # fmt: skip


# ---------------------------------------------------------------------------------- pair comparison

# Read by forked workers: set just before the pool starts, inherited copy-on-write.
_WORK: dict[str, Any] = {}


def _compare_range(bounds: tuple[int, int]) -> tuple[int, bytes, bytes]:
    start, stop = bounds
    comparisons: list[Comparison] = _WORK["comparisons"]
    prepared: list[tuple[Any, ...]] = _WORK["prepared"]
    left: list[int] = _WORK["left"][start:stop].tolist()
    right: list[int] = _WORK["right"][start:stop].tolist()
    functions = [c.compare for c in comparisons]
    tf_columns = [(i, c, c.tf_levels) for i, c in enumerate(comparisons) if c.tf_levels]
    width = len(tf_columns)
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
        for t, (c, comparison, tf_levels) in enumerate(tf_columns):
            level = found[c]
            if level in tf_levels:
                value = comparison.pair_tf_key(a[c], b[c], level)
                if value is not None:
                    tf_hashes[row * width + t] = hash(value)
    return start, levels.tobytes(), tf_hashes.tobytes()


def _claim(counter: Any, total: int) -> int | None:
    with counter.get_lock():
        index = int(counter.value)
        counter.value = index + 1
    return index if index < total else None


def _compare_worker(counter: Any, results: Any, bounds: list[tuple[int, int]]) -> None:
    """A forked worker: compares chunks until none is left, then says so with None."""
    try:
        while (index := _claim(counter, len(bounds))) is not None:
            results.put(_compare_range(bounds[index]))
    except BaseException as exc:  # reported to the parent, which raises
        results.put(("error", repr(exc)))
    finally:
        results.put(None)


def compare_pairs(
    comparisons: Sequence[Comparison],
    prepared: Sequence[tuple[Any, ...]],
    left: IntArray,
    right: IntArray,
    workers: int = 1,
    chunk: int = 100_000,
) -> tuple[LevelArray, dict[int, IntArray]]:
    """Levels (pairs × comparisons) and, for each term-frequency comparison, the hash of the value
    a pair agrees on at a term-frequency level (0 elsewhere).

    With ``workers`` > 1, ``workers - 1`` forked processes and this one take chunks of pairs from a
    shared counter until none is left. Forked, because the prepared records are then shared
    copy-on-write instead of pickled; this process works too, because every worker copies the
    pages it reads (CPython writes reference counts), so one worker fewer is one copy fewer.
    Where fork is unavailable everything runs here."""
    width = len(comparisons)
    tf_columns = [c for c, comparison in enumerate(comparisons) if comparison.tf_levels]
    levels = np.zeros((len(left), width), dtype=np.int8)
    hashes = np.zeros((len(left), len(tf_columns)), dtype=np.int64)

    def store(part: tuple[int, bytes, bytes]) -> None:
        start, found, tf = part
        rows = len(found) // width
        levels[start : start + rows] = np.frombuffer(found, dtype=np.int8).reshape(rows, width)
        if tf_columns:
            hashes[start : start + rows] = np.frombuffer(tf, dtype=np.int64).reshape(rows, -1)

    _WORK.update(comparisons=list(comparisons), prepared=prepared, left=left, right=right)
    bounds = [(s, min(s + chunk, len(left))) for s in range(0, len(left), chunk)]
    try:
        if workers > 1 and len(bounds) > 1 and "fork" in multiprocessing.get_all_start_methods():
            _compare_forked(bounds, workers - 1, store)
        else:
            for b in bounds:
                store(_compare_range(b))
    finally:
        _WORK.clear()
    return levels, {c: hashes[:, t].copy() for t, c in enumerate(tf_columns)}


def _compare_forked(
    bounds: list[tuple[int, int]],
    children: int,
    store: Callable[[tuple[int, bytes, bytes]], None],
) -> None:
    import queue

    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    results = context.Queue()
    gc.freeze()  # the collector would touch (and so copy) every inherited object
    try:
        processes = [
            context.Process(target=_compare_worker, args=(counter, results, bounds), daemon=True)
            for _ in range(children)
        ]
        for process in processes:
            process.start()
    finally:
        gc.unfreeze()
    running = children

    def take(part: Any) -> None:
        nonlocal running
        if part is None:
            running -= 1
        elif part[0] == "error":
            raise RuntimeError(f"a comparison worker failed: {part[1]}")
        else:
            store(part)

    try:
        while (index := _claim(counter, len(bounds))) is not None:
            store(_compare_range(bounds[index]))
            while True:  # keep the workers' results flowing while this process works too
                try:
                    take(results.get_nowait())
                except queue.Empty:
                    break
        while running:
            try:
                take(results.get(timeout=1.0))
            except queue.Empty:
                if not any(p.is_alive() for p in processes) and results.empty():
                    raise RuntimeError("a comparison worker died without reporting") from None
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


# --------------------------------------------------------------------------------------- estimation


def _random_pairs(n: int, count: int, seed: int) -> tuple[IntArray, IntArray]:
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=count, dtype=np.int64)
    right = rng.integers(0, n - 1, size=count, dtype=np.int64)
    right = right + (right >= left)  # never a record with itself
    return left, right


def estimate_u(
    comparisons: Sequence[Comparison],
    random_levels: LevelArray,
    counts: Sequence[ValueCounts],
    by_entity: bool,
    m: Sequence[FloatArray] | None = None,
    prior: float | None = None,
) -> list[FloatArray]:
    """u per comparison level: the level distribution among random pairs, from which the matches a
    random sample also holds are taken out once m and λ are known (``(f - λm) / (1 - λ)``). The
    agreement levels come from the value counts where the sample is too thin to show them, and
    always once counts are by entity (then they are non-matches by construction)."""
    u_all: list[FloatArray] = []
    for c, comparison in enumerate(comparisons):
        size = len(comparison.levels)
        observed_counts = np.bincount(random_levels[:, c].astype(np.int64), minlength=size).astype(
            np.float64
        )
        observed_counts[MISSING] = 0.0
        observed = observed_counts.sum()
        u = observed_counts / observed if observed > 0 else np.full(size, 1.0 / max(size - 1, 1))
        if m is not None and prior is not None:
            u = np.maximum((u - prior * m[c]) / (1.0 - prior), 0.0)
        agree = sorted(comparison.comparator.tf_levels) or [1]
        agree_observed = observed_counts[agree].sum()
        analytic = counts[c].agreement_probability()
        if not by_entity and m is not None and prior is not None:
            analytic = max(analytic - prior * float(m[c][agree].sum()), 0.0) / (1.0 - prior)
        # A level never seen among random pairs is rare, not impossible: at least half a pair of the
        # sample. Not for agreement levels taken from the value counts, which see agreements far
        # rarer than a sample of fixed size can (their own floor is one pair of entities): with the
        # sample's floor an exact mobile or email would say no more at a million records than at a
        # hundred thousand, while two random records of a million agree on one ten times less
        # often, and the prior falls by as much.
        floor = np.full(size, max(min(0.5 / max(observed, 1.0), 1e-3), _U_FLOOR))
        if by_entity or agree_observed < 30:
            share = (
                observed_counts[agree] / agree_observed
                if agree_observed > 0
                else np.eye(len(agree))[0]
            )
            entities = max(counts[c].total, 2)
            analytic = max(analytic, 2.0 / (entities * (entities - 1.0)))
            rest = [lv for lv in range(1, size) if lv not in agree]
            rest_total = u[rest].sum()
            u[agree] = analytic * share
            if rest_total > 0:
                u[rest] *= (1.0 - u[agree].sum()) / rest_total
            floor[agree] = np.minimum(floor[agree], analytic / len(agree))
        u[1:] = np.maximum(u[1:], floor[1:])
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
    groups: Sequence[Sequence[int]] | None = None,
) -> EmResult:
    """EM for the two-class mixture over comparison patterns (rows of levels, with their counts).

    Only ``active`` comparisons enter the likelihood and are re-estimated; level 0 (missing) is
    ignored. u stays as given unless ``refine_u``. ``groups`` pool correlated comparisons in the
    E-step exactly as scoring does (``pool``), so EM and scoring weigh evidence alike."""
    m = [np.array(x, dtype=np.float64) for x in m_start]
    u = [np.array(x, dtype=np.float64) for x in u_start]
    columns = [patterns[:, c].astype(np.int64) for c in range(patterns.shape[1])]
    pooled_groups = groups if groups is not None else [[c] for c in range(len(columns))]
    iterations = 0
    converged = False
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        ratios = np.zeros((len(patterns), len(columns)))
        for c, column in enumerate(columns):
            if active[c]:
                ratios[:, c] = (np.log(m[c]) - np.log(u[c]))[column] * (column != MISSING)
        log_odds = math.log(prior) - math.log1p(-prior) + pool(ratios, pooled_groups)
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
    """Distinct rows (inactive columns zeroed) and how often each occurs. Rows are packed into one
    integer each (levels are small) so the sort is one-dimensional: ``np.unique(axis=0)`` sorts
    rows lexicographically and is many times slower on millions of pairs."""
    masked = levels * np.asarray(active, dtype=np.int8)[None, :]
    width = masked.shape[1]
    base = int(masked.max()) + 1 if masked.size else 1
    if base**width >= 2**62:
        unique, counts = np.unique(masked, axis=0, return_counts=True)
        return unique.astype(np.int8), counts.astype(np.float64)
    weights = base ** np.arange(width, dtype=np.int64)
    codes = masked.astype(np.int64) @ weights
    unique_codes, counts = np.unique(codes, return_counts=True)
    rows = (unique_codes[:, None] // weights[None, :]) % base
    return rows.astype(np.int8), counts.astype(np.float64)


def estimate_prior(weights_without_prior: FloatArray, n_records: int, start: float) -> float:
    """λ as the fixed point of ``λ = Σ_blocked P(match | weight, λ) / (N(N-1)/2)``.

    Weights are binned to 1/64 bit first (clipped to ±60 bits, where the posterior is 0 or 1 for
    any λ), so each iteration sums a few thousand bins rather than millions of pairs."""
    all_pairs = n_records * (n_records - 1) / 2.0
    if all_pairs <= 0 or len(weights_without_prior) == 0:
        return start
    binned = np.round(np.clip(weights_without_prior, -60.0, 60.0) * 64.0).astype(np.int32)
    bins, counts = np.unique(binned, return_counts=True)
    weights = bins / 64.0
    prior = start
    for _ in range(500):
        offset = math.log2(prior / (1 - prior))
        expected = float((counts / (1.0 + np.exp2(-(weights + offset)))).sum())
        new = min(max(expected / all_pairs, 1e-15), 0.5)
        if abs(new - prior) <= 1e-7 * prior:
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


class Trainer:
    """Estimates u, m, λ and term frequencies on a prepared batch, and scores its blocked pairs.

    ``Trainer(batch)`` compares every blocked pair once and fits with values counted by record;
    ``refit_by_entity(labels)`` fits again with values counted by cluster (after a first clustering):
    better u for agreement levels and frequencies that do not count one person's records as a
    crowd. Comparisons are not repeated; only the weights change."""

    def __init__(
        self,
        batch: PreparedBatch,
        workers: int = 1,
        seed: int = 0,
        report: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        config = batch.config
        self.batch = batch
        self.config = config
        self.comparisons = batch.comparisons
        self.groups = comparison_groups(self.comparisons)
        self.say = report or (lambda _event, _data: None)
        n = len(batch)
        if n < 2:
            raise ValueError("training needs at least two records")
        self.pairs = candidate_pairs(batch.blocks, n, config.max_block)
        self.say("blocked", {"pairs": len(self.pairs), "per_rule": self.pairs.pairs_per_rule,
                             "skipped_blocks": self.pairs.skipped_blocks_per_rule})  # fmt: skip
        self.u_pairs = min(config.u_sample_pairs, n * (n - 1) // 2)
        u_left, u_right = _random_pairs(n, self.u_pairs, seed)
        self.random_levels, _ = compare_pairs(
            self.comparisons, batch.prepared, u_left, u_right, workers
        )
        self.levels, self.tf_hashes = compare_pairs(
            self.comparisons, batch.prepared, self.pairs.left, self.pairs.right, workers
        )
        self.say("compared", {"pairs": len(self.pairs), "random_pairs": self.u_pairs})
        self._patterns: dict[int, tuple[LevelArray, FloatArray, int]] = {}
        self.counts = batch.counts_by_record()
        self.by_entity = False
        self.holders_in_pair = np.full(len(self.pairs), 2, dtype=np.int8)
        self.m: list[FloatArray] | None = None
        self.prior: float | None = None
        self.sessions: list[dict[str, Any]] = []
        self._fit()
        self._fit()  # again, with u freed of the matches the random sample holds
        self.say("trained", {"prior": self.prior, "by_entity": False})

    def refit_by_entity(self, labels: IntArray) -> None:
        self.counts = self.batch.counts_by_entity(labels)
        self.by_entity = True
        same = labels[self.pairs.left] == labels[self.pairs.right]
        self.holders_in_pair = np.where(same, 1, 2).astype(np.int8)
        self._fit()
        self.say("trained", {"prior": self.prior, "by_entity": True})

    def _fit(self) -> None:
        u = estimate_u(
            self.comparisons, self.random_levels, self.counts, self.by_entity, self.m, self.prior
        )
        self.m, self.sessions = self._em(u)
        self.u = u
        self._without_prior = self._weights_without_prior(Scorer(self.config, self._model(0.5)))
        n = len(self.batch)
        start = self.prior if self.prior is not None else min(0.5, 1.0 / n)
        self.prior = estimate_prior(self._without_prior, n, start=start)

    def _em(self, u: list[FloatArray]) -> tuple[list[FloatArray], list[dict[str, Any]]]:
        m_sums = [np.zeros(len(c.levels)) for c in self.comparisons]
        m_sessions = [0] * len(self.comparisons)
        sessions: list[dict[str, Any]] = []
        for r, rule in enumerate(self.config.blocking):
            blocked_fields = rule.fields()
            active = [not (set(c.fields) & blocked_fields) for c in self.comparisons]
            if not any(active):
                continue
            if r not in self._patterns:  # levels never change between fits: count them once
                in_rule = (self.pairs.rules & np.uint32(1 << r)) != 0
                self._patterns[r] = (*_patterns(self.levels[in_rule], active), int(in_rule.sum()))
            patterns, counts, in_rule_count = self._patterns[r]
            if not in_rule_count:
                continue
            start = self.m or [_initial_m(len(c.levels)) for c in self.comparisons]
            result = expectation_maximisation(
                patterns, counts, start, u, active, refine_u=self.config.refine_u,
                max_iterations=self.config.em_max_iterations, groups=self.groups,
            )  # fmt: skip
            for c, on in enumerate(active):
                if on:
                    m_sums[c] += result.m[c]
                    m_sessions[c] += 1
            sessions.append({"rule": rule.name, "pairs": in_rule_count,
                             "matches": round(result.prior, 4), "iterations": result.iterations,
                             "converged": result.converged})  # fmt: skip
        m = [
            m_sums[c] / m_sessions[c] if m_sessions[c] else _initial_m(len(comp.levels))
            for c, comp in enumerate(self.comparisons)
        ]
        return m, sessions

    def _weights_without_prior(self, scorer: Scorer, chunk: int = 1_000_000) -> FloatArray:
        """Every blocked pair's weight less the prior, in chunks: per pair, the frequency of the
        value it agrees on and, for comparisons with a ``shared_group``, whether other entities
        hold it too."""
        out = np.empty(len(self.levels), dtype=np.float64)
        for start in range(0, len(self.levels), chunk):
            stop = min(start + chunk, len(self.levels))
            frequencies = np.zeros((stop - start, len(self.comparisons)), dtype=np.float64)
            shared: dict[int, BoolArray] = {}
            in_pair = self.holders_in_pair[start:stop]
            for c, hashes in self.tf_hashes.items():
                column = hashes[start:stop]
                present = column != 0
                holders = self.counts[c].holders(column[present], in_pair[present])
                frequencies[present, c] = self.counts[c].frequency(holders)
                if self.comparisons[c].spec.shared_group:
                    rows = np.zeros(stop - start, dtype=bool)
                    rows[present] = holders >= 2
                    shared[c] = rows
            weights = scorer.batch_weights(self.levels[start:stop], frequencies, shared)
            out[start:stop] = weights - scorer.prior_weight
        return out

    def _model(self, prior: float) -> ScorerModel:
        assert self.m is not None
        params = []
        for c, comparison in enumerate(self.comparisons):
            counts = self.counts[c]
            tf = bool(comparison.tf_levels)
            params.append(
                ComparisonParams(
                    name=comparison.name,
                    comparator=comparison.spec.comparator,
                    fields=comparison.fields,
                    levels=[
                        LevelParams(name=name, m=float(self.m[c][lv]), u=float(self.u[c][lv]))
                        for lv, name in enumerate(comparison.levels)
                    ],
                    tf_total=counts.total if tf else 0,
                    tf_rare=counts.singleton if tf else 0.0,
                )
            )
        return ScorerModel(prior=prior, n_records=len(self.batch), comparisons=params)

    def model(self) -> ScorerModel:
        """The fitted model, with the most frequent values for incremental term frequencies."""
        assert self.prior is not None
        model = self._model(self.prior)
        for c, comparison in enumerate(self.comparisons):
            if comparison.tf_levels:
                model.comparisons[c].tf_common = self._common_values(c)
        model.training = {
            "records": len(self.batch), "blocked_pairs": len(self.pairs), "u_pairs": self.u_pairs,
            "counted_by": "entity" if self.by_entity else "record", "sessions": self.sessions,
            "skipped_blocks": self.pairs.skipped_blocks_per_rule,
        }  # fmt: skip
        return model

    def scored(self) -> ScoredPairs:
        assert self.prior is not None
        return ScoredPairs(
            self.pairs.left, self.pairs.right, self.levels,
            self._without_prior + weight_of(self.prior), self.pairs.rules,
            stats={"pairs_per_rule": self.pairs.pairs_per_rule,
                   "skipped_blocks_per_rule": self.pairs.skipped_blocks_per_rule,
                   "skipped_records_per_rule": self.pairs.skipped_records_per_rule},
        )  # fmt: skip

    def _common_values(self, c: int) -> dict[str, int]:
        """The most frequent values of a term-frequency comparison, as text for the stored model."""
        config = self.config
        counts = self.counts[c]
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
        comparison = self.comparisons[c]
        found: dict[str, int] = {}
        for values in self.batch.prepared:
            if values[c] is None:
                continue
            for key in comparison.tf_keys(values[c]):
                count = wanted.get(hash(key))
                if count is not None:
                    found[key] = count
            if len(found) == len(wanted):
                break
        return found


def fit(
    records: Iterable[Mapping[str, Any]], config: EntityMatchConfig, workers: int = 1, seed: int = 0
) -> ScorerModel:
    """Learn a scorer model from records of one entity type (canonical values): the batch dedupe's
    model (``hub.identity.clustering.dedupe``), so term frequencies are counted by entity."""
    from hub.identity.clustering import dedupe

    return dedupe(records, config, workers=workers, seed=seed).model


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
        index: CandidateSource,
        store_lookup: Callable[[Collection[str]], Mapping[str, Mapping[str, Any]]],
        exclude: Collection[str] = (),
        keys: Collection[str] | None = None,
    ) -> list[Match]:
        """Candidates from the index, scored, best first. ``store_lookup(ids)`` returns the stored
        canonical values of those ids (missing ids are skipped); ``exclude`` drops ids (the record
        itself when it is already stored); ``keys``: its blocking keys, when the caller has them."""
        if keys is None:
            keys = self.blocking_keys(record)
        candidates = index.candidates(keys, self.config.max_block)
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

    def best_by_cluster(
        self, matches: Sequence[Match], cluster_of: Callable[[str], str | None]
    ) -> list[tuple[str, Match]]:
        """The best match per cluster (golden record), best first: an index of source records
        returns several records of one customer, and the decision is about the customer."""
        best: dict[str, Match] = {}
        for match in matches:
            cluster = cluster_of(match.record_id)
            if cluster is not None and cluster not in best:
                best[cluster] = match  # matches come best first
        return sorted(best.items(), key=lambda item: (-item[1].weight, item[0]))

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
