"""A person's decisions about two golden records (must-link, cannot-link), as they stand after merges.

A decision names the two golden records as they were when it was made. Once either is merged into a
third, it holds for the third: the third now holds the records the person looked at."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def latest_decisions(
    constraints: Iterable[tuple[str, str, str]], owner: Mapping[str, str]
) -> dict[frozenset[str], str]:
    """The newest decision per pair of golden records, each end read through ``owner`` (a merged id
    → the record it belongs to now; an id not in it stands for itself). ``constraints`` are
    (kind, a, b), oldest first. A pair whose two ends are one record now is left out."""
    latest: dict[frozenset[str], str] = {}
    for kind, a, b in constraints:
        a, b = owner.get(a, a), owner.get(b, b)
        if a != b:
            latest[frozenset((a, b))] = kind
    return latest
