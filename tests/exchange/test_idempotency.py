"""Idempotency-Key: replays return the first result; nothing is ever created twice."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from exchange.models import Application, IdempotencyRecord
from tests.exchange.concurrency import concurrent_duplicates_make_one_application
from tests.exchange.support import (
    DEMO,
    KIOSK_ID,
    KIOSK_SECRET,
    Api,
    assert_problem,
    settings_for,
)

TRANSFERS = "/v1/social-insurance/transfers"
PURPOSE = "social_insurance_transfer"


def transfer(ref: str, to_city: str = "重庆市", to_province: str = "重庆市") -> dict:
    return {
        "person_ref": ref, "from_province": "四川省", "from_city": "成都市",
        "to_province": to_province, "to_city": to_city,
    }  # fmt: skip


def rows(app: FastAPI, model: type) -> int:
    with app.state.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_same_key_same_body_returns_the_first_result(api: Api, app: FastAPI, refs):
    first = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE, idempotency_key="k-1")
    again = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE, idempotency_key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert rows(app, Application) == 3  # 2 seeded + 1


def test_key_order_and_spacing_do_not_make_another_request(api: Api, refs):
    body = transfer(refs["陈德明"])
    first = api.post(TRANSFERS, body, purpose=PURPOSE, idempotency_key="k-2")
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    again = api.request(
        "POST", TRANSFERS, purpose=PURPOSE, content=reordered, idempotency_key="k-2"
    )
    assert again.status_code == 201
    assert again.json() == first.json()


def test_same_key_different_body_is_409(api: Api, app: FastAPI, refs):
    api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE, idempotency_key="k-3")
    other = transfer(refs["陈德明"], "广州市", "广东省")
    response = api.post(TRANSFERS, other, purpose=PURPOSE, idempotency_key="k-3")
    assert_problem(response, 409, field="Idempotency-Key", slug="idempotency-key-reused")
    assert rows(app, Application) == 3


def test_same_key_on_another_endpoint_is_409(api: Api, refs):
    api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE, idempotency_key="k-4")
    response = api.post(
        "/v1/social-security-cards/requests",
        {"person_ref": refs["陈德明"], "request_type": "report_loss"},
        purpose="social_security_card",
        idempotency_key="k-4",
    )
    assert_problem(response, 409, slug="idempotency-key-reused")


def test_keys_belong_to_their_client(app: FastAPI, api: Api):
    """Another client's identical key is its own key (no cross-client replay)."""
    from exchange.core.config import ClientConfig

    app.state.settings.clients[KIOSK_ID] = ClientConfig(secret=KIOSK_SECRET, purposes=["*"])
    kiosk = Api(api.client, api.clock, KIOSK_ID, KIOSK_SECRET)
    ids = {name: number for name, (number, _) in DEMO.items()}
    mine = api.verify("张桂芳", phone_last4="8001")
    theirs = kiosk.post(
        "/v1/identity/verify",
        {"name": "陈德明", "id_number": ids["陈德明"], "phone_last4": "8002"},
        purpose="identity_verification",
        idempotency_key="shared",
    )
    assert mine.status_code == theirs.status_code == 200
    again = api.post(
        "/v1/identity/verify",
        {"name": "张桂芳", "id_number": ids["张桂芳"], "phone_last4": "8001"},
        purpose="identity_verification",
        idempotency_key="shared",
    )
    assert again.json() == mine.json()


def test_a_rejected_write_is_not_stored_so_the_key_stays_usable(api: Api, app: FastAPI, refs):
    bad = transfer(refs["陈德明"], "成都市", "四川省")
    assert api.post(TRANSFERS, bad, purpose=PURPOSE, idempotency_key="k-5").status_code == 422
    good = api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE, idempotency_key="k-5")
    assert good.status_code == 201
    assert rows(app, IdempotencyRecord) == 1


def test_a_failed_verification_is_stored_and_counted_once(api: Api):
    """A retried wrong answer (same key) must not count as a second failure."""
    wrong = {"name": "张桂芳", "id_number": DEMO["张桂芳"][0], "phone_last4": "0000"}
    answers = [
        api.post("/v1/identity/verify", wrong, purpose="identity_verification",
                 idempotency_key="verify-1")
        for _ in range(6)
    ]  # fmt: skip
    assert {a.status_code for a in answers} == {401}
    assert {a.json()["remaining_attempts"] for a in answers} == {4}


@pytest.mark.parametrize("key", ["", "has space", "del\x7f", "x" * 129])
def test_malformed_key_is_422_naming_the_header(api: Api, refs, key: str):
    response = api.request(
        "POST", TRANSFERS, purpose=PURPOSE,
        content=json.dumps(transfer(refs["陈德明"])).encode(),
        headers={"Idempotency-Key": key},
    )  # fmt: skip
    assert_problem(response, 422, field="Idempotency-Key")


# Concurrency against a real server process


def test_concurrent_duplicates_on_a_real_server(exchange_process):
    """Also on PostgreSQL: test_postgres.py."""
    service, database_url = exchange_process
    concurrent_duplicates_make_one_application(service, settings_for(database_url))


def test_keys_expire_after_a_day(api: Api, app: FastAPI, refs, clock):
    api.post(TRANSFERS, transfer(refs["陈德明"]), purpose=PURPOSE, idempotency_key="k-old")
    clock.advance(hours=24, seconds=1)
    api.get("/v1/outlets", purpose="service_hall_lookup")  # any request tidies up
    assert rows(app, IdempotencyRecord) == 0
    other = transfer(refs["陈德明"], "广州市", "广东省")
    response = api.post(TRANSFERS, other, purpose=PURPOSE, idempotency_key="k-old")
    assert response.status_code == 201  # a day later the key is free again


def test_request_ids_are_forgotten_after_the_replay_window(api: Api, app: FastAPI, clock):
    from exchange.models import SeenRequest

    api.get("/v1/outlets", purpose="service_hall_lookup", request_id="old-id")
    clock.advance(minutes=10, seconds=1)
    api.get("/v1/outlets", purpose="service_hall_lookup")
    with app.state.sessions() as session:
        ids = set(session.execute(select(SeenRequest.request_id)).scalars())
    assert "old-id" not in ids and len(ids) == 1
