"""The demo register (data/demo/citizens.yml) meets what the demos rely on."""

from __future__ import annotations

import pytest

from common import idcard
from common.regions import PROVINCES
from exchange.core.codes import ServiceCode
from exchange.seed import load
from tests.exchange.support import DEMO, DEMO_FILE

# GB/T 2260 province codes of the demo citizens' ID numbers.
REGION_CODES = {"11": "北京市", "51": "四川省", "37": "山东省", "42": "湖北省", "44": "广东省",
                "32": "江苏省"}  # fmt: skip
CITIES = ("北京市", "成都市", "青岛市", "武汉市", "广州市", "南京市", "上海市", "杭州市",
          "重庆市", "西安市", "深圳市", "郑州市")  # fmt: skip


@pytest.fixture(scope="module")
def data() -> dict:
    return load(DEMO_FILE)


def test_the_citizens(data: dict):
    citizens = {c["name"]: c for c in data["citizens"]}
    assert {name: (c["id_number"], c["phone"][-4:]) for name, c in citizens.items()} == DEMO
    # The tests rely on these people: a retired one from each insured province and
    # 孙志强, who is under 60.
    assert {"张桂芳", "陈德明", "刘淑珍", "赵国强", "李建国", "王秀英", "孙志强"} <= set(DEMO)
    for citizen in citizens.values():
        number = citizen["id_number"]
        assert idcard.is_valid(number)
        assert idcard.gender(number) == citizen["gender"]
        assert REGION_CODES[number[:2]] == citizen["insured"]["province"]
        # Everyone over 60 is retired; the one under 60 (the senior card's "not yet") works.
        retired = idcard.birth_date(number).year < 1965
        assert citizen["pension"]["status"] == ("retired" if retired else "not_retired")
        assert citizen["social_security_card"]["status"] == "active"
    assert len({c["phone"][-4:] for c in citizens.values()}) == len(DEMO)


def test_senior_card_cases(data: dict):
    # Over 60 with and without an address on record, and one person under 60.
    people = [(idcard.birth_date(c["id_number"]).year, bool(c.get("address")))
              for c in data["citizens"]]  # fmt: skip
    assert any(year < 1960 and address for year, address in people)
    assert any(year < 1960 and not address for year, address in people)
    assert any(year > 1970 for year, _ in people)


def test_id_card_expiries_cover_every_status(data: dict):
    cards = [c["id_card"] for c in data["citizens"]]
    expires = [card.get("expires_in_days") for card in cards]
    assert any(days is not None and days < 0 for days in expires)
    assert any(days is not None and 0 <= days <= 90 for days in expires)
    assert any(card.get("long_term") or (card.get("expires_in_days") or 0) > 365 for card in cards)


def test_service_halls(data: dict):
    outlets = data["outlets"]
    by_city: dict[str, int] = {}
    for outlet in outlets:
        by_city[outlet["city"]] = by_city.get(outlet["city"], 0) + 1
        assert outlet["province"] in PROVINCES
        assert set(outlet["services"]) <= {code.value for code in ServiceCode}
        assert outlet["accessibility"] and outlet["opening_hours"] and outlet["phone"]
    assert set(CITIES) <= set(by_city)
    assert sum(1 for count in by_city.values() if count >= 2) >= 6
    assert len({outlet["outlet_id"] for outlet in outlets}) == len(outlets)


def test_seeded_applications_look_real(data: dict):
    numbers = [a["application_no"] for c in data["citizens"] for a in c.get("applications", [])]
    assert numbers and all(number[2:4] not in ("19", "20") for number in numbers)
