"""Pension certification and payments."""

from __future__ import annotations

import pytest

from tests.exchange.support import Api, FakeClock, assert_problem

CERTIFY = "/v1/pension-certifications"
PURPOSE = "pension_certification"


def certification(api: Api, ref: str) -> dict:
    response = api.get(f"/v1/persons/{ref}/pension-certification", purpose=PURPOSE)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("who", "status", "days"),
    [("张桂芳", "certified", 65), ("陈德明", "overdue", -15), ("刘淑珍", "due_soon", 15)],
)
def test_certification_status(api: Api, refs: dict[str, str], who, status, days):
    record = certification(api, refs[who])
    assert record["status"] == status
    assert record["days_until_due"] == days
    assert record["pension_status"] == "retired"


def test_certifying_moves_the_due_date_a_year_ahead(api: Api, refs: dict[str, str]):
    response = api.post(
        CERTIFY, {"person_ref": refs["陈德明"], "channel": "kiosk"}, purpose=PURPOSE
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["application_no"].startswith("YL")
    assert record["status"] == "done"
    assert record["details"]["certified_on"] == "2025-06-02"
    assert record["details"]["next_due_date"] == "2026-06-02"
    assert "2026年6月2日" in record["next_step"]
    after = certification(api, refs["陈德明"])
    assert (after["last_certified"], after["due_date"]) == ("2025-06-02", "2026-06-02")
    assert after["status"] == "certified"


def test_certifying_by_proxy(api: Api, refs: dict[str, str]):
    body = {
        "person_ref": refs["刘淑珍"], "channel": "phone",
        "proxy_name": "刘小梅", "proxy_relation": "child",
    }  # fmt: skip
    details = api.post(CERTIFY, body, purpose=PURPOSE).json()["details"]
    assert (details["proxy_name"], details["proxy_relation"]) == ("刘小梅", "child")


def test_certifying_twice_a_day_is_409_and_next_day_is_fine(
    api: Api, refs: dict[str, str], clock: FakeClock
):
    body = {"person_ref": refs["张桂芳"], "channel": "web"}
    first = api.post(CERTIFY, body, purpose=PURPOSE).json()
    problem = assert_problem(api.post(CERTIFY, body, purpose=PURPOSE), 409)
    assert problem["application_no"] == first["application_no"]
    clock.advance(days=1)
    assert api.post(CERTIFY, body, purpose=PURPOSE).status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"channel": None}, "channel"),
        ({"proxy_name": "刘小梅"}, "proxy_relation"),
        ({"proxy_relation": "child"}, "proxy_relation"),
        ({"proxy_name": "刘", "proxy_relation": "child"}, "proxy_name"),
        ({"proxy_name": "刘小梅", "proxy_relation": "neighbour"}, "proxy_relation"),
        ({"person_ref": "nobody-here-123"}, "person_ref"),
    ],
)
def test_bad_certifications_are_422(api: Api, refs: dict[str, str], overrides, field):
    body = {"person_ref": refs["刘淑珍"], "channel": "kiosk", **overrides}
    assert_problem(api.post(CERTIFY, body, purpose=PURPOSE), 422, field=field)
    assert certification(api, refs["刘淑珍"])["status"] == "due_soon"  # unchanged


def payments(api: Api, ref: str, **params) -> object:
    return api.get(
        f"/v1/persons/{ref}/pension-payments", purpose="pension_payment_query", params=params
    )


def test_three_recent_payments_by_default(api: Api, refs: dict[str, str]):
    record = payments(api, refs["张桂芳"]).json()
    assert record["months"] == 3
    assert record["currency"] == "CNY"
    assert record["monthly_amount"] == "4386.40"
    # Paid on the 15th; on 2 June the May payment is the newest.
    assert [p["month"] for p in record["payments"]] == ["2025-05", "2025-04", "2025-03"]
    assert record["payments"][0] == {
        "month": "2025-05", "amount": "4386.40", "paid_on": "2025-05-15", "status": "paid",
    }  # fmt: skip


def test_yearly_adjustment_shows_in_july(api: Api, refs: dict[str, str]):
    record = payments(api, refs["陈德明"], months=12).json()
    amounts = {p["month"]: p["amount"] for p in record["payments"]}
    assert len(amounts) == 12
    assert amounts["2024-07"] == "3268.70"  # from July 2024 on: the adjusted amount
    assert amounts["2024-06"] == "3204.61"  # before: 2% less
    assert amounts["2025-05"] == "3268.70"


def test_more_months_than_recorded_returns_what_exists(api: Api, refs: dict[str, str]):
    assert len(payments(api, refs["王秀英"], months=24).json()["payments"]) == 12


@pytest.mark.parametrize("months", ["0", "25", "-1", "three", "1.5"])
def test_months_out_of_range_is_422(api: Api, refs: dict[str, str], months):
    assert_problem(payments(api, refs["王秀英"], months=months), 422, field="months")


def test_payments_need_their_purpose(api: Api, refs: dict[str, str]):
    response = api.get(f"/v1/persons/{refs['王秀英']}/pension-payments", purpose=PURPOSE)
    assert_problem(response, 403)
