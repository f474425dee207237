"""Fuzz the three doors with over 2 000 hostile messages: Rasa's REST channel, the
gateway (widget HTTP API and kiosk WebSocket) and the exchange.

Every reply must be well formed (a JSON list from Rasa, the widget's JSON or a
problem+json from the gateway, problem+json from the exchange), no status may be
5xx, and every process must still be alive and healthy afterwards. The inputs
are deterministic (tests/security/corpus.py) so a failure can be replayed.
"""

from __future__ import annotations

import asyncio
import json
import random
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from exchange.core import signing
from exchange.core.codes import Purpose
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.security import corpus
from tests.support.processes import Service
from tests.voice.conftest import gateway_service, ws_url
from voice.devices import DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN

WEB_TAG = "9f3c1a7e5b2d4c8f0a6e1d3b7c5f2a94"

pytestmark = pytest.mark.slow

REST_MESSAGES = 600
GATEWAY_MESSAGES = 400
GATEWAY_BODIES = 150
KIOSK_FRAMES = 300
EXCHANGE_REQUESTS = 600
CONCURRENCY = 8
# 600 + 400 + 150 + 40 + 300 + 1 + 600 = 2 091 hostile messages in all.
# Conversations that are in the middle of a form when the fuzz arrives.
FORM_OPENERS = ["我要换身份证", "我想办养老金认证", "社保卡丢了", "查一下办事大厅"]

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def fuzz_gateway(stack_env: dict[str, str], rasa_server: Service) -> Iterator[Service]:
    """A gateway of our own on the shared stack: text only, no speech model needed."""
    service = gateway_service(
        "gateway-fuzz",
        model=None,
        rasa_url=stack_env["RASA_URL"],
        token=stack_env["RASA_TOKEN"],
        # Limits off, so the fuzz reaches the assistant; the limits have their own
        # tests (tests/voice/test_access.py).
        VOICE_RATE_LIMIT_PER_MINUTE="0",
        VOICE_RATE_LIMIT_IP_PER_MINUTE="0",
    )
    with service:
        yield service


async def _gather(jobs: list, limit: int = CONCURRENCY) -> list:
    gate = asyncio.Semaphore(limit)

    async def run(job):
        async with gate:
            return await job

    return await asyncio.gather(*(run(j) for j in jobs))


def _is_problem(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return False
    body = response.json()
    return body.get("status") == response.status_code and bool(body.get("title"))


def test_rest_channel_answers_every_hostile_message(
    rasa_server: Service, stack_env: dict[str, str]
) -> None:
    texts = corpus.messages(REST_MESSAGES)
    senders = [f"fuzz-rest-{i}" for i in range(40)]
    url = f"{stack_env['RASA_URL']}/webhooks/rest/webhook"

    async def main() -> list[tuple[str, int, Any]]:
        async with httpx.AsyncClient(timeout=120) as client:
            # Put some conversations in the middle of a form first.
            for sender, opener in zip(senders, FORM_OPENERS, strict=False):
                await client.post(url, json={"sender": sender, "message": opener})

            async def one(i: int, text: str) -> tuple[str, int, Any]:
                sender = senders[i % len(senders)]
                response = await client.post(url, json={"sender": sender, "message": text})
                return text, response.status_code, response.json()

            return await _gather([one(i, t) for i, t in enumerate(texts)], limit=4)

    results = asyncio.run(main())
    statuses = Counter(status for _, status, _ in results)
    assert statuses == {200: len(texts)}, statuses
    for text, _, body in results:
        assert isinstance(body, list), (text[:80], body)
        for message in body:
            assert set(message) <= {"recipient_id", "text", "buttons", "image", "custom"}, message
    # Silence is never the answer to something a person could have typed.
    answered = sum(1 for text, _, body in results if body and text.strip())
    assert answered >= 0.95 * sum(1 for t in texts if t.strip())
    assert httpx.get(f"{stack_env['RASA_URL']}/", timeout=10).status_code == 200


def test_the_widget_api_answers_or_refuses_every_hostile_request(
    fuzz_gateway: Service,
) -> None:
    texts = corpus.messages(GATEWAY_MESSAGES, seed=corpus.SEED + 7)
    bodies = corpus.json_bodies(GATEWAY_BODIES)
    bad_senders = ["", "a" * 65, "<script>", "x y", "😀", "../etc", "\x00"]

    async def main() -> list[tuple[str, httpx.Response]]:
        async with httpx.AsyncClient(base_url=fuzz_gateway.url, timeout=120) as client:

            async def chat(i: int, text: str) -> tuple[str, httpx.Response]:
                # Web senders must be unguessable (voice/conversations.py).
                sender = bad_senders[i % 7] if i % 10 == 9 else f"fuzz-web-{i % 30}-{WEB_TAG}"
                body = {"sender": sender, "text": text}
                return text, await client.post("/v1/chat", json=body)

            async def raw(path: str, body: bytes) -> tuple[str, httpx.Response]:
                headers = {"content-type": "application/json"}
                return body[:80].decode("utf-8", "replace"), await client.post(
                    path, content=body, headers=headers
                )

            jobs = [chat(i, t) for i, t in enumerate(texts)]
            jobs += [raw("/v1/chat", b) for b in bodies]
            jobs += [raw("/v1/tts", b) for b in bodies[:40]]
            return await _gather(jobs)

    results = asyncio.run(main())
    statuses = Counter(r.status_code for _, r in results)
    assert not [s for s in statuses if s >= 500], statuses
    for what, response in results:
        if response.status_code == 200 and response.headers["content-type"].startswith(
            "application/json"
        ):
            body = response.json()
            assert isinstance(body.get("messages"), list), (what, body)
        elif response.status_code == 200:
            assert response.headers["content-type"] == "audio/wav", what
        else:
            assert 400 <= response.status_code < 500 and _is_problem(response), (
                what,
                response.status_code,
                response.text[:200],
            )
    assert statuses[200] > GATEWAY_MESSAGES // 2, statuses
    assert httpx.get(f"{fuzz_gateway.url}/health", timeout=10).status_code == 200


def test_the_kiosk_socket_survives_hostile_frames(fuzz_gateway: Service) -> None:
    """Broken JSON, wrong types, odd audio and invalid UTF-8 text frames.

    A client mistake gets an ``error`` message (the connection stays open); a
    frame that breaks the WebSocket protocol itself (invalid UTF-8 in a text
    frame) gets a proper close (1007) — and the server keeps serving others.
    """
    rng = random.Random(corpus.SEED)
    texts = corpus.messages(KIOSK_FRAMES, seed=corpus.SEED + 11)
    bodies = corpus.json_bodies(60, seed=corpus.SEED + 13)

    async def main() -> Counter:
        seen: Counter = Counter()
        async with websockets.connect(ws_url(fuzz_gateway), max_size=None) as ws:
            start = {"type": "start", "sender": "fuzz-kiosk", "speak": False,
                     "device": DEV_KIOSK_DEVICE, "token": DEV_KIOSK_TOKEN}  # fmt: skip
            await ws.send(json.dumps(start))
            for i, text in enumerate(texts):
                kind = i % 5
                if kind == 0:
                    frame: str | bytes = json.dumps({"type": "text", "text": text})
                elif kind == 1:
                    frame = text  # not JSON at all
                elif kind == 2:
                    frame = bodies[i % len(bodies)].decode("utf-8", "replace")
                elif kind == 3:
                    frame = rng.randbytes(rng.choice([0, 1, 3, 641, 32_000]))  # odd audio
                else:
                    frame = json.dumps({"type": rng.choice(["start", "nope", 7, None]), "x": text})
                await ws.send(frame)
                while True:  # drain what the server said so far
                    try:
                        reply = await asyncio.wait_for(ws.recv(), timeout=0.05)
                    except asyncio.TimeoutError:
                        break
                    if isinstance(reply, str):
                        seen[json.loads(reply)["type"]] += 1
            assert ws.open, "the server closed the socket on a client mistake"
        # A text frame that is not UTF-8 breaks the WebSocket protocol itself.
        async with websockets.connect(ws_url(fuzz_gateway)) as ws:
            await ws.write_frame(True, websockets.frames.Opcode.TEXT, b"\xff\xfe{")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=10)
            seen[f"close-{closed.value.code}"] += 1
        return seen

    seen = asyncio.run(main())
    assert seen["error"] >= KIOSK_FRAMES // 5, seen
    assert seen["close-1007"] == 1, seen
    assert httpx.get(f"{fuzz_gateway.url}/health", timeout=10).status_code == 200


def test_the_exchange_refuses_hostile_signed_requests_cleanly(exchange_server: Service) -> None:
    """Signed (so they pass the gate) but hostile path values, queries and bodies."""
    rng = random.Random(corpus.SEED + 3)
    openapi = httpx.get(f"{exchange_server.url}/openapi.json", timeout=10).json()
    operations = [
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    ]
    texts = corpus.messages(EXCHANGE_REQUESTS, seed=corpus.SEED + 5)
    bodies = corpus.json_bodies(80, seed=corpus.SEED + 17)
    purposes = [p.value for p in Purpose] + ["", "surveillance", "\u202e"]

    def build(i: int, text: str) -> httpx.Request:
        method, template = operations[i % len(operations)]
        value = urllib.parse.quote(text[:300] or "x", safe="")
        target = template
        while "{" in target:
            start, end = target.index("{"), target.index("}")
            target = target[:start] + value + target[end + 1 :]
        if i % 3 == 0:
            target += "?" + urllib.parse.urlencode({"city": text[:200], "status": text[:50]})
        body = b"" if method == "GET" else bodies[i % len(bodies)]
        headers = signing.signed_headers(
            client_id=DEV_CLIENT_ID,
            secret=DEV_CLIENT_SECRET,
            purpose=rng.choice(purposes),
            method=method,
            target=target,
            body=body,
        )
        headers["content-type"] = "application/json"
        if method != "GET" and i % 2:
            headers["Idempotency-Key"] = f"fuzz-{i}"
        # Raw UTF-8 bytes: a hostile purpose need not be ASCII.
        raw_headers = {k: v.encode("utf-8") for k, v in headers.items()}
        return httpx.Request(
            method, f"{exchange_server.url}{target}", content=body, headers=raw_headers
        )

    async def main() -> list[tuple[httpx.Request, httpx.Response]]:
        async with httpx.AsyncClient(timeout=60) as client:

            async def one(i: int, text: str) -> tuple[httpx.Request, httpx.Response]:
                request = build(i, text)
                return request, await client.send(request)

            return await _gather([one(i, t) for i, t in enumerate(texts)])

    results = asyncio.run(main())
    statuses = Counter(r.status_code for _, r in results)
    assert not [s for s in statuses if s >= 500], statuses
    for request, response in results:
        if response.status_code >= 400:
            assert _is_problem(response), (str(request.url)[:120], response.text[:200])
    assert httpx.get(f"{exchange_server.url}/health", timeout=10).status_code == 200
