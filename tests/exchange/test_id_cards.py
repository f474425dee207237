"""ID cards: expiry status and renewal appointments."""

from __future__ import annotations

import pytest

from tests.exchange.support import Api, assert_problem

APPOINTMENTS = "/v1/id-card/appointments"
PURPOSE = "id_card_renewal"
# The tests run on Monday 2 June 2025 (Beijing).


@pytest.mark.parametrize(
    ("who", "status", "expiry", "days"),
    [
        ("张桂芳", "expired", "2025-05-12", -21),
        ("陈德明", "expiring_soon", "2025-06-27", 25),
        ("刘淑珍", "valid", None, None),
        ("赵国强", "valid", "2031-12-28", 2400),
    ],
)
def test_id_card_status(api: Api, refs: dict[str, str], who, status, expiry, days):
    response = api.get(f"/v1/persons/{refs[who]}/id-card", purpose=PURPOSE)
    record = response.json()
    assert (record["status"], record["expiry_date"], record["days_until_expiry"]) == (
        status, expiry, days,
    )  # fmt: skip
    assert record["long_term"] is (who == "刘淑珍")
    assert record["id_number_masked"].count("*") == 8


def appointment(ref: str, **overrides: object) -> dict:
    return {
        "person_ref": ref, "reason": "expired", "outlet_id": "BJ-DC-01", "date": "2025-06-03",
        **overrides,
    }  # fmt: skip


def test_booking_the_next_working_day(api: Api, refs: dict[str, str]):
    response = api.post(APPOINTMENTS, appointment(refs["张桂芳"]), purpose=PURPOSE)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["application_no"].startswith("SF")
    assert record["details"]["outlet_name"] == "北京市东城区政务服务中心"
    assert record["details"]["date"] == "2025-06-03"
    assert "2025年6月3日" in record["next_step"]


def test_booking_the_last_day_of_the_window(api: Api, refs: dict[str, str]):
    body = appointment(refs["张桂芳"], date="2025-08-01")  # Friday, 60 days ahead
    assert api.post(APPOINTMENTS, body, purpose=PURPOSE).status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"date": "2025-06-02"}, "date", "after today"),
        ({"date": "2025-05-30"}, "date", "after today"),
        ({"date": "2025-06-07"}, "date", "working day"),  # Saturday
        ({"date": "2025-06-08"}, "date", "working day"),  # Sunday
        ({"date": "2025-08-04"}, "date", "60 days"),
        ({"date": "2025-02-30"}, "date", ""),
        ({"date": "3 June"}, "date", "2025-06-30"),
        ({"date": 1748908800}, "date", "2025-06-30"),  # unix time is not a date here
        ({"outlet_id": "XX-00-99"}, "outlet_id", "no service hall"),
        ({"outlet_id": "CD-QY-01"}, "outlet_id", "renewal"),  # a social-insurance hall
        ({"outlet_id": "BJ DC"}, "outlet_id", ""),
        ({"reason": "bored"}, "reason", ""),
    ],
)
def test_bad_appointments_are_422(api: Api, refs: dict[str, str], overrides, field, words):
    response = api.post(APPOINTMENTS, appointment(refs["张桂芳"], **overrides), purpose=PURPOSE)
    problem = assert_problem(response, 422, field=field)
    assert words in problem["detail"]


def test_one_open_appointment_at_a_time(api: Api, refs: dict[str, str]):
    first = api.post(APPOINTMENTS, appointment(refs["张桂芳"]), purpose=PURPOSE).json()
    later = appointment(refs["张桂芳"], date="2025-06-10", outlet_id="BJ-HD-01")
    problem = assert_problem(api.post(APPOINTMENTS, later, purpose=PURPOSE), 409)
    assert problem["application_no"] == first["application_no"]
