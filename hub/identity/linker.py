"""The deterministic linker: given the clusters an incoming record's keys point at, pick one or none.

A strong key links. Weak keys link only when no strong identifier disagrees and, for people, when
the names do not say two people (colleagues share an office line: it makes 尹慧军 and 覃瑶静 no one
person); a weak key shared by more than ``crowded`` clusters (a switchboard, a shared mailbox) is
ignored as evidence. Several eligible clusters are never merged here: the best one is chosen and the
others are named in the reason, for the review queue to settle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.identity.keys import STRONG, MatchKey, conflicting
from hub.model import EntityType


@dataclass(slots=True)
class LinkDecision:
    canonical_id: str | None
    reason: dict[str, Any] = field(default_factory=dict)


def decide(
    entity: EntityType,
    values: dict[str, Any],
    keys: list[MatchKey],
    clusters_by_key: Mapping[str, set[str]],
    cluster_values: Callable[[str], dict[str, Any]],
    crowded: int = 3,
) -> LinkDecision:
    strong: dict[str, list[str]] = {}
    weak: dict[str, list[str]] = {}
    ignored: list[str] = []
    for key in keys:
        clusters = clusters_by_key.get(key.key, set())
        if key.strength != STRONG and len(clusters) > crowded:
            ignored.append(key.key)
            continue
        for cid in clusters:
            (strong if key.strength == STRONG else weak).setdefault(cid, []).append(key.key)
    eligible: list[tuple[int, int, str]] = []
    refused: dict[str, str] = {}
    for cid in set(strong) | set(weak):
        if cid not in strong:
            held = cluster_values(cid)
            clash = conflicting(entity, values, held) or _names_differ(entity, values, held)
            if clash:
                refused[cid] = f"{clash} differs"
                continue
        eligible.append((-len(strong.get(cid, [])), -len(weak.get(cid, [])), cid))
    if not eligible:
        reason: dict[str, Any] = {"rule": "new"}
        if refused:
            reason["refused"] = refused
        if ignored:
            reason["ignored_crowded_keys"] = ignored
        return LinkDecision(None, reason)
    eligible.sort()
    chosen = eligible[0][2]
    reason = {"rule": "deterministic", "keys": strong.get(chosen, []) + weak.get(chosen, [])}
    others = [cid for _, _, cid in eligible[1:]]
    if others:
        reason["also_matched"] = others
    if refused:
        reason["refused"] = refused
    if ignored:
        reason["ignored_crowded_keys"] = ignored
    return LinkDecision(chosen, reason)


def _names_differ(entity: EntityType, values: dict[str, Any], held: dict[str, Any]) -> str | None:
    """ "name" when two people's names say they are two people; a missing name or a company never
    differs here."""
    if entity is EntityType.COMPANY:
        return None
    mine, theirs = values.get("full_name"), held.get("full_name")
    if not mine or not theirs:
        return None
    from hub.identity.compare import person_names_differ  # only for a weak key's candidates

    return "name" if person_names_differ(str(mine), str(theirs)) else None
