"""POST /v1/identity/verify: matching, opaque refs, validation, lockout."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from exchange.models import IdentityFailure
from tests.exchange.support import DEMO, Api, FakeClock, assert_problem

VERIFY = "/v1/identity/verify"
UNREGISTERED = "11010519491231002X"  # valid check digit, nobody in the register


def body(who: str = "张桂芳", **overrides: object) -> dict:
    id_number, last4 = DEMO[who]
    return {"name": who, "id_number": id_number, "phone_last4": last4, **overrides}


def verify(api: Api, **overrides: object) -> object:
    return api.post(VERIFY, body(**overrides), purpose="identity_verification")


def test_matching_person_gets_an_opaque_stable_ref(api: Api, refs: dict[str, str]):
    first = verify(api)
    assert first.status_code == 200, first.text
    ref = first.json()["person_ref"]
    assert ref == refs["张桂芳"]
    assert verify(api).json()["person_ref"] == ref  # stable per person
    id_number = DEMO["张桂芳"][0]
    assert id_number[:6] not in ref and id_number[-4:] not in ref  # not derived from the ID
    assert len(set(refs.values())) == len(DEMO)


@pytest.mark.parametrize("who", sorted(DEMO))
def test_every_demo_citizen_can_be_verified(api: Api, refs: dict[str, str], who: str):
    response = api.post(VERIFY, body(who), purpose="identity_verification")
    assert response.json() == {"person_ref": refs[who]}


def test_lowercase_check_character_and_spaces_are_normalised(api: Api, refs: dict[str, str]):
    response = api.post(
        VERIFY,
        body("李建国", id_number="440106 19520408 003x"),
        purpose="identity_verification",
    )
    assert response.json() == {"person_ref": refs["李建国"]}


def test_any_purpose_may_verify_identity(api: Api):
    response = api.post(VERIFY, body(), purpose="pension_payment_query")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [{"name": "张桂兰"}, {"phone_last4": "8002"}, {"id_number": UNREGISTERED}],
    ids=["wrong-name", "wrong-phone", "unregistered-id"],
)
def test_mismatch_is_401_without_saying_which_part(api: Api, overrides: dict):
    problem = assert_problem(verify(api, **overrides), 401, slug="identity-not-verified")
    assert problem["remaining_attempts"] == 4
    assert "field" not in problem  # do not tell a guesser which part was wrong


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": "110105194903120022"}, "id_number"),  # check digit
        ({"id_number": "11010519490312002"}, "id_number"),  # 17 characters
        ({"id_number": "110105194902300021"}, "id_number"),  # 30 February
        ({"id_number": "11010519490312002１"}, "id_number"),  # full-width digit
        ({"id_number": 110105194903120021}, "id_number"),  # a number, not a string
        ({"name": "张"}, "name"),
        ({"name": "张" * 21}, "name"),
        ({"name": "张3芳"}, "name"),
        ({"phone_last4": "801"}, "phone_last4"),
        ({"phone_last4": "80011"}, "phone_last4"),
        ({"phone_last4": "80a1"}, "phone_last4"),
        ({"phone_last4": "٨٠٠١"}, "phone_last4"),  # Arabic-Indic digits are not 0-9
        ({"phone_last4": 8001}, "phone_last4"),
        ({"surname": "张"}, "surname"),
    ],
)
def test_bad_values_are_422_naming_the_field(api: Api, app: FastAPI, overrides: dict, field: str):
    problem = assert_problem(verify(api, **overrides), 422, field=field, slug="invalid-request")
    assert problem["detail"].startswith(field)
    with app.state.sessions() as session:  # a bad request is not a failed attempt
        assert session.execute(select(IdentityFailure)).first() is None


def test_missing_field_is_named(api: Api):
    payload = body()
    del payload["phone_last4"]
    response = api.post(VERIFY, payload, purpose="identity_verification")
    assert_problem(response, 422, field="phone_last4")


def test_body_that_is_not_an_object(api: Api):
    assert_problem(api.post(VERIFY, ["张桂芳"], purpose="identity_verification"), 422)


def fail(api: Api, times: int, id_number: str = DEMO["张桂芳"][0]) -> list:
    return [verify(api, id_number=id_number, phone_last4="0000") for _ in range(times)]


def test_five_failures_lock_the_id_for_fifteen_minutes(api: Api, clock: FakeClock):
    responses = fail(api, 5)
    assert [r.status_code for r in responses] == [401, 401, 401, 401, 423]
    assert [r.json().get("remaining_attempts") for r in responses[:4]] == [4, 3, 2, 1]
    locked = assert_problem(responses[4], 423, slug="identity-locked")
    assert locked["retry_after"] == 900
    assert responses[4].headers["Retry-After"] == "900"

    # Even the right answers are refused while locked, and the wait counts down.
    clock.advance(minutes=10)
    during = verify(api)
    assert_problem(during, 423)
    assert 299 <= int(during.headers["Retry-After"]) <= 300

    clock.advance(minutes=5, seconds=1)
    assert verify(api).status_code == 200


def test_lock_is_per_id_number(api: Api):
    fail(api, 5)
    assert api.post(VERIFY, body("陈德明"), purpose="identity_verification").status_code == 200


def test_failures_older_than_the_window_do_not_count(api: Api, clock: FakeClock):
    fail(api, 4)
    clock.advance(minutes=15, seconds=1)
    assert [r.status_code for r in fail(api, 4)] == [401] * 4  # only 4 in any 15 minutes


def test_failures_within_a_sliding_window_count(api: Api, clock: FakeClock):
    fail(api, 1)
    clock.advance(minutes=10)
    fail(api, 3)
    clock.advance(minutes=4)
    assert fail(api, 1)[0].status_code == 423  # 5 failures within 14 minutes


def test_success_resets_the_count(api: Api):
    fail(api, 4)
    assert verify(api).status_code == 200
    assert [r.status_code for r in fail(api, 4)] == [401] * 4


def test_unregistered_numbers_lock_too(api: Api):
    assert fail(api, 5, id_number=UNREGISTERED)[-1].status_code == 423


def test_lock_expiry_starts_a_fresh_count(api: Api, clock: FakeClock):
    fail(api, 5)
    clock.advance(minutes=15, seconds=1)
    assert fail(api, 1)[0].status_code == 401
