"""Application numbers and status look-ups."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI

from exchange.services import applications
from tests.exchange.support import Api, FakeClock, assert_problem

PURPOSE = "application_status"


def test_numbers_are_two_letters_and_eight_digits_never_date_like():
    numbers = [applications.draw_number("SB") for _ in range(5000)]
    assert all(re.fullmatch(r"SB[0-9]{8}", number) for number in numbers)
    assert not any(number[2:4] in ("19", "20") for number in numbers)
    assert len(set(numbers)) > 4990  # random, not sequential or clock-based


@pytest.mark.parametrize(
    ("digits", "date_like"),
    [("20260115", True), ("19491001", True), ("20991231", True), ("48310275", False),
     ("02192020", False)],
)  # fmt: skip
def test_looks_like_date(digits: str, date_like: bool):
    assert applications.looks_like_date(digits) is date_like


def file_transfer(api: Api, ref: str, to_city: str = "重庆市", to_province: str = "重庆市"):
    body = {
        "person_ref": ref, "from_province": "四川省", "from_city": "成都市",
        "to_province": to_province, "to_city": to_city,
    }  # fmt: skip
    response = api.post("/v1/social-insurance/transfers", body, purpose="social_insurance_transfer")
    assert response.status_code == 201, response.text
    return response.json()


def test_collision_draws_another_number(api: Api, refs: dict[str, str], monkeypatch):
    taken = file_transfer(api, refs["陈德明"])["application_no"]
    draws = iter([taken, "SB48310275"])
    monkeypatch.setattr(applications, "draw_number", lambda prefix: next(draws))
    second = file_transfer(api, refs["陈德明"], "广州市", "广东省")
    assert second["application_no"] == "SB48310275"


def test_read_an_application_by_number(api: Api, refs: dict[str, str]):
    filed = file_transfer(api, refs["陈德明"])
    response = api.get(f"/v1/applications/{filed['application_no']}", purpose=PURPOSE)
    assert response.status_code == 200
    assert response.json() == filed


def test_seeded_application(api: Api, refs: dict[str, str]):
    record = api.get("/v1/applications/YB73150286", purpose=PURPOSE).json()
    assert record["status"] == "processing"
    assert record["status_text"] == "办理中"
    assert record["person_ref"] == refs["赵国强"]


def test_unknown_and_malformed_numbers(api: Api):
    assert_problem(api.get("/v1/applications/SB00000001", purpose=PURPOSE), 404)
    assert_problem(api.get("/v1/applications/sb123", purpose=PURPOSE), 422, field="application_no")


def test_a_persons_applications_newest_first(api: Api, refs: dict[str, str], clock: FakeClock):
    first = file_transfer(api, refs["陈德明"])
    clock.advance(hours=1)
    second = file_transfer(api, refs["陈德明"], "广州市", "广东省")
    response = api.get(f"/v1/persons/{refs['陈德明']}/applications", purpose=PURPOSE)
    numbers = [a["application_no"] for a in response.json()["applications"]]
    assert numbers == [second["application_no"], first["application_no"]]


def test_applications_of_someone_without_any(api: Api, refs: dict[str, str]):
    response = api.get(f"/v1/persons/{refs['刘淑珍']}/applications", purpose=PURPOSE)
    assert response.json() == {"person_ref": refs["刘淑珍"], "applications": []}


def test_status_needs_its_purpose(api: Api, app: FastAPI):
    response = api.get("/v1/applications/YB73150286", purpose="service_hall_lookup")
    assert_problem(response, 403)
