"""Mapped chunks cross from the reading worker to the applying process unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hub.engine import MappedChunk, pack, summarise, unpack
from hub.model import Candidate, EntityType
from hub.ports import RecordRef, Rejection, SourceRecord

T = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)


def _candidate(ext: str, **changes: object) -> Candidate:
    c = Candidate(
        RecordRef("erp", "contacts", ext),
        EntityType.PERSON,
        {"full_name": "张伟", "email": "zw@x.cn", "custom.level": 3, "custom.vip": True},
        {},
        T,
        location=f"c.csv:{ext}",
        raw={"姓名": "张伟", "邮箱": " ZW@x.cn ", "备注": None},
        fingerprint="f" * 32,
    )
    for name, value in changes.items():
        setattr(c, name, value)
    return c


def _chunk(*candidates: Candidate) -> MappedChunk:
    rejection = Rejection("erp", "contacts", "c.csv:9", "wrong number of fields", "L9", ["a"])
    return MappedChunk(
        read=len(candidates) + 1,
        records=len(candidates),
        cursor="cursor-1",
        newest=T,
        candidates=list(candidates),
        rejections=[rejection],
        external_ids=["L1", "L9"],
    )


def test_a_chunk_comes_back_equal() -> None:
    chunk = _chunk(
        _candidate("L1"),
        _candidate(
            "L2",
            field_times={"email": T - timedelta(days=1)},
            refs={"company_id": RecordRef("erp", "customers", "C1")},
            issues=["手机 → mobile: '123' is not a valid phone number; value ignored"],
            deleted=True,
            modified_at=datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        ),
    )
    back = unpack(pack(chunk))
    assert back == chunk
    assert back.candidates[1].modified_at.utcoffset() == timedelta(hours=8)
    assert back.candidates[0].entity_type is EntityType.PERSON


def test_values_json_would_change_cross_pickled() -> None:
    odd = [
        {"custom.ratio": float("nan")},
        {"custom.amount": Decimal("1.10")},
        {"custom.tags": ("a", "b")},
        {"custom.big": 2**70},
    ]
    for values in odd:
        assert isinstance(values, dict)
        chunk = _chunk(_candidate("L1", values=values))
        back = unpack(pack(chunk))
        got = back.candidates[0].values
        assert isinstance(got, dict)
        assert got.keys() == values.keys()
        for name, value in values.items():
            assert type(got[name]) is type(value)
            assert repr(got[name]) == repr(value)


def test_summarise_keeps_the_order_of_rejections_and_the_last_cursor() -> None:
    records = [
        SourceRecord("erp", "contacts", f"L{i}", {}, T + timedelta(minutes=i), cursor=f"c{i}")
        for i in range(3)
    ]
    broken = Rejection("erp", "contacts", "c.csv:3", "bad row", "L7")
    mapped: list[Candidate | Rejection] = [
        _candidate("L0"),
        Rejection("erp", "contacts", "c.csv:2", "no usable value", "L1"),
        _candidate("L2"),
    ]
    chunk = summarise([records[0], broken, records[1], records[2]], mapped, want_ids=True)
    assert chunk.read == 4
    assert chunk.records == 3
    assert chunk.cursor == "c2"
    assert chunk.newest == T + timedelta(minutes=2)
    assert [r.location for r in chunk.rejections] == ["c.csv:3", "c.csv:2"]
    assert [c.ref.external_id for c in chunk.candidates] == ["L0", "L2"]
    assert chunk.external_ids == ["L0", "L1", "L2", "L7"]


def test_overlapping_syncs_restore_the_collector_when_the_last_one_ends() -> None:
    import gc

    from hub.engine import bulk_gc

    before = gc.get_threshold()
    with bulk_gc(threshold=12_345):
        assert gc.get_threshold()[0] == max(before[0], 12_345)
        assert gc.get_freeze_count() > 0
        with bulk_gc(threshold=99_999):  # a second sync in another thread
            assert gc.get_threshold()[0] == max(before[0], 12_345)
        assert gc.get_threshold()[0] == max(before[0], 12_345)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
