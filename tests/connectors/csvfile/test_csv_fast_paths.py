"""Fast paths of the CSV read: modified-at parsing and blank rows give what the general code gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from connectors.csvfile import timestamps
from connectors.csvfile.records import CsvRecord
from connectors.csvfile.timestamps import parse_timestamp

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _by_pattern(value: str, zone: ZoneInfo) -> datetime | None:
    """The parse without the fast path: the pattern alone."""
    original = timestamps._plain_form
    timestamps._plain_form = lambda text: False
    try:
        return parse_timestamp(value, zone)
    finally:
        timestamps._plain_form = original


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04 09:15:00", datetime(2026, 3, 4, 1, 15, tzinfo=UTC)),
        (" 2026-03-04T09:15:07 ", datetime(2026, 3, 4, 1, 15, 7, tzinfo=UTC)),
        ("2024-02-29 23:59:59", datetime(2024, 2, 29, 15, 59, 59, tzinfo=UTC)),
        ("2024-02-30 10:00:00", None),
        ("2026-13-01 00:00:00", None),
        ("2026-03-04 24:00:00", None),
        # Full-width digits are not the plain form: the pattern reads them, as it always did.
        ("２０２６-03-04 09:15:00", datetime(2026, 3, 4, 1, 15, tzinfo=UTC)),
        ("2026-03-04_09:15:00", None),
        ("2026/3/4 9:15", datetime(2026, 3, 4, 1, 15, tzinfo=UTC)),
        ("2026-03-04 09:15:00Z", datetime(2026, 3, 4, 9, 15, tzinfo=UTC)),
    ],
)
def test_known_forms(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text, SHANGHAI) == expected
    assert _by_pattern(text, SHANGHAI) == expected


def test_the_fast_path_agrees_with_the_pattern_on_random_values() -> None:
    rng = random.Random(11)
    for _ in range(5000):
        text = (
            f"{rng.randint(1900, 2100):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
            f"{rng.choice(' T')}{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:"
            f"{rng.randint(0, 61):02d}"
        )
        assert timestamps._plain_form(text)
        assert parse_timestamp(text, SHANGHAI) == _by_pattern(text, SHANGHAI), text


def test_the_zone_applies_to_the_fast_path() -> None:
    plus5 = timezone(timedelta(hours=5))
    assert parse_timestamp("2026-01-01 05:00:00", plus5) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cells", "blank"),
    [
        ([], True),
        ([""], True),
        (["", "  ", "\t", "\u3000"], True),  # an ideographic space is whitespace too
        (["", " x "], False),
        (["0"], False),
        (["\u3000a"], False),
    ],
)
def test_a_blank_row_is_one_of_blank_cells(cells: list[str], blank: bool) -> None:
    assert CsvRecord(1, 1, cells).is_blank is blank
    assert CsvRecord(1, 1, cells).is_blank is all(not cell.strip() for cell in cells)
