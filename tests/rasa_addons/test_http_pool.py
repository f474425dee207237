"""Rasa's action calls reuse kept connections and send the same JSON as before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

from rasa_addons import http_pool
from tests.support.processes import free_port


@dataclass
class Webhook:
    """A real HTTP server that notes each request's body, client port and headers."""

    port: int
    runner: web.AppRunner | None = None
    bodies: list[dict] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"


async def _serve(port: int, webhook: Webhook) -> web.AppRunner:
    async def handle(request: web.Request) -> web.Response:
        webhook.bodies.append(await request.json())
        webhook.peers.append(request.transport.get_extra_info("peername")[1])
        webhook.headers.append(dict(request.headers))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@pytest.fixture
async def webhook(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Webhook]:
    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)  # undone after
    http_pool.install()
    hook = Webhook(port=free_port())
    hook.runner = await _serve(hook.port, hook)
    try:
        yield hook
    finally:
        await http_pool.close_all()
        await hook.runner.cleanup()


async def test_calls_reuse_one_connection(webhook: Webhook) -> None:
    endpoint = EndpointConfig(webhook.url, headers={"X-Token": "t"})
    for turn in range(3):
        reply = await endpoint.request(json={"turn": turn}, method="post")
        assert reply == {"events": [], "responses": []}
    assert webhook.bodies == [{"turn": 0}, {"turn": 1}, {"turn": 2}]
    assert len(set(webhook.peers)) == 1  # one TCP connection for all three calls
    assert all(headers["X-Token"] == "t" for headers in webhook.headers)


async def test_another_endpoint_config_with_the_same_headers_shares_the_session(
    webhook: Webhook,
) -> None:
    # A model reload makes a new EndpointConfig for the same action server.
    first = EndpointConfig(webhook.url)
    second = EndpointConfig(webhook.url)
    await first.request(json={}, method="post")
    await second.request(json={}, method="post")
    assert http_pool.session_for(first) is http_pool.session_for(second)
    assert len(set(webhook.peers)) == 1
    other = EndpointConfig(webhook.url, basic_auth={"username": "u", "password": "p"})
    assert http_pool.session_for(other) is not http_pool.session_for(first)


async def test_a_restarted_server_is_reached_on_a_new_connection(webhook: Webhook) -> None:
    endpoint = EndpointConfig(webhook.url)
    await endpoint.request(json={"n": 1}, method="post")
    await webhook.runner.cleanup()  # the action server stops: its connections close
    webhook.runner = await _serve(webhook.port, webhook)  # and starts again on its port
    assert await endpoint.request(json={"n": 2}, method="post") is not None
    assert webhook.bodies == [{"n": 1}, {"n": 2}]
    assert len(set(webhook.peers)) == 2


async def test_close_all_closes_this_loops_sessions(webhook: Webhook) -> None:
    endpoint = EndpointConfig(webhook.url)
    await endpoint.request(json={}, method="post")
    session = http_pool.session_for(endpoint)
    await http_pool.close_all()
    assert session.closed
    await endpoint.request(json={"again": True}, method="post")  # a new session
    assert webhook.bodies[-1] == {"again": True}


def test_bodies_are_the_json_rasa_would_send() -> None:
    body = {
        "tracker": {"slots": {"city": "成都市", "n": None}, "events": [{"confidence": 0.25}]},
        "domain": {"responses": {"utter_x": [{"text": "您好\n请说"}]}},
        "numpy": np.float32(0.5),
        1: "non-string key",
    }
    expected = {**body, "numpy": 0.5}
    assert json.loads(http_pool.dumps(body)) == json.loads(json.dumps(expected))


def test_what_orjson_refuses_goes_to_json() -> None:
    assert http_pool.dumps({"big": 2**70}) == json.dumps({"big": 2**70})
    with pytest.raises(TypeError):
        http_pool.dumps({"not json": object()})
