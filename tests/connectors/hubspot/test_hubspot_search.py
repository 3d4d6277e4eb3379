"""CRM search through the real client: operators, groups, sorts, paging, the 10,000 cap, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from connectors.hubspot.emulator import HubSpotEmulator
from connectors.hubspot.emulator_ratelimit import RateLimitConfig

PEOPLE = [
    {
        "email": "li.wei@huawei.com",
        "firstname": "Wei",
        "lastname": "Li",
        "lifecyclestage": "lead",
        "city": "Shenzhen",
    },
    {
        "email": "zhang.min@alibaba.com",
        "firstname": "Min",
        "lastname": "Zhang",
        "lifecyclestage": "customer",
        "city": "Hangzhou",
    },
    {
        "email": "wang.fang@huawei.com",
        "firstname": "Fang",
        "lastname": "Wang",
        "lifecyclestage": "customer",
    },
    {
        "email": "chen.jie@tencent.com",
        "firstname": "Jie",
        "lastname": "Chen",
        "lifecyclestage": "opportunity",
        "city": "Shenzhen",
    },
]


@pytest.fixture
def seeded(emulator: HubSpotEmulator) -> dict[str, str]:
    ticks = iter(range(1_700_000_000_000, 1_800_000_000_000, 60_000))
    emulator.portal.clock = lambda: next(ticks)
    return {p["email"]: emulator.portal.create("contacts", p).id for p in PEOPLE}


def _search(client: Any, *groups: list[dict[str, Any]], **kwargs: Any) -> Any:
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": g} for g in groups], limit=kwargs.pop("limit", 100), **kwargs
    )
    return client.crm.contacts.search_api.do_search(public_object_search_request=request)


def _emails(result: Any) -> set[str]:
    return {r.properties["email"] for r in result.results}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            [{"propertyName": "email", "operator": "EQ", "value": "LI.WEI@huawei.com"}],
            {"li.wei@huawei.com"},
        ),
        (
            [{"propertyName": "lifecyclestage", "operator": "NEQ", "value": "customer"}],
            {"li.wei@huawei.com", "chen.jie@tencent.com"},
        ),
        (
            [
                {
                    "propertyName": "lifecyclestage",
                    "operator": "IN",
                    "values": ["lead", "opportunity"],
                }
            ],
            {"li.wei@huawei.com", "chen.jie@tencent.com"},
        ),
        (
            [{"propertyName": "lifecyclestage", "operator": "NOT_IN", "values": ["customer"]}],
            {"li.wei@huawei.com", "chen.jie@tencent.com"},
        ),
        (
            [{"propertyName": "city", "operator": "HAS_PROPERTY"}],
            {"li.wei@huawei.com", "zhang.min@alibaba.com", "chen.jie@tencent.com"},
        ),
        ([{"propertyName": "city", "operator": "NOT_HAS_PROPERTY"}], {"wang.fang@huawei.com"}),
        (
            [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@huawei.com"}],
            {"li.wei@huawei.com", "wang.fang@huawei.com"},
        ),
        (
            [{"propertyName": "email", "operator": "NOT_CONTAINS_TOKEN", "value": "*@huawei.com"}],
            {"zhang.min@alibaba.com", "chen.jie@tencent.com"},
        ),
        ([{"propertyName": "lastname", "operator": "LT", "value": "Li"}], {"chen.jie@tencent.com"}),
        (
            [{"propertyName": "lastname", "operator": "LTE", "value": "Li"}],
            {"chen.jie@tencent.com", "li.wei@huawei.com"},
        ),
        (
            [{"propertyName": "lastname", "operator": "GT", "value": "Wang"}],
            {"zhang.min@alibaba.com"},
        ),
        (
            [{"propertyName": "lastname", "operator": "GTE", "value": "Wang"}],
            {"zhang.min@alibaba.com", "wang.fang@huawei.com"},
        ),
        # AND inside a group
        (
            [
                {"propertyName": "city", "operator": "EQ", "value": "shenzhen"},
                {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
            ],
            {"li.wei@huawei.com"},
        ),
    ],
)
def test_operators(
    client: Any, seeded: dict[str, str], filters: list[dict[str, Any]], expected: set[str]
) -> None:
    result = _search(client, filters, properties=["email"])
    assert _emails(result) == expected
    assert result.total == len(expected)


def test_groups_are_ored_and_dates_filter_by_ms_or_iso(client: Any, seeded: dict[str, str]) -> None:
    result = _search(
        client,
        [{"propertyName": "lastname", "operator": "EQ", "value": "Li"}],
        [{"propertyName": "lastname", "operator": "EQ", "value": "Chen"}],
        properties=["email"],
    )
    assert _emails(result) == {"li.wei@huawei.com", "chen.jie@tencent.com"}
    third = 1_700_000_000_000 + 2 * 60_000  # the third record's creation (one create per tick)
    by_ms = _search(
        client, [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(third)}]
    )
    by_iso = _search(
        client,
        [
            {
                "propertyName": "lastmodifieddate",
                "operator": "GTE",
                "value": "2023-11-14T22:15:20.000Z",
            }
        ],
    )
    between = _search(
        client,
        [
            {
                "propertyName": "createdate",
                "operator": "BETWEEN",
                "value": str(third - 60_000),
                "highValue": str(third),
            }
        ],
    )
    assert (
        {r.id for r in by_ms.results}
        == {r.id for r in by_iso.results}
        == set(list(seeded.values())[2:])
    )
    assert {r.id for r in between.results} == set(list(seeded.values())[1:3])


def test_sorts_as_objects_and_as_json_strings_and_properties(
    client: Any, seeded: dict[str, str]
) -> None:
    desc = _search(
        client,
        sorts=[{"propertyName": "lastname", "direction": "DESCENDING"}],
        properties=["lastname"],
    )
    assert [r.properties["lastname"] for r in desc.results] == ["Zhang", "Wang", "Li", "Chen"]
    # The client types sorts as strings; HubSpot's Node README sends a JSON-encoded object.
    as_string = _search(
        client, sorts=[json.dumps({"propertyName": "lastname", "direction": "ASCENDING"})]
    )
    assert [r.properties.get("lastname") for r in as_string.results] == [
        "Chen",
        "Li",
        "Wang",
        "Zhang",
    ]
    # Requested properties plus the ones HubSpot always returns.
    assert set(desc.results[0].properties) == {
        "lastname",
        "createdate",
        "hs_object_id",
        "lastmodifieddate",
    }
    assert set(as_string.results[0].properties) >= {"email", "firstname", "lastname"}


def test_free_text_query(client: Any, seeded: dict[str, str]) -> None:
    result = client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(query="zhang", limit=10)
    )
    assert [r.id for r in result.results] == [seeded["zhang.min@alibaba.com"]]


def test_after_paging_and_total(emulator: HubSpotEmulator, client: Any) -> None:
    for i in range(450):
        emulator.portal.create("companies", {"name": f"Co {i:03d}", "domain": f"co{i}.cn"})
    ids, after = [], None
    while True:
        page = client.crm.companies.search_api.do_search(
            public_object_search_request=PublicObjectSearchRequest(
                limit=200, after=after, sorts=[{"propertyName": "name", "direction": "ASCENDING"}]
            )
        )
        assert page.total == 450
        ids += [r.properties["name"] for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert ids == [f"Co {i:03d}" for i in range(450)]


def test_limit_above_200_is_rejected(client: Any, seeded: dict[str, str]) -> None:
    with pytest.raises(ApiException) as caught:
        _search(client, limit=201)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_ten_thousand_result_cap(emulator: HubSpotEmulator, client: Any) -> None:
    for i in range(10_050):
        emulator.portal.create("contacts", {"firstname": f"n{i}"})
    page = _search(client, limit=100, after="9900")
    assert page.total == 10_050
    assert len(page.results) == 100
    assert page.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        _search(client, limit=100, after="10000")
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert "10,000" in body["message"]


@pytest.mark.parametrize(
    ("groups", "per_group"),
    [(6, 1), (1, 11), (3, 9)],  # too many groups; too many in one group; 27 filters in all
)
def test_filter_limits(client: Any, seeded: dict[str, str], groups: int, per_group: int) -> None:
    group = [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * per_group
    with pytest.raises(ApiException) as caught:
        _search(client, *([group] * groups))
    assert caught.value.status == 400


def test_largest_allowed_filter_set_is_accepted(client: Any, seeded: dict[str, str]) -> None:
    group = [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 5
    assert _search(client, *([group] * 5)).total == 4


def test_search_has_its_own_per_second_limit(make_emulator: Any) -> None:
    now = [0.0]
    emulator = make_emulator(
        rate_limits=RateLimitConfig(search_per_second=4), limiter_clock=lambda: now[0]
    )
    client = emulator.client()
    for _ in range(4):
        _search(client)
    client.crm.contacts.basic_api.get_page()  # other endpoints are not held back
    with pytest.raises(ApiException) as caught:
        _search(client)
    assert caught.value.status == 429
    body = json.loads(caught.value.body)
    assert body["policyName"] == "SECONDLY"
    assert body["category"] == "RATE_LIMITS"
    now[0] = 1.0
    assert _search(client).total == 0
