"""Each survivorship rule, ties broken deterministically, pinned values, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.golden import StoredSource, Survivorship, diff
from hub.model import EntityType
from hub.ports import RecordRef
from hub.settings import SurvivorshipRule, SurvivorshipSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def src(system: str, ext: str, values: dict, at: datetime = T0, **times: datetime) -> StoredSource:
    return StoredSource(
        RecordRef(system, "contacts", ext), EntityType.PERSON, "per_x", values, dict(times), at
    )


def rules(
    default: str = "priority", systems: list[str] | None = None, **fields: str
) -> Survivorship:
    settings = SurvivorshipSettings(
        default=SurvivorshipRule(rule=default, systems=systems or []),
        fields={k.replace("__", "."): SurvivorshipRule(rule=v) for k, v in fields.items()},
    )
    return Survivorship(settings, ["erp", "crm", "hubspot"])


def test_priority_follows_the_configured_order() -> None:
    s = rules(systems=["crm", "erp"])
    golden = s.decide(
        EntityType.PERSON,
        [src("erp", "1", {"title": "经理"}), src("crm", "2", {"title": "CFO"})],
        {},
    )
    assert golden["title"].value == "CFO"
    assert golden["title"].source == RecordRef("crm", "contacts", "2")
    assert golden["title"].rule == "priority"


def test_priority_falls_back_to_the_next_system_when_the_first_has_no_value() -> None:
    s = rules(systems=["crm", "erp"])
    golden = s.decide(
        EntityType.PERSON, [src("erp", "1", {"title": "经理"}), src("crm", "2", {})], {}
    )
    assert golden["title"].value == "经理"


def test_latest_uses_field_level_timestamps() -> None:
    s = rules(email="latest")
    older = src("erp", "1", {"email": "old@x.cn"}, at=T0 + timedelta(days=5), email=T0)
    newer = src("crm", "2", {"email": "new@x.cn"}, at=T0 + timedelta(days=1))
    golden = s.decide(EntityType.PERSON, [older, newer], {})
    assert golden["email"].value == "new@x.cn"
    assert golden["email"].changed_at == T0 + timedelta(days=1)


def test_most_complete_prefers_the_longest_value() -> None:
    s = rules(street="most_complete")
    golden = s.decide(
        EntityType.PERSON,
        [src("erp", "1", {"street": "中关村大街"}), src("crm", "2", {"street": "中关村大街27号"})],
        {},
    )
    assert golden["street"].value == "中关村大街27号"


def test_most_frequent_counts_agreeing_sources() -> None:
    s = rules(city="most_frequent")
    golden = s.decide(
        EntityType.PERSON,
        [
            src("erp", "1", {"city": "北京"}),
            src("crm", "2", {"city": "上海"}),
            src("hubspot", "3", {"city": "上海"}),
        ],
        {},
    )
    assert golden["city"].value == "上海"


def test_pinned_value_wins_over_every_rule() -> None:
    s = rules()
    golden = s.decide(EntityType.PERSON, [src("erp", "1", {"title": "经理"})], {"title": "董事长"})
    assert golden["title"].value == "董事长"
    assert golden["title"].rule == "pinned"


def test_deleted_sources_do_not_vote() -> None:
    s = rules()
    gone = src("erp", "1", {"title": "经理"})
    gone.deleted = True
    golden = s.decide(EntityType.PERSON, [gone, src("crm", "2", {"title": "CFO"})], {})
    assert golden["title"].value == "CFO"


def test_decision_does_not_depend_on_read_order() -> None:
    s = rules("latest")
    a, b = (
        src("erp", "1", {"title": "A"}),
        src("crm", "2", {"title": "B"}),
    )  # same timestamp: priority breaks it
    assert (
        s.decide(EntityType.PERSON, [a, b], {})["title"].value
        == s.decide(EntityType.PERSON, [b, a], {})["title"].value
    )


def test_conflict_recorded_when_two_sources_disagree_on_a_changed_field() -> None:
    s = rules()
    incoming = src("crm", "2", {"title": "CFO", "city": "北京"})
    other = src("erp", "1", {"title": "财务总监", "city": "北京"})
    golden = s.decide(EntityType.PERSON, [incoming, other], {})
    conflicts = s.conflicts(EntityType.PERSON, incoming, None, [incoming, other], golden)
    assert [c.field for c in conflicts] == ["title"]
    assert conflicts[0].winner == "财务总监"
    assert conflicts[0].rule == "priority"
    assert {v[1] for v in conflicts[0].values} == {"CFO", "财务总监"}


def test_no_conflict_when_the_field_did_not_change_in_the_incoming_source() -> None:
    s = rules()
    previous = src("crm", "2", {"title": "CFO"})
    incoming = src("crm", "2", {"title": "CFO", "city": "上海"})
    other = src("erp", "1", {"title": "财务总监"})
    golden = s.decide(EntityType.PERSON, [incoming, other], {})
    assert s.conflicts(EntityType.PERSON, incoming, previous, [incoming, other], golden) == []


def test_diff_lists_field_level_before_and_after() -> None:
    s = rules()
    before = s.decide(EntityType.PERSON, [src("erp", "1", {"title": "经理"})], {})
    after = s.decide(EntityType.PERSON, [src("erp", "1", {"title": "总监", "city": "北京"})], {})
    changes = diff(before, after)
    assert changes["title"]["before"] == "经理"
    assert changes["title"]["after"] == "总监"
    assert changes["city"]["before"] is None
    assert changes["city"]["src"] == "erp/contacts/1"
