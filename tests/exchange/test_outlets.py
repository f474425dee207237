"""Service halls: by city (成都 or 成都市) and by service."""

from __future__ import annotations

import pytest

from exchange.core.codes import ServiceCode
from tests.exchange.support import Api, assert_problem

OUTLETS = "/v1/outlets"
PURPOSE = "service_hall_lookup"
REQUIRED_CITIES = (
    "北京市", "成都市", "青岛市", "武汉市", "广州市", "南京市",
    "上海市", "杭州市", "重庆市", "西安市", "深圳市", "郑州市",
)  # fmt: skip


def search(api: Api, **params: str) -> list[dict]:
    response = api.get(OUTLETS, purpose=PURPOSE, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("city", ["成都", "成都市"])
def test_short_and_full_city_names_find_the_same_halls(api: Api, city: str):
    halls = search(api, city=city)
    assert {hall["outlet_id"] for hall in halls} == {"CD-JJ-01", "CD-QY-01", "CD-WH-01"}


def test_filter_by_service(api: Api):
    halls = search(api, city="成都", service="renew_id_card")
    assert {hall["outlet_id"] for hall in halls} == {"CD-JJ-01", "CD-WH-01"}
    assert all("renew_id_card" in hall["services"] for hall in halls)


def test_every_hall_is_complete(api: Api):
    halls = search(api)
    cities = {hall["city"] for hall in halls}
    assert set(REQUIRED_CITIES) <= cities
    for hall in halls:
        assert hall["address"] and hall["opening_hours"] and hall["phone"]
        assert hall["accessibility"]
        assert set(hall["services"]) <= {code.value for code in ServiceCode}


def test_unknown_city_has_no_halls(api: Api):
    assert search(api, city="拉萨") == []


def test_a_municipality_by_short_name(api: Api):
    assert {hall["city"] for hall in search(api, city="重庆")} == {"重庆市"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"service": "haircut"}, "service"), ({"city": ""}, "city"), ({"city": "长" * 21}, "city")],
)
def test_bad_queries_are_422(api: Api, params: dict, field: str):
    assert_problem(api.get(OUTLETS, purpose=PURPOSE, params=params), 422, field=field)


@pytest.mark.parametrize("purpose", ["service_hall_lookup", "id_card_renewal"])
def test_public_data_for_any_purpose(api: Api, purpose: str):
    assert api.get(OUTLETS, purpose=purpose).status_code == 200


def test_one_hall_by_id(api: Api):
    response = api.get(f"{OUTLETS}/BJ-DC-01", purpose=PURPOSE)
    assert response.json()["name"] == "北京市东城区政务服务中心"
    assert_problem(api.get(f"{OUTLETS}/XX-00-00", purpose=PURPOSE), 404, slug="unknown-outlet")
