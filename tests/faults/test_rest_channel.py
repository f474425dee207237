"""The REST channel's guards (rasa_addons/channels.py), with a real /health server.

Rasa's message handling is replaced by small functions here (a unit test); the
end-to-end behaviour with a killed action server or database is in
test_action_server.py and test_postgres_faults.py.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.exc import OperationalError

from rasa_addons import http_pool
from rasa_addons.channels import RestInput
from tests.support.processes import free_port

# What the fake action server answers on /health: a status, and seconds to wait first.
HEALTH = {"status": 200, "delay": 0.0}


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(HEALTH["delay"])
        self.send_response(HEALTH["status"] if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_port() -> Iterator[int]:
    HEALTH.update(status=200, delay=0.0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
async def _kept_connections_closed() -> AsyncIterator[None]:
    # The channel keeps its HTTP session open, as Rasa's server closes it when it stops.
    yield
    await http_pool.close_all()


def channel_for(port: int | None, **agent: Any) -> RestInput:
    channel = RestInput()
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook") if port else None
    ctx = SimpleNamespace(agent=SimpleNamespace(action_endpoint=endpoint, **agent))
    channel._app = SimpleNamespace(ctx=ctx)
    return channel


def message(text: str = "上海") -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), "someone")


def texts(msg: UserMessage) -> list[str]:
    return [m.get("text") for m in msg.output_channel.messages]


def is_apology(text: str) -> bool:
    return "对不起" in text and "再说一遍" in text and "12345" in text


async def say_next_city(msg: UserMessage) -> None:
    await msg.output_channel.send_text_message(msg.sender_id, "为什么去那里看病？")


async def test_keeps_rasas_url():
    assert RestInput.name() == "rest"
    assert RestInput().url_prefix() == "rest"


async def test_action_server_down_the_message_is_not_handled_and_the_user_hears_why():
    handled: list[UserMessage] = []

    async def on_new_message(msg: UserMessage) -> None:
        handled.append(msg)

    msg = message()
    await channel_for(free_port())._guarded(on_new_message)(msg)
    assert handled == []
    (text,) = texts(msg)
    assert is_apology(text)


async def test_a_failed_turn_replaces_the_half_made_reply(health_port: int):
    async def on_new_message(msg: UserMessage) -> None:
        await msg.output_channel.send_text_message(msg.sender_id, "下一步")
        raise OperationalError("INSERT ...", {"id_number": "secret"}, ConnectionError())

    msg = message()
    await channel_for(health_port)._guarded(on_new_message)(msg)
    (text,) = texts(msg)
    assert is_apology(text) and "没记下" in text


async def test_a_normal_turn_is_left_alone(health_port: int):
    msg = message()
    await channel_for(health_port)._guarded(say_next_city)(msg)
    assert texts(msg) == ["为什么去那里看病？"]


async def test_a_slow_health_check_means_busy_not_gone(
    health_port: int, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ACTION_CHECK_TIMEOUT", "0.2")
    HEALTH["delay"] = 0.6
    msg = message()
    await channel_for(health_port)._guarded(say_next_city)(msg)
    assert texts(msg) == ["为什么去那里看病？"]


async def test_a_proxy_without_action_servers_counts_as_down(health_port: int):
    HEALTH["status"] = 503
    msg = message()
    await channel_for(health_port)._guarded(say_next_city)(msg)
    (text,) = texts(msg)
    assert is_apology(text)


async def test_a_tripped_circuit_breaker_fails_the_turn(health_port: int):
    processor = SimpleNamespace(on_circuit_break=None)

    async def on_new_message(msg: UserMessage) -> None:
        await msg.output_channel.send_text_message(msg.sender_id, "下一步")
        # What Rasa's processor does when it stops predicting; it saves the tracker after.
        processor.on_circuit_break(DialogueStateTracker("someone", []), msg.output_channel, None)
        raise AssertionError("the turn must stop before the tracker is saved")

    msg = message()
    await channel_for(health_port, processor=processor)._guarded(on_new_message)(msg)
    (text,) = texts(msg)
    assert is_apology(text)


class _BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise OperationalError("SELECT ...", {}, ConnectionError())


async def test_an_unreadable_conversation_is_not_replaced_by_a_new_one(health_port: int):
    store = FailSafeTrackerStore(_BrokenStore(Domain.empty()))
    started: list[DialogueStateTracker] = []

    async def on_new_message(msg: UserMessage) -> None:
        # Rasa's fail-safe store would hand back None, and Rasa would start afresh.
        started.append(await store.get_or_create_tracker(msg.sender_id))

    msg = message()
    await channel_for(health_port, tracker_store=store)._guarded(on_new_message)(msg)
    assert started == []
    (text,) = texts(msg)
    assert is_apology(text)


async def test_without_an_action_server_nothing_is_checked():
    msg = message()
    await channel_for(None)._guarded(say_next_city)(msg)
    assert texts(msg) == ["为什么去那里看病？"]


async def test_hotline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SERVICE_HOTLINE", "96166")

    async def on_new_message(msg: UserMessage) -> None:
        raise AssertionError("must not be handled")

    msg = message()
    await channel_for(free_port())._guarded(on_new_message)(msg)
    assert "96166" in texts(msg)[0]
