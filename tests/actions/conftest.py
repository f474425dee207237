"""Helpers for action unit tests, in rasa-sdk's own style: a Tracker built inline,
a CollectingDispatcher, and the real exchange client on an httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import exchange, settings
from exchange.client import AsyncExchangeClient

DOMAIN: dict[str, Any] = {"forms": {}, "slots": {}}


def user(
    text: str, intent: str = "inform", entities: list[dict] | None = None, **extra: Any
) -> dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "text": text,
        },
        **extra,
    }


def bot(text: str, utter_action: str = "utter_x", buttons: list | None = None) -> dict:
    return {
        "event": "bot",
        "text": text,
        "data": {"buttons": buttons},
        "metadata": {"utter_action": utter_action},
    }


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def make_tracker(
    *,
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    entities: list[dict] | None = None,
    events: list[dict] | None = None,
    active_loop: str | None = None,
    sender_id: str = "conv-1",
) -> Tracker:
    """A tracker whose latest message is ``text``; ``events`` come before it."""
    latest = user(text, intent, entities)
    history = [*(events or []), latest]
    return Tracker(
        sender_id,
        dict(slots or {}),
        {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
        history,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def in_form(form: str, tracker_kwargs: dict) -> Tracker:
    """A tracker as the validation action sees it on a normal turn of ``form``."""
    events = [*tracker_kwargs.pop("events", []), action("action_listen")]
    tracker = make_tracker(active_loop=form, events=events, **tracker_kwargs)
    tracker.events.append(action(form))
    return tracker


def said(dispatcher: CollectingDispatcher) -> list[str]:
    """The responses (or texts) the action sent, in order."""
    return [m.get("response") or m.get("text") for m in dispatcher.messages]


class FakeExchange:
    """Answers like the exchange, records every request; ``down`` makes it unreachable."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.requests: list[httpx.Request] = []
        self.down = False

    def on(self, method: str, path: str, status: int = 200, body: Any = None) -> None:
        self.routes[(method, path)] = lambda request: httpx.Response(status, json=body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("exchange down", request=request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"title": "Not Found", "detail": request.url.path})
        return route(request)

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]

    def keys(self, path: str) -> list[str | None]:
        return [r.headers.get("Idempotency-Key") for r in self.requests if r.url.path == path]


@pytest.fixture
def fake_exchange() -> Iterator[FakeExchange]:
    fake = FakeExchange()
    client = AsyncExchangeClient(
        "http://exchange.test",
        "assistant",
        "secret",
        retries=0,
        transport=httpx.MockTransport(fake.handle),
    )
    exchange.use_client(client)
    yield fake
    exchange.use_client(None)


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HANDOVER_URL", raising=False)
    settings.get_settings.cache_clear()
    yield
    settings.get_settings.cache_clear()
