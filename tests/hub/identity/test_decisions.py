"""Decisions about two golden records, read through the merges that happened since."""

from hub.identity.decisions import latest_decisions


def test_a_decision_moves_with_the_records_it_was_about() -> None:
    constraints = [
        (
            "cannot_link",
            "A",
            "B",
        ),
        ("must_link", "X", "A"),  # A merged into X: a pair of one record, left out
    ]
    assert latest_decisions(constraints, {"A": "X"}) == {frozenset(("X", "B")): "cannot_link"}


def test_the_newest_decision_about_a_pair_counts() -> None:
    constraints = [("cannot_link", "A", "B"), ("must_link", "X", "B")]
    assert latest_decisions(constraints, {"A": "X"}) == {frozenset(("X", "B")): "must_link"}
    assert latest_decisions(constraints, {}) == {
        frozenset(("A", "B")): "cannot_link",
        frozenset(("X", "B")): "must_link",
    }
