"""The exchange client: against a real server, and its retry rules with MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from exchange import client as client_module
from exchange.client import (
    AsyncExchangeClient,
    ExchangeClient,
    ExchangeError,
    ExchangeUnavailable,
    Locked,
    NotFound,
    Rejected,
    idempotency_key,
)
from exchange.core import signing
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.exchange.support import DEMO
from tests.support.processes import Service, free_port

# The shared server is also used by the concurrency test (陈德明): use other people here.

# Against the real server


@pytest.fixture
async def exchange(exchange_process: tuple[Service, str]):
    service, _ = exchange_process
    async with AsyncExchangeClient(service.url, DEV_CLIENT_ID, DEV_CLIENT_SECRET) as client:
        yield client


async def verified(exchange: AsyncExchangeClient, name: str) -> str:
    id_number, last4 = DEMO[name]
    return await exchange.verify_identity(name, id_number, last4)


async def test_reads(exchange: AsyncExchangeClient):
    ref = await verified(exchange, "王秀英")
    assert ref == await verified(exchange, "王秀英")
    insurance = await exchange.social_insurance(ref)
    assert (insurance["insured_province"], insurance["insured_city"]) == ("江苏省", "南京市")
    assert len((await exchange.pension_payments(ref, months=2))["payments"]) == 2
    assert (await exchange.id_card(ref))["status"] == "valid"
    assert (await exchange.pension_certification(ref))["status"] == "certified"
    assert (await exchange.social_security_card(ref))["status"] == "active"
    halls = await exchange.outlets("南京", "renew_id_card")
    assert [hall["outlet_id"] for hall in halls] == ["NJ-XW-01"]
    assert (await exchange.application("YL58203417"))["status"] == "done"
    assert [a["application_no"] for a in await exchange.applications(ref)] == ["YL58203417"]
    log = await exchange.access_log(ref, limit=3)
    assert log[0]["action"] == "access_log.read" and log[0]["client"] == "政务服务智能助手"


async def test_writes_with_an_idempotency_key(exchange: AsyncExchangeClient):
    ref = await verified(exchange, "王秀英")
    key = idempotency_key("transfer", "conversation-42", ref)
    first = await exchange.create_transfer(ref, "江苏省", "南京市", "浙江省", "杭州市",
                                           idempotency_key=key)  # fmt: skip
    again = await exchange.create_transfer(ref, "江苏省", "南京市", "浙江省", "杭州市",
                                           idempotency_key=key)  # fmt: skip
    assert again == first
    with pytest.raises(Rejected) as duplicate:  # same transfer, no key: the domain says 409
        await exchange.create_transfer(ref, "江苏省", "南京市", "浙江省", "杭州市")
    assert duplicate.value.status == 409
    assert duplicate.value.problem["application_no"] == first["application_no"]


async def test_every_write_method(exchange: AsyncExchangeClient):
    ref = await verified(exchange, "刘淑珍")
    certified = await exchange.certify_pension(ref, "kiosk", "刘小梅", "child")
    assert certified["details"]["proxy_relation"] == "child"
    filing = await exchange.file_medical_insurance(ref, "山东省", "海南省", "海口市", "temporary")
    assert filing["status"] == "done"
    lost = await exchange.request_social_security_card(ref, "report_loss")
    assert lost["details"]["card_status"] == "lost"
    halls = await exchange.outlets("青岛", "renew_id_card")
    with pytest.raises(Rejected) as past:
        await exchange.book_id_card_appointment(ref, "expired", halls[0]["outlet_id"], "2000-01-01")
    assert past.value.field == "date"


async def test_senior_card(exchange: AsyncExchangeClient):
    ref = await verified(exchange, "张桂芳")
    card = await exchange.senior_card(ref)
    assert card["eligible"] is True and card["address_masked"] == "北京市东城区和平里东街****"
    key = idempotency_key("apply_senior_card", "conversation-7", ref)
    first = await exchange.apply_senior_card(ref, "mail", idempotency_key=key)
    assert await exchange.apply_senior_card(ref, "mail", idempotency_key=key) == first
    assert first["application_no"].startswith("YD")
    assert (await exchange.senior_card(ref))["pending_application_no"] == first["application_no"]
    younger = await verified(exchange, "孙志强")
    assert (await exchange.senior_card(younger))["eligible"] is False
    with pytest.raises(Rejected) as refused:
        await exchange.apply_senior_card(younger, "hall")
    assert refused.value.status == 409


async def test_typed_errors(exchange: AsyncExchangeClient):
    ref = await verified(exchange, "王秀英")
    with pytest.raises(NotFound):
        await exchange.application("SB00000001")
    with pytest.raises(Rejected) as invalid:
        await exchange.create_transfer(ref, "江苏省", "南京市", "浙江", "杭州市")
    assert (invalid.value.status, invalid.value.field) == (422, "to_province")
    assert invalid.value.errors[0]["field"] == "to_province"
    with pytest.raises(Rejected) as forbidden:
        await exchange.social_insurance(ref, purpose="service_hall_lookup")
    assert forbidden.value.status == 403
    assert isinstance(forbidden.value, ExchangeError)


async def test_locked_after_five_failures(exchange: AsyncExchangeClient):
    unregistered = "320102195507220084"  # valid check digit, not in the register
    for _ in range(4):
        with pytest.raises(Rejected) as failed:
            await exchange.verify_identity("王秀英", unregistered, "8006")
        assert failed.value.status == 401
    with pytest.raises(Locked) as locked:
        await exchange.verify_identity("王秀英", unregistered, "8006")
    assert 890 <= locked.value.retry_after <= 900


async def test_wrong_secret_is_rejected(exchange_process: tuple[Service, str]):
    service, _ = exchange_process
    async with AsyncExchangeClient(service.url, DEV_CLIENT_ID, "wrong-secret") as client:
        with pytest.raises(Rejected) as rejected:
            await client.outlets("南京")
    assert (rejected.value.status, rejected.value.field) == (401, "X-Signature")


def test_sync_client_shares_the_api(exchange_process: tuple[Service, str]):
    service, _ = exchange_process
    with ExchangeClient(service.url, DEV_CLIENT_ID, DEV_CLIENT_SECRET) as client:
        assert len(client.outlets("郑州市")) == 2
        with pytest.raises(NotFound):
            client.application("SK00000001")


async def test_nothing_listening_is_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncExchangeClient(url, DEV_CLIENT_ID, DEV_CLIENT_SECRET, backoff=0) as client:
        with pytest.raises(ExchangeUnavailable, match="ConnectError"):
            await client.outlets("南京")


# Retry rules (unit, MockTransport)


class Recorder:
    """A fake exchange: answers from a script and checks every signature."""

    def __init__(self, *answers: int | type[Exception] | Callable) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert signing.signature_matches(
            DEV_CLIENT_SECRET, request.headers["X-Signature"], request.method,
            request.url.raw_path.decode(), request.headers["X-Timestamp"], request.content,
        )  # fmt: skip
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, type) and issubclass(answer, Exception):
            raise answer("scripted", request=request)
        if callable(answer):
            return answer(request)
        if answer >= 400:
            problem = {"type": "about:blank", "title": "x", "status": answer, "detail": "scripted"}
            return httpx.Response(answer, json=problem)
        return httpx.Response(answer, json={"application_no": "SB48310275", "ok": True})

    @property
    def request_ids(self) -> list[str]:
        return [r.headers["X-Request-Id"] for r in self.requests]

    @property
    def keys(self) -> list[str | None]:
        return [r.headers.get("Idempotency-Key") for r in self.requests]


def fake(recorder: Recorder, **options) -> AsyncExchangeClient:
    return AsyncExchangeClient(
        "http://exchange.test", DEV_CLIENT_ID, DEV_CLIENT_SECRET,
        transport=httpx.MockTransport(recorder), backoff=0, **options,
    )  # fmt: skip


async def transfer(client: AsyncExchangeClient, key: str | None = None) -> dict:
    return await client.create_transfer(
        "ref-12345678", "四川省", "成都市", "重庆市", "重庆市", idempotency_key=key
    )


async def test_get_is_retried_on_503_with_fresh_signatures():
    recorder = Recorder(503, 502, 200)
    async with fake(recorder) as client:
        assert (await client.application("SB48310275"))["ok"] is True
    assert len(recorder.requests) == 3
    assert len(set(recorder.request_ids)) == 3  # each attempt is a new signed message
    assert {r.headers["X-Purpose"] for r in recorder.requests} == {"application_status"}


async def test_write_with_key_is_retried_with_the_same_key():
    recorder = Recorder(httpx.ReadTimeout, 504, 201)
    async with fake(recorder) as client:
        result = await transfer(client, key="conv-1-transfer")
    assert result["application_no"] == "SB48310275"
    assert recorder.keys == ["conv-1-transfer"] * 3
    assert len(set(recorder.request_ids)) == 3
    bodies = {r.content for r in recorder.requests}
    assert len(bodies) == 1 and json.loads(bodies.pop())["to_city"] == "重庆市"


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, 503])
async def test_write_without_key_is_not_retried_after_it_may_have_arrived(failure):
    recorder = Recorder(failure, 201)
    async with fake(recorder) as client:
        with pytest.raises(ExchangeUnavailable):
            await transfer(client)
    assert len(recorder.requests) == 1


async def test_write_without_key_is_retried_when_the_connection_failed():
    recorder = Recorder(httpx.ConnectError, 201)
    async with fake(recorder) as client:
        assert (await transfer(client))["ok"] is True
    assert len(recorder.requests) == 2


async def test_retries_run_out():
    recorder = Recorder(503, 503, 503, 503)
    async with fake(recorder, retries=2) as client:
        with pytest.raises(ExchangeUnavailable) as error:
            await client.outlets("成都")
    assert error.value.status == 503
    assert len(recorder.requests) == 3


async def test_backoff_doubles(monkeypatch: pytest.MonkeyPatch):
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(client_module.asyncio, "sleep", no_sleep)
    recorder = Recorder(503, 503, 200)
    client = AsyncExchangeClient(
        "http://exchange.test", DEV_CLIENT_ID, DEV_CLIENT_SECRET,
        transport=httpx.MockTransport(recorder), backoff=0.2,
    )  # fmt: skip
    async with client:
        await client.outlets()
    assert waits == [0.2, 0.4]


async def test_500_is_not_retried():
    recorder = Recorder(500, 200)
    async with fake(recorder) as client:
        with pytest.raises(ExchangeUnavailable):
            await client.outlets()
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFound), (400, Rejected), (401, Rejected), (403, Rejected), (409, Rejected),
     (422, Rejected), (423, Locked)],
)  # fmt: skip
async def test_status_maps_to_one_error_type(status: int, error: type[ExchangeError]):
    def answer(request: httpx.Request) -> httpx.Response:
        problem = {"type": "urn:x", "title": "t", "status": status, "detail": "d",
                   "field": "to_city", "retry_after": 120}  # fmt: skip
        return httpx.Response(status, json=problem, headers={"Retry-After": "117"})

    async with fake(Recorder(answer)) as client:
        with pytest.raises(error) as raised:
            await transfer(client, key="k")
    assert (raised.value.status, raised.value.detail, raised.value.field) == (
        status,
        "d",
        "to_city",
    )
    if error is Locked:
        assert raised.value.retry_after == 117


def test_sync_client_follows_the_same_rules():
    recorder = Recorder(httpx.ConnectError, 503, 200)
    client = ExchangeClient(
        "http://exchange.test", DEV_CLIENT_ID, DEV_CLIENT_SECRET,
        transport=httpx.MockTransport(recorder), backoff=0,
    )  # fmt: skip
    with client:
        assert client.outlets("成都")["ok"] is True
    assert len(recorder.requests) == 3


def test_idempotency_keys_are_stable_and_distinct():
    key = idempotency_key("transfer", "conversation-1", "ref")
    assert key == idempotency_key("transfer", "conversation-1", "ref")
    assert key != idempotency_key("transfer", "conversation-2", "ref")
    assert key != idempotency_key("transfer", "conversation-1ref")
    assert len(key) == 40 and all(c in "0123456789abcdef" for c in key)
