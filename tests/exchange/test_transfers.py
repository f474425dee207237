"""Social insurance: the record, and transfers between places."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from exchange.models import Application
from tests.exchange.support import Api, assert_problem

TRANSFERS = "/v1/social-insurance/transfers"
PURPOSE = "social_insurance_transfer"


def transfer(ref: str, **overrides: object) -> dict:
    return {
        "person_ref": ref,
        "from_province": "四川省",
        "from_city": "成都市",
        "to_province": "重庆市",
        "to_city": "重庆市",
        **overrides,
    }


def count_applications(app: FastAPI) -> int:
    with app.state.sessions() as session:
        return session.execute(select(func.count()).select_from(Application)).scalar_one()


def test_social_insurance_record(api: Api, refs: dict[str, str]):
    response = api.get(f"/v1/persons/{refs['陈德明']}/social-insurance", purpose=PURPOSE)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["insured_province"] == "四川省"
    assert record["insured_city"] == "成都市"
    assert record["status"] == "retired"
    assert record["contribution_months"] == 178 + 309
    assert [p["city"] for p in record["contribution_history"]] == ["绵阳市", "成都市"]


def test_medical_filing_purpose_may_read_the_record(api: Api, refs: dict[str, str]):
    path = f"/v1/persons/{refs['陈德明']}/social-insurance"
    assert api.get(path, purpose="medical_insurance_filing").status_code == 200
    assert_problem(api.get(path, purpose="pension_payment_query"), 403)


def test_unknown_person_ref_is_404(api: Api):
    response = api.get("/v1/persons/unknown-ref-123/social-insurance", purpose=PURPOSE)
    assert_problem(response, 404, slug="unknown-person")


def test_malformed_person_ref_is_422(api: Api):
    response = api.get("/v1/persons/bad%20ref!/social-insurance", purpose=PURPOSE)
    assert_problem(response, 422, field="ref")


def test_transfer_is_filed(api: Api, refs: dict[str, str], app: FastAPI):
    before = count_applications(app)
    response = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE)
    assert response.status_code == 201, response.text
    application = response.json()
    assert re.fullmatch(r"SB[0-9]{8}", application["application_no"])
    assert application["application_no"][2:4] not in ("19", "20")
    assert application["service"] == "transfer_social_insurance"
    assert application["status"] == "submitted"
    assert "短信" in application["next_step"]
    assert application["details"]["to_city"] == "重庆市"
    assert count_applications(app) == before + 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"from_province": "北京市"}, "from_province"),  # not where the person is insured
        ({"from_city": "绵阳市"}, "from_city"),
        ({"to_province": "四川省", "to_city": "成都市"}, "to_city"),  # nowhere to go
        ({"to_province": "重庆"}, "to_province"),  # short names are the bot's job
        ({"to_province": "火星省"}, "to_province"),
        ({"to_city": "Chongqing"}, "to_city"),
        ({"to_city": ""}, "to_city"),
        ({"person_ref": "nobody-here-123"}, "person_ref"),
        ({"person_ref": "../etc"}, "person_ref"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_transfers_are_422_and_change_nothing(
    api: Api, refs: dict[str, str], app: FastAPI, overrides: dict, field: str
):
    before = count_applications(app)
    response = api.post(TRANSFERS, transfer(refs["陈德明"], **overrides), purpose=PURPOSE)
    assert_problem(response, 422, field=field)
    assert count_applications(app) == before


def test_second_open_transfer_on_the_same_route_is_409(api: Api, refs: dict[str, str]):
    first = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE).json()
    again = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE)
    problem = assert_problem(again, 409, slug="duplicate-application")
    assert problem["application_no"] == first["application_no"]


def test_another_route_is_another_application(api: Api, refs: dict[str, str]):
    api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE)
    other = transfer(refs["陈德明"], to_province="广东省", to_city="广州市")
    assert api.post(TRANSFERS, other, purpose=PURPOSE).status_code == 201


def test_wrong_purpose_cannot_file_a_transfer(api: Api, refs: dict[str, str]):
    response = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose="application_status")
    assert_problem(response, 403, slug="purpose-not-accepted")
