"""Handover: the summary masks the ID number; the wait time is said; no queue -> hotline."""

from __future__ import annotations

import json

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import handover
from tests.actions.conftest import DOMAIN, bot, make_tracker, said, user

SLOTS = {
    "current_service": "renew_id_card",
    "person_name": "张桂芳",
    "id_number": "110105194903120021",
    "phone_last4": "8001",
    "requested_slot": "outlet_choice",
}
EVENTS = [
    user("我要换身份证", "renew_id_card"),
    bot("好的，我帮您办身份证。"),
    user("幺幺零幺零五一九四九零三幺二洞洞两幺"),
    bot("请说登记的手机号码的最后4位。"),
    user("八零零一"),
]


def test_summary_masks_identity_data():
    tracker = make_tracker(slots=SLOTS, events=EVENTS, text="转人工", intent="request_human")
    summary = handover.summary(tracker)
    assert summary["service"] == "renew_id_card"
    assert summary["slots"]["id_number"] == "110105********0021"
    assert "phone_last4" not in summary["slots"]
    text = json.dumps(summary, ensure_ascii=False)
    assert "110105194903120021" not in text and "8001" not in text and "八零零一" not in text
    assert len(summary["turns"]) <= 5


async def test_handover_posts_and_says_the_wait(monkeypatch: pytest.MonkeyPatch):
    sent = []

    async def fake_send(body, key):
        sent.append((body, key))
        return {"handover_id": "h-1", "position": 2, "wait_minutes": 4}

    monkeypatch.setattr(handover, "send", fake_send)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots=SLOTS,
        events=EVENTS,
        text="转人工",
        intent="request_human",
        active_loop="id_card_form",
    )
    events = await handover.ActionHandover().run(dispatcher, tracker, DOMAIN)
    assert said(dispatcher) == ["utter_handover_queued"]
    assert dispatcher.messages[0]["wait_minutes"] == 4
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert sent[0][0]["conversation_id"] == "conv-1" and sent[0][0]["channel"] == "web"


async def test_handover_url_gets_the_summary(monkeypatch: pytest.MonkeyPatch):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"handover_id": "h-9", "position": 1, "wait_minutes": 2})

    monkeypatch.setenv("HANDOVER_URL", "http://gateway.test/handovers")
    real_client = httpx.AsyncClient
    monkeypatch.setattr(
        handover.httpx,
        "AsyncClient",
        lambda **kw: real_client(transport=httpx.MockTransport(answer), **kw),
    )
    handover.get_settings.cache_clear()
    result = await handover.send({"conversation_id": "c"}, "key-1")
    assert result["wait_minutes"] == 2
    assert str(seen[0].url) == "http://gateway.test/handovers"
    assert seen[0].headers["Idempotency-Key"] == "key-1"


async def test_exchange_queue_through_the_signed_client(fake_exchange):
    fake_exchange.on(
        "POST", "/v1/handovers", 201, {"handover_id": "h-2", "position": 3, "wait_minutes": 9}
    )
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=SLOTS, events=EVENTS, text="转人工", intent="request_human")
    await handover.ActionHandover().run(dispatcher, tracker, DOMAIN)
    assert said(dispatcher) == ["utter_handover_queued"]
    (request,) = [r for r in fake_exchange.requests if r.url.path == "/v1/handovers"]
    assert request.headers["X-Purpose"] == "handover" and request.headers["X-Signature"]
    body = fake_exchange.bodies("/v1/handovers")[0]
    assert (
        body["service"] == "renew_id_card"
        and body["summary"]["slots"]["id_number"] == "110105********0021"
    )


async def test_no_queue_gives_the_hotline(fake_exchange):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=SLOTS, events=EVENTS, text="转人工", intent="request_human")

    async def broken(body, key):
        raise httpx.ConnectError("no queue")

    handover_send = handover.send
    handover.send = broken
    try:
        await handover.ActionHandover().run(dispatcher, tracker, DOMAIN)
    finally:
        handover.send = handover_send
    assert said(dispatcher) == ["utter_handover_failed"]
    assert dispatcher.messages[0]["hotline"] == "12345"
