"""Social security cards: status, loss report (immediate), replacement, new card."""

from __future__ import annotations

import pytest

from tests.exchange.support import Api, assert_problem

REQUESTS = "/v1/social-security-cards/requests"
PURPOSE = "social_security_card"


def card(api: Api, ref: str) -> dict:
    response = api.get(f"/v1/persons/{ref}/social-security-card", purpose=PURPOSE)
    assert response.status_code == 200, response.text
    return response.json()


def request(api: Api, ref: str, request_type: str) -> object:
    return api.post(REQUESTS, {"person_ref": ref, "request_type": request_type}, purpose=PURPOSE)


def test_card_status_shows_a_masked_number(api: Api, refs: dict[str, str]):
    record = card(api, refs["李建国"])
    assert record == {
        "person_ref": refs["李建国"], "has_card": True, "card_no_masked": "G****2291",
        "status": "active", "status_text": "正常使用", "issued_on": "2019-06-30",
    }  # fmt: skip


def test_loss_report_blocks_the_card_immediately(api: Api, refs: dict[str, str]):
    response = request(api, refs["李建国"], "report_loss")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["application_no"].startswith("SK")
    assert record["status"] == "done"
    assert record["details"] == {"request_type": "report_loss", "card_status": "lost"}
    assert card(api, refs["李建国"])["status"] == "lost"
    assert_problem(request(api, refs["李建国"], "report_loss"), 409, slug="card-not-active")


def test_replacement_after_loss(api: Api, refs: dict[str, str]):
    request(api, refs["李建国"], "report_loss")
    response = request(api, refs["李建国"], "replace")
    assert response.status_code == 201
    assert response.json()["status"] == "submitted"
    assert card(api, refs["李建国"])["status"] == "replacing"
    duplicate = assert_problem(request(api, refs["李建国"], "replace"), 409)
    assert duplicate["application_no"] == response.json()["application_no"]
    assert card(api, refs["李建国"])["status"] == "replacing"  # the 409 changed nothing


def test_new_card_when_one_exists_is_409(api: Api, refs: dict[str, str]):
    assert_problem(request(api, refs["王秀英"], "new"), 409, slug="card-exists")
    assert card(api, refs["王秀英"])["status"] == "active"


@pytest.mark.parametrize("request_type", ["lost", "", None, 3])
def test_unknown_request_type_is_422(api: Api, refs: dict[str, str], request_type):
    assert_problem(request(api, refs["王秀英"], request_type), 422, field="request_type")
