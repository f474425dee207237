"""Filing medical treatment elsewhere (异地就医备案)."""

from __future__ import annotations

import pytest

from tests.exchange.support import Api, assert_problem

FILINGS = "/v1/medical-insurance/filings"
PURPOSE = "medical_insurance_filing"


def filing(ref: str, **overrides: object) -> dict:
    return {
        "person_ref": ref,
        "insured_province": "山东省",
        "destination_province": "海南省",
        "destination_city": "三亚市",
        "reason": "temporary",
        **overrides,
    }


def test_temporary_filing_takes_effect_at_once(api: Api, refs: dict[str, str]):
    response = api.post(FILINGS, filing(refs["刘淑珍"]), purpose=PURPOSE)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["application_no"].startswith("YB")
    assert record["status"] == "done"
    assert record["details"]["effective_from"] == "2025-06-02"
    assert "三亚市" in record["next_step"]


@pytest.mark.parametrize("reason", ["long_term_residence", "resettlement"])
def test_moving_for_good_is_checked_by_staff(api: Api, refs: dict[str, str], reason: str):
    record = api.post(FILINGS, filing(refs["刘淑珍"], reason=reason), purpose=PURPOSE).json()
    assert record["status"] == "submitted"
    assert record["details"]["effective_from"] is None


def test_filing_within_the_same_province_is_allowed(api: Api, refs: dict[str, str]):
    body = filing(refs["刘淑珍"], destination_province="山东省", destination_city="济南市")
    assert api.post(FILINGS, body, purpose=PURPOSE).status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"insured_province": "北京市"}, "insured_province"),
        ({"destination_province": "山东省", "destination_city": "青岛市"}, "destination_city"),
        ({"destination_province": "海南"}, "destination_province"),
        ({"destination_city": "三亚1"}, "destination_city"),
        ({"reason": "holiday"}, "reason"),
        ({"reason": None}, "reason"),
    ],
)
def test_bad_filings_are_422(api: Api, refs: dict[str, str], overrides, field):
    response = api.post(FILINGS, filing(refs["刘淑珍"], **overrides), purpose=PURPOSE)
    assert_problem(response, 422, field=field)


def test_same_destination_twice_is_409(api: Api, refs: dict[str, str]):
    first = api.post(FILINGS, filing(refs["刘淑珍"]), purpose=PURPOSE).json()
    problem = assert_problem(api.post(FILINGS, filing(refs["刘淑珍"]), purpose=PURPOSE), 409)
    assert problem["application_no"] == first["application_no"]


def test_seeded_filing_blocks_a_duplicate(api: Api, refs: dict[str, str]):
    body = filing(
        refs["赵国强"], insured_province="湖北省", destination_province="广东省",
        destination_city="深圳市", reason="long_term_residence",
    )  # fmt: skip
    problem = assert_problem(api.post(FILINGS, body, purpose=PURPOSE), 409)
    assert problem["application_no"] == "YB73150286"
