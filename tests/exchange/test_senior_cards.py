"""Senior citizen preferential-treatment card (老年人优待证): eligibility and applications."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from exchange.models import Application, AuditEntry, IdempotencyRecord
from exchange.services.senior_cards import age_on, mask_address
from tests.exchange.support import Api, assert_problem

APPLICATIONS = "/v1/senior-cards/applications"
PURPOSE = "senior_card"


def eligibility(api: Api, ref: str) -> dict:
    response = api.get(f"/v1/persons/{ref}/senior-card", purpose=PURPOSE)
    assert response.status_code == 200, response.text
    return response.json()


def apply(api: Api, ref: str, delivery: object, **options: object):
    body = {"person_ref": ref, "delivery": delivery}
    return api.post(APPLICATIONS, body, purpose=PURPOSE, **options)


def stored(app: FastAPI, name: str) -> list[Application]:
    query = select(Application).where(Application.service == "apply_senior_card")
    with app.state.sessions() as session:
        return [a for a in session.execute(query).scalars() if a.person.name == name]


def test_an_older_person_is_eligible_and_sees_only_the_street(api: Api, refs: dict[str, str]):
    # 刘淑珍 was born on 20 November 1958: 66 on the test day (2 June 2025).
    assert eligibility(api, refs["刘淑珍"]) == {
        "person_ref": refs["刘淑珍"], "age": 66, "min_age": 60, "eligible": True,
        "address_on_record": True, "address_masked": "青岛市市南区香港中路****",
        "pending_application_no": None, "pending_status_text": None,
    }  # fmt: skip


def test_a_younger_person_is_not_eligible(api: Api, refs: dict[str, str]):
    record = eligibility(api, refs["孙志强"])
    assert (record["age"], record["eligible"]) == (49, False)


def test_no_address_on_record(api: Api, refs: dict[str, str]):
    record = eligibility(api, refs["赵国强"])
    assert record["eligible"] is True
    assert (record["address_on_record"], record["address_masked"]) == (False, None)


def test_mail_application_is_filed_and_shows_as_pending(api: Api, refs: dict[str, str], app):
    response = apply(api, refs["刘淑珍"], "mail")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["application_no"].startswith("YD")
    assert record["application_no"][2:4] not in ("19", "20")
    assert (record["service"], record["status"]) == ("apply_senior_card", "submitted")
    assert record["details"] == {"delivery": "mail", "mail_to": "青岛市市南区香港中路****"}
    assert "10个工作日" in record["next_step"] and "寄" in record["next_step"]
    assert "36号" not in response.text  # the house number never leaves the exchange
    pending = eligibility(api, refs["刘淑珍"])
    assert pending["pending_application_no"] == record["application_no"]
    assert pending["pending_status_text"] == "已提交"
    (application,) = stored(app, "刘淑珍")
    assert application.application_no == record["application_no"]


def test_hall_pickup_needs_no_address(api: Api, refs: dict[str, str]):
    response = apply(api, refs["赵国强"], "hall")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["details"] == {"delivery": "hall", "mail_to": None}
    assert "大厅" in record["next_step"] and "身份证" in record["next_step"]


def test_mail_without_an_address_is_422_and_changes_nothing(api: Api, refs, app):
    assert_problem(apply(api, refs["赵国强"], "mail"), 422, field="delivery")
    assert stored(app, "赵国强") == []


def test_under_60_is_409_and_changes_nothing(api: Api, refs: dict[str, str], app):
    problem = assert_problem(apply(api, refs["孙志强"], "hall"), 409, slug="not-eligible")
    assert problem["min_age"] == 60
    assert stored(app, "孙志强") == []


def test_a_second_open_application_is_a_duplicate(api: Api, refs: dict[str, str], app):
    first = apply(api, refs["王秀英"], "hall").json()
    second = apply(api, refs["王秀英"], "mail")
    duplicate = assert_problem(second, 409, slug="duplicate-application")
    assert duplicate["application_no"] == first["application_no"]
    assert len(stored(app, "王秀英")) == 1


def test_same_key_files_once_and_answers_the_same(api: Api, refs: dict[str, str], app):
    first = apply(api, refs["陈德明"], "mail", idempotency_key="senior-card-1")
    again = apply(api, refs["陈德明"], "mail", idempotency_key="senior-card-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(stored(app, "陈德明")) == 1
    other = apply(api, refs["陈德明"], "hall", idempotency_key="senior-card-1")
    assert_problem(other, 409, slug="idempotency-key-reused")
    with app.state.sessions() as session:
        keys = session.execute(select(IdempotencyRecord.key)).scalars().all()
    assert keys.count("senior-card-1") == 1


def test_reads_and_writes_are_audited_with_the_id_masked(api: Api, refs: dict[str, str], app):
    eligibility(api, refs["张桂芳"])
    number = apply(api, refs["张桂芳"], "hall").json()["application_no"]
    with app.state.sessions() as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    read, write = entries[-2:]
    assert (read.action, read.purpose, read.citizen) == (
        "senior_card.read",
        PURPOSE,
        "110105********0021",
    )
    assert (write.action, write.resource) == (
        "senior_card_application.create",
        f"applications/{number}",
    )
    log = api.get(f"/v1/persons/{refs['张桂芳']}/access-log", purpose="access_log_review")
    texts = [entry["action_text"] for entry in log.json()["entries"]]
    assert "提交了您的老年人优待证申请" in texts


def test_another_purpose_is_refused(api: Api, refs: dict[str, str]):
    response = api.get(f"/v1/persons/{refs['刘淑珍']}/senior-card", purpose="social_security_card")
    assert_problem(response, 403)
    body = {"person_ref": refs["刘淑珍"], "delivery": "hall"}
    assert_problem(api.post(APPLICATIONS, body, purpose="pension_certification"), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delivery": "pigeon"}, "delivery"),
        ({"delivery": None}, "delivery"),
        ({"delivery": "hall", "person_ref": "nobody-here-123"}, "person_ref"),
        ({"delivery": "hall", "address": "somewhere"}, "address"),
    ],
)
def test_bad_applications_are_422(api: Api, refs: dict[str, str], body: dict, field: str):
    response = api.post(APPLICATIONS, {"person_ref": refs["刘淑珍"], **body}, purpose=PURPOSE)
    assert_problem(response, 422, field=field)


def test_unknown_person_is_404(api: Api):
    response = api.get("/v1/persons/nobody-here-123/senior-card", purpose=PURPOSE)
    assert_problem(response, 404)


def test_age_counts_from_the_birthday():
    birth = dt.date(1965, 6, 2)
    assert age_on(birth, dt.date(2025, 6, 1)) == 59
    assert age_on(birth, dt.date(2025, 6, 2)) == 60


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("北京市东城区和平里东街11号3号楼2单元501室", "北京市东城区和平里东街****"),
        ("成都市锦江区东大街下东大街段218号", "成都市锦江区东大街****"),
        ("上海市黄浦区南京东路步行街100弄5号", "上海市黄浦区南京东路****"),
        ("某某县城关镇", "某某县****"),
        ("12号楼", "****"),
    ],
)
def test_addresses_are_masked_after_the_street(address: str, masked: str):
    assert mask_address(address) == masked
