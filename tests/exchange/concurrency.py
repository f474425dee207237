"""Concurrent duplicate writes against a real server (shared by SQLite and PostgreSQL tests)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from exchange.client import SigningAuth
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, Settings
from exchange.core.db import create_db_engine, session_factory
from exchange.models import Application, Person
from exchange.services.audit import verify_chain
from tests.exchange.support import DEMO
from tests.support.processes import Service

TRANSFERS = "/v1/social-insurance/transfers"
PURPOSE = "social_insurance_transfer"


def transfer(ref: str, to_city: str = "重庆市", to_province: str = "重庆市") -> dict:
    return {
        "person_ref": ref, "from_province": "四川省", "from_city": "成都市",
        "to_province": to_province, "to_city": to_city,
    }  # fmt: skip


async def _burst(base_url: str, body: dict, times: int, *, key: str | None) -> list[httpx.Response]:
    headers = {"X-Purpose": PURPOSE, **({"Idempotency-Key": key} if key else {})}
    limits = httpx.Limits(max_connections=times)
    auth = SigningAuth(DEV_CLIENT_ID, DEV_CLIENT_SECRET)
    async with httpx.AsyncClient(base_url=base_url, auth=auth, timeout=60, limits=limits) as http:
        return await asyncio.gather(
            *(http.post(TRANSFERS, json=body, headers=headers) for _ in range(times))
        )


def person_ref(base_url: str, name: str) -> str:
    id_number, last4 = DEMO[name]
    with httpx.Client(
        base_url=base_url, auth=SigningAuth(DEV_CLIENT_ID, DEV_CLIENT_SECRET)
    ) as http:
        response = http.post(
            "/v1/identity/verify",
            json={"name": name, "id_number": id_number, "phone_last4": last4},
            headers={"X-Purpose": "identity_verification"},
        )
    return response.json()["person_ref"]


def count_transfers(settings: Settings, ref: str, to_city: str) -> int:
    engine = create_db_engine(settings)
    try:
        with session_factory(engine)() as session:
            found = session.execute(
                select(Application)
                .join(Person)
                .where(Person.person_ref == ref, Application.service == "transfer_social_insurance")
            ).scalars()
            return sum(1 for application in found if application.details["to_city"] == to_city)
    finally:
        engine.dispose()


def concurrent_duplicates_make_one_application(service: Service, settings: Settings) -> None:
    """20 identical writes at once, with one key and then without: one row each time."""
    ref = person_ref(service.url, "陈德明")
    keyed = asyncio.run(_burst(service.url, transfer(ref), 20, key="burst-1"))
    assert {r.status_code for r in keyed} == {201}, [r.text for r in keyed if r.status_code != 201]
    assert len({r.content for r in keyed}) == 1  # everyone got the very same application
    assert count_transfers(settings, ref, "重庆市") == 1

    keyless = asyncio.run(_burst(service.url, transfer(ref, "广州市", "广东省"), 20, key=None))
    statuses = sorted(r.status_code for r in keyless)
    assert statuses == [201] + [409] * 19, [r.text for r in keyless if r.status_code >= 500]
    numbers = {r.json()["application_no"] for r in keyless}
    assert len(numbers) == 1  # the 409s name the application that won
    assert count_transfers(settings, ref, "广州市") == 1
    engine = create_db_engine(settings)
    try:
        with session_factory(engine)() as session:  # 40+ concurrent appends, one chain
            assert verify_chain(session).ok
    finally:
        engine.dispose()
