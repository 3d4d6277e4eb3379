"""Probabilistic matching in the incremental path: one batch of incoming records against the stored
ones, through the persistent blocking index, with the model ``huitong dedupe`` trained.

A record that no deterministic key links is scored against the records that share a blocking key
with it (``Matcher.match_one``), best per golden record. At or above the link threshold it joins that
golden record; between the thresholds it gets a golden record of its own and the pair goes to the review
queue; below, it is new. Two guards keep the link honest (DESIGN.md, "Judging a match"): a golden record
holding a strong identifier that disagrees with the incoming record (another credit code, another
personal email) needs the ``conflict_link`` probability, and a pair a person kept apart is never linked.

The batch costs two index queries and one source query, whatever its size: keys and candidates of all its
records are fetched at once (``BatchMatching.prefetch``); records of the batch itself are matched
against each other through an in-memory overlay.

No model, or one trained for other comparisons or blocking rules: matching stays deterministic until
``huitong dedupe`` trains one (``status`` says so).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from hub.identity.keys import conflicting
from hub.model import EntityType
from hub.ports import StoreTransaction

if TYPE_CHECKING:
    from hub.identity.scorer import EntityMatchConfig, Match, Matcher


def config_fingerprint(config: EntityMatchConfig) -> str:
    """What a trained model and the blocking index depend on: the comparisons and the blocking rules
    (thresholds can change without training again)."""
    data = config.model_dump(mode="json", include={"comparisons", "blocking", "max_block"})
    data["comparators"] = COMPARATORS_VERSION
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


# Raised when a comparator sorts pairs into its levels differently: a model trained before counted
# other pairs at each level, and `huitong dedupe` trains again. 2: Hanzi names with one family name
# and given names apart are "different"; initials that differ share no name key.
COMPARATORS_VERSION = 2


def load_matcher(
    tx: StoreTransaction, config_for: Callable[[EntityType], EntityMatchConfig], entity: EntityType
) -> Matcher | None:
    """The matcher for ``entity`` when a model trained for its configuration is stored (the
    configuration is only built then: it brings numpy and the comparators)."""
    stored = tx.match_model(entity)
    if stored is None:
        return None
    fingerprint, model_json = stored
    config = config_for(entity)
    if fingerprint != config_fingerprint(config):
        return None
    from hub.identity.scorer import Matcher, ScorerModel  # numpy: only once a model is in use

    return Matcher(config, ScorerModel.from_json(model_json))


@dataclass(slots=True)
class ProbabilisticDecision:
    decision: str  # link | review | new
    canonical_id: str | None
    match: Match | None
    reason: dict[str, Any] = field(default_factory=dict)


def match_reason(match: Match, rule: str) -> dict[str, Any]:
    """What made (or nearly made) a link: for ``explain`` and the review queue."""
    return {
        "rule": rule,
        "probability": round(match.probability, 6),
        "weight": round(match.weight, 3),
        "matched": match.record_id,
        "levels": {k: v for k, v in match.levels.items() if v != "missing"},
        "contributions": {k: v for k, v in match.contributions.items() if v},
    }


class BatchMatching:
    """One apply batch's view of the blocking index: what is stored plus what the batch added."""

    def __init__(self, tx: StoreTransaction, entity: EntityType, matcher: Matcher) -> None:
        self.tx = tx
        self.entity = entity
        self.matcher = matcher
        self.limit = matcher.config.max_block
        self._stored: dict[str, list[tuple[str, str]]] = {}  # key → [(source key, canonical id)]
        self._added: dict[str, list[tuple[str, str]]] = {}
        self._values: dict[str, tuple[str, Mapping[str, Any]]] = {}  # source key → (cid, values)
        self._keys_of: dict[str, list[str]] = {}

    def keys(self, record_id: str, values: Mapping[str, Any]) -> list[str]:
        keys = self._keys_of.get(record_id)
        if keys is None:
            keys = self._keys_of[record_id] = self.matcher.blocking_keys(values)
        return keys

    def prefetch(self, records: Mapping[str, Mapping[str, Any]]) -> set[str]:
        """Read the index and the candidate records for every record of the batch at once; returns
        the golden records they belong to (the batch must hold them to link to one)."""
        wanted = {key for rid, values in records.items() for key in self.keys(rid, values)}
        if not wanted:
            return set()
        self._stored = self.tx.blocking_members(self.entity, wanted, self.limit)
        sources = {source for members in self._stored.values() for source, _ in members}
        self._values.update(self.tx.source_values(sources))
        return {cid for cid, _ in self._values.values()}

    def candidates(self, keys: Collection[str], limit: int) -> set[str]:
        found: set[str] = set()
        for key in keys:
            stored, added = self._stored.get(key, ()), self._added.get(key, ())
            if 0 < len(stored) + len(added) <= limit:
                found.update(source for source, _ in stored)
                found.update(source for source, _ in added)
        return found

    def add_record(self, record_id: str, cid: str, values: Mapping[str, Any]) -> list[str]:
        """A record of this batch, now stored under ``cid``: later records of the batch see it."""
        keys = self.keys(record_id, values)
        for key in keys:
            self._added.setdefault(key, []).append((record_id, cid))
        self._values[record_id] = (cid, values)
        return keys

    def lookup(self, ids: Collection[str]) -> dict[str, Mapping[str, Any]]:
        return {rid: self._values[rid][1] for rid in ids if rid in self._values}

    def cluster_of(self, record_id: str) -> str | None:
        held = self._values.get(record_id)
        return held[0] if held else None

    def decide(
        self,
        record_id: str,
        values: Mapping[str, Any],
        cluster_values: Callable[[str], dict[str, Any]],
        kept_apart: Callable[[str], bool],
    ) -> ProbabilisticDecision:
        """``cluster_values(cid)`` gives a golden record's values (for the strong-key guard);
        ``kept_apart(cid)`` tells whether a person ruled this record out of ``cid``."""
        keys = self.keys(record_id, values)
        matches = self.matcher.match_one(values, self, self.lookup, (record_id,), keys)
        config = self.matcher.config
        for cid, match in self.matcher.best_by_cluster(matches, self.cluster_of):
            if match.probability < config.review:
                break
            if kept_apart(cid):
                continue
            clash = conflicting(self.entity, dict(values), cluster_values(cid))
            if match.probability >= config.link and (
                not clash or match.probability >= config.conflict_link
            ):
                return ProbabilisticDecision(
                    "link", cid, match, match_reason(match, "probabilistic")
                )
            reason = match_reason(match, "review")
            if clash:
                reason["conflict"] = f"{clash} differs"
            return ProbabilisticDecision("review", cid, match, reason)
        return ProbabilisticDecision("new", None, None, {})
