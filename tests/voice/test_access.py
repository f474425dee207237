"""Access control against the running gateway and phone server (issue #9), the
channel each message carries to Rasa (issue #6), and whose conversation a client
can reach (the gateway names them: voice/conversations.py).

Real processes: ``python -m voice.gateway`` and ``python -m voice.phone``,
replies from the scripted Rasa (which records the REST channel's ``metadata``,
the field Rasa keeps on the user event and the actions read). No speech model
is needed here: text turns are enough, so the gateways start without one.
Units of the same rules: tests/security/test_access.py.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import PYTHON, ROOT, Service
from tests.voice.conftest import FAST_TIMERS, SCRIPTED_TOKEN, gateway_service, phone_service, ws_url
from voice import audiosocket, conversations
from voice.audiosocket import Kind
from voice.devices import DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN, digest
from voice.kiosk_client import KioskClient

ROBOT_17 = "robot-17"
TOKEN_17 = "Zq1c7X4pUu0yM2b9Hk3vN8aTs6fLw5Re0dJgYi2oPqA"  # stored hashed
ROBOT_18 = "robot-18"
TOKEN_18 = "token-of-robot-18-kept-plain-in-the-file"
POLITE = "您说得太快了，请稍等一下再说。"


def device_list(*robots: str) -> str:
    lines = {
        ROBOT_17: f"{ROBOT_17}: sha256:{digest(TOKEN_17)}",
        ROBOT_18: f"{ROBOT_18}: {TOKEN_18}",
    }
    return "".join(lines[robot] + "\n" for robot in robots)


@pytest.fixture(scope="module")
def devices_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kiosks") / "kiosks.yml"
    path.write_text(device_list(ROBOT_17, ROBOT_18), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def guarded_gateway(scripted_rasa: Service, devices_file: Path) -> Iterator[Service]:
    service = gateway_service(
        "gateway-guarded", model=None, rasa_url=scripted_rasa.url, token=SCRIPTED_TOKEN,
        VOICE_KIOSK_DEVICES_FILE=str(devices_file), **FAST_TIMERS,
    )  # fmt: skip
    with service:
        yield service


def metadata_sent(rasa: Service, conversation_id: str) -> list[dict | None]:
    return httpx.get(f"{rasa.url}/_metadata/{conversation_id}", timeout=5).json()


def received_by_rasa(rasa: Service, conversation_id: str) -> list[str]:
    return httpx.get(f"{rasa.url}/_received/{conversation_id}", timeout=5).json()


def tracker(rasa: Service, conversation_id: str) -> dict:
    """The conversation as Rasa's HTTP API shows it (with the token, as the gateway reads it)."""
    url = f"{rasa.url}/conversations/{conversation_id}/tracker"
    response = httpx.get(url, params={"token": SCRIPTED_TOKEN}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def web_sender(tag: str = "web") -> str:
    return f"{tag}-{secrets.token_hex(16)}"  # as web/js/store.js makes them


def log_of(service: Service) -> str:
    assert service.log_path is not None
    return service.log_path.read_text(encoding="utf-8", errors="replace")


# --- kiosk robots: device tokens ----------------------------------------------------------


async def test_a_robot_with_its_token_talks_and_rasa_learns_channel_and_device(
    guarded_gateway: Service, scripted_rasa: Service
) -> None:
    sender = f"visit-{uuid.uuid4().hex[:6]}"
    async with KioskClient(ws_url(guarded_gateway), device=ROBOT_17, token=TOKEN_17) as client:
        ready = await client.start(sender, speak=False)
        assert ready["type"] == "ready" and ready["sender"] == sender
        assert ready["conversation"] == f"kiosk:{ROBOT_17}:{sender}"
        await client.text("/statement")
        assert (await client.wait_for(lambda e: e["type"] == "bot"))["text"] == "好的。"
    metadata = metadata_sent(scripted_rasa, f"kiosk:{ROBOT_17}:{sender}")
    assert metadata == [{"channel": "kiosk", "device": ROBOT_17}]
    assert received_by_rasa(scripted_rasa, sender) == []  # never under the client's own id
    log = log_of(guarded_gateway)
    assert f"kiosk device {ROBOT_17}: new conversation" in log
    assert TOKEN_17 not in log


@pytest.mark.parametrize(
    ("device", "token", "code", "reason"),
    [
        (None, None, 4401, "device token required: start needs device and token"),
        (ROBOT_17, None, 4401, "device token required: start needs device and token"),
        (ROBOT_17, TOKEN_18, 4403, "unknown device or wrong token"),
        ("robot-99", TOKEN_17, 4403, "unknown device or wrong token"),
        # The development device is not in this gateway's list.
        (DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN, 4403, "unknown device or wrong token"),
    ],
)
async def test_a_missing_or_wrong_token_closes_the_connection_before_any_session(
    guarded_gateway: Service,
    scripted_rasa: Service,
    device: str | None,
    token: str | None,
    code: int,
    reason: str,
) -> None:
    sender = f"intruder-{uuid.uuid4().hex[:8]}"
    client = KioskClient(ws_url(guarded_gateway), device=device, token=token)
    async with client:
        await client.send(
            {"type": "start", "sender": sender, "channel": "kiosk", "device": device}
            | ({"token": token} if token else {})
        )
        assert await client.closed() == (code, reason)
    assert client.events == []  # no ready: no session was made
    for conversation_id in (sender, f"web:{sender}", f"kiosk:{device}:{sender}"):
        assert received_by_rasa(scripted_rasa, conversation_id) == []
    if token:
        assert token not in log_of(guarded_gateway)


async def test_revoking_a_robot_takes_effect_on_its_next_start_without_a_restart(
    guarded_gateway: Service, devices_file: Path
) -> None:
    url = ws_url(guarded_gateway)
    async with KioskClient(url, device=ROBOT_18, token=TOKEN_18) as staying:
        assert (await staying.start(speak=False))["type"] == "ready"
        devices_file.write_text(device_list(ROBOT_17), encoding="utf-8")  # robot-18 removed
        try:
            async with KioskClient(url, device=ROBOT_18, token=TOKEN_18) as again:
                await again.send({"type": "start", "sender": "r18-next", "channel": "kiosk",
                                  "device": ROBOT_18, "token": TOKEN_18})  # fmt: skip
                assert await again.closed() == (4403, "unknown device or wrong token")
            # The robot that was already connected is turned away at its next visitor.
            await staying.send({"type": "start", "sender": "r18-visitor-2", "channel": "kiosk",
                                "device": ROBOT_18, "token": TOKEN_18})  # fmt: skip
            assert await staying.closed() == (4403, "unknown device or wrong token")
            async with KioskClient(url, device=ROBOT_17, token=TOKEN_17) as other:
                assert (await other.start(speak=False))["type"] == "ready"
        finally:
            devices_file.write_text(device_list(ROBOT_17, ROBOT_18), encoding="utf-8")
    async with KioskClient(url, device=ROBOT_18, token=TOKEN_18) as back:
        assert (await back.start(speak=False))["type"] == "ready"  # added back: in again
    assert f"kiosk device {ROBOT_18} refused (unknown_device)" in log_of(guarded_gateway)


async def test_the_web_widget_microphone_needs_no_device_and_is_the_web_channel(
    guarded_gateway: Service, scripted_rasa: Service
) -> None:
    sender = web_sender()
    async with KioskClient(ws_url(guarded_gateway), device=None, channel="web") as client:
        ready = await client.start(sender, speak=False)
        assert ready["type"] == "ready" and ready["conversation"] == f"web:{sender}"
        await client.text("/statement")
        await client.wait_for(lambda e: e["type"] == "bot")
        # A guessable sender gets no conversation; the one it has goes on.
        mark = len(client.events)
        await client.send({"type": "start", "sender": "web-1", "channel": "web"})
        refused = await client.wait_for(lambda e: e["type"] in ("ready", "error"), after=mark)
        assert refused["code"] == "bad_message" and "at least 16" in refused["message"]
        await client.text("/statement")
        await client.wait_for(lambda e: e["type"] == "bot", after=mark)
    chat = httpx.post(
        f"{guarded_gateway.url}/v1/chat", json={"sender": sender, "text": "/hello"}, timeout=10
    )
    assert chat.status_code == 200 and chat.json()["conversation"] == f"web:{sender}"
    assert metadata_sent(scripted_rasa, f"web:{sender}") == [{"channel": "web"}] * 3
    assert received_by_rasa(scripted_rasa, "web:web-1") == []


async def test_a_web_client_cannot_reach_a_robots_conversation(
    guarded_gateway: Service, scripted_rasa: Service
) -> None:
    """Knowing a robot visitor's sender id gets a web client nothing of that conversation.

    The robot's visitor is half-way through identity verification (the assistant
    waits for an ID number). Someone who learnt the sender id posts to /v1/chat
    with it, with the robot's whole conversation id, and opens the widget's
    microphone socket with it; another robot uses it too. Each lands in a
    conversation of its own, and Rasa's tracker of the robot's shows only the
    robot's visitor.
    """
    sender = f"visit-{uuid.uuid4().hex}"  # long and random enough to pass as a web sender
    robot = f"kiosk:{ROBOT_17}:{sender}"
    url = ws_url(guarded_gateway)
    async with KioskClient(url, device=ROBOT_17, token=TOKEN_17) as client:
        assert (await client.start(sender, speak=False))["conversation"] == robot
        await client.text("/ask_id")
        asked = await client.wait_for(lambda e: e["type"] == "bot")
        assert asked["text"] == "请说出您的身份证号码。"
    assert tracker(scripted_rasa, robot)["slots"]["requested_slot"] == "id_number"

    chat_url = f"{guarded_gateway.url}/v1/chat"
    for claimed in (sender, robot):
        reply = httpx.post(chat_url, json={"sender": claimed, "text": "/statement"}, timeout=10)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        # Not the robot's conversation: no ID number asked for, and its own id.
        assert body["conversation"] == f"web:{claimed}" != robot
        assert body["requested_slot"] is None
        assert body["messages"] == [{"text": "好的。", "buttons": []}]
    async with KioskClient(url, device=None, channel="web") as web:
        assert (await web.start(sender, speak=False))["conversation"] == f"web:{sender}"
        await web.text("/hello")
        await web.wait_for(lambda e: e["type"] == "bot")
    async with KioskClient(url, device=ROBOT_18, token=TOKEN_18) as other_robot:
        ready = await other_robot.start(sender, speak=False)
        assert ready["conversation"] == f"kiosk:{ROBOT_18}:{sender}"
        await other_robot.text("/statement")
        await other_robot.wait_for(lambda e: e["type"] == "bot")

    # The robot's conversation is as its visitor left it.
    assert received_by_rasa(scripted_rasa, robot) == ["/ask_id"]
    assert tracker(scripted_rasa, robot)["slots"]["requested_slot"] == "id_number"
    assert received_by_rasa(scripted_rasa, f"web:{sender}") == ["/statement", "/hello"]
    assert received_by_rasa(scripted_rasa, f"web:{robot}") == ["/statement"]
    assert received_by_rasa(scripted_rasa, f"kiosk:{ROBOT_18}:{sender}") == ["/statement"]
    assert received_by_rasa(scripted_rasa, sender) == []


async def test_a_robot_talking_too_fast_is_asked_to_wait_and_stays_connected(
    guarded_gateway: Service, scripted_rasa: Service
) -> None:
    sender = f"fast-{uuid.uuid4().hex[:6]}"
    async with KioskClient(ws_url(guarded_gateway), device=ROBOT_17, token=TOKEN_17) as client:
        await client.start(sender, speak=False)  # 1 of the burst of 10
        for i in range(12):
            await client.text(f"/statement-{i}")
        limited = await client.wait_for(lambda e: e.get("code") == "rate_limited")
        polite = await client.wait_for(lambda e: e["type"] == "bot" and e["text"] == POLITE)
        assert limited["message"].startswith("too many messages; wait ")
        assert polite["buttons"] == [] and polite["reprompt"] is False
        for _ in range(100):  # the allowed ones are answered one after another
            if len([e for e in client.of_type("bot") if e["text"] != POLITE]) == 9:
                break
            await asyncio.sleep(0.1)
        assert client.close_code is None  # still connected, nothing crashed
        assert len(client.of_type("error")) == len(client.of_type("bot")) - 9 == 3
    # The start and nine texts made the burst; the rest never reached the assistant.
    conversation_id = conversations.kiosk(ROBOT_17, sender)
    assert received_by_rasa(scripted_rasa, conversation_id) == [f"/statement-{i}" for i in range(9)]
    assert httpx.get(f"{guarded_gateway.url}/health", timeout=5).status_code == 200


async def test_rasa_keeps_the_channel_where_the_actions_read_it() -> None:
    """The gateway's Rasa client against Rasa's own REST channel, on to ``channel_of``.

    Rasa's REST channel turns the request's ``metadata`` into the UserMessage's;
    the processor stores it on the UserUttered event (rasa/core/processor.py), and
    the action server gets the tracker's events as JSON.
    """
    from rasa.core.channels.channel import UserMessage
    from rasa.core.channels.rest import RestInput
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
    from rasa_sdk import Tracker
    from sanic import Sanic

    from actions.dialogue import channel_of
    from tests.support.processes import free_port
    from voice.rasa_client import RasaClient

    tracker = DialogueStateTracker("robot-17:visit-7", slots=[])

    async def on_new_message(message: UserMessage) -> None:
        tracker.update(
            UserUttered(
                message.text, input_channel=message.input_channel, metadata=message.metadata
            )
        )
        await message.output_channel.send_text_message(message.sender_id, "好的。")

    app = Sanic(f"rest_channel_{uuid.uuid4().hex[:8]}")
    app.blueprint(RestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    client = RasaClient(f"http://127.0.0.1:{port}")
    try:
        for metadata in ({"channel": "web"}, {"channel": "kiosk", "device": ROBOT_17}):
            reply = await client.send("robot-17:visit-7", "我要认证", metadata=metadata)
            assert [m.text for m in reply] == ["好的。"]
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
        for connection in list(server.connections):  # as Sanic's own shutdown does
            connection.close_if_idle()
        for _ in range(100):
            if not server.connections:
                break
            await asyncio.sleep(0.02)
    events = tracker.current_state(EventVerbosity.ALL)["events"]
    assert [e["metadata"] for e in events] == [
        {"channel": "web"},
        {"channel": "kiosk", "device": ROBOT_17},
    ]
    assert channel_of(Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))) == "kiosk"


# --- rate limits over HTTP (and a flood of connections) ------------------------------------


@pytest.fixture(scope="module")
def limited_gateway(scripted_rasa: Service) -> Iterator[Service]:
    # One message a minute after a burst: nothing refills while the test runs.
    service = gateway_service(
        "gateway-limited", model=None, rasa_url=scripted_rasa.url, token=SCRIPTED_TOKEN,
        VOICE_RATE_LIMIT_PER_MINUTE="1", VOICE_RATE_LIMIT_BURST="3",
        VOICE_RATE_LIMIT_IP_PER_MINUTE="1", VOICE_RATE_LIMIT_IP_BURST="6",
    )  # fmt: skip
    with service:
        yield service


def chat(gateway: Service, sender: str, text: str = "/statement") -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat", json={"sender": sender, "text": text}, timeout=10)


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.json()["title"] == "Too many requests"


async def test_chat_past_the_sender_then_the_address_allowance_is_429(
    limited_gateway: Service, scripted_rasa: Service
) -> None:
    first = web_sender("web-a")
    assert [chat(limited_gateway, first).status_code for _ in range(3)] == [200, 200, 200]
    assert_too_many(chat(limited_gateway, first))  # this sender's burst is used up
    assert received_by_rasa(scripted_rasa, f"web:{first}") == ["/statement"] * 3

    # Other senders from the same address: three more, then the address is out.
    others = [web_sender(f"web-{n}") for n in "bcd"]
    assert [chat(limited_gateway, s).status_code for s in others] == [200, 200, 200]
    fresh = web_sender("web-e")
    assert_too_many(chat(limited_gateway, fresh))
    assert received_by_rasa(scripted_rasa, f"web:{fresh}") == []
    speech = httpx.post(f"{limited_gateway.url}/v1/tts", json={"text": "好", "rate": 120})
    assert_too_many(speech)

    # A new WebSocket from the address is turned away too, politely, with a code.
    async with KioskClient(ws_url(limited_gateway)) as client:
        code, reason = await client.closed()
    assert code == 4429 and reason.startswith("too many connections; retry in ")
    assert httpx.get(f"{limited_gateway.url}/health", timeout=5).status_code == 200


# --- phone: who may connect ----------------------------------------------------------------


@pytest.fixture(scope="module")
def open_phone(scripted_rasa: Service) -> Iterator[Service]:
    """Listening on every address, for 127.0.0.1 only."""
    service = phone_service(
        "phone-allow-list", model=None, rasa_url=scripted_rasa.url, token=SCRIPTED_TOKEN,
        PHONE_HOST="0.0.0.0", VOICE_PHONE_ALLOWED="127.0.0.1",
    )  # fmt: skip
    with service:
        yield service


async def first_frame(reader: asyncio.StreamReader, *, within: float) -> audiosocket.Frame | None:
    return await asyncio.wait_for(audiosocket.read_frame(reader), within)


async def test_the_phone_server_closes_connections_from_other_addresses(
    open_phone: Service,
) -> None:
    call = audiosocket.uuid_frame(uuid.uuid4()).encode()
    # 127.0.0.2 is this machine too (all of 127/8 is loopback), but not on the list.
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", open_phone.port, local_addr=("127.0.0.2", 0)
    )
    try:
        writer.write(call + audiosocket.audio_frame(bytes(320)).encode())
        await writer.drain()
    except ConnectionError:
        pass  # closed before we finished writing: refused all the same
    assert await first_frame(reader, within=5) is None  # closed, not one byte back
    assert time.monotonic() - started < 2  # at once, not after the 5 s UUID wait
    writer.close()

    # The listed address is served (no speech model here: the caller hears an apology).
    reader, writer = await asyncio.open_connection("127.0.0.1", open_phone.port)
    writer.write(call)
    await writer.drain()
    frame = await first_frame(reader, within=30)
    assert frame is not None and frame.kind == Kind.AUDIO
    writer.close()

    for _ in range(20):  # the log line is written as the connection is dropped
        if "AudioSocket connection from 127.0.0.2 refused" in log_of(open_phone):
            break
        await asyncio.sleep(0.1)
    log = log_of(open_phone)
    assert "AudioSocket connection from 127.0.0.2 refused: not in VOICE_PHONE_ALLOWED" in log
    assert "AudioSocket connection from 127.0.0.1 refused" not in log


# --- production start-up ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "refusal"),
    [
        (
            "voice.gateway",
            "voice gateway not started: ENV=production refuses the development defaults: set "
            "AGENT_PASSWORD, RASA_TOKEN, EXCHANGE_CLIENT_SECRET and VOICE_KIOSK_DEVICES_FILE "
            "(or VOICE_KIOSK_DEVICES) to your own values.",
        ),
        (
            "voice.phone",
            "phone server not started: ENV=production refuses the development defaults: set "
            "RASA_TOKEN to your own value.",
        ),
    ],
)
def test_production_with_development_defaults_does_not_start(program: str, refusal: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ENV": "production"}
    done = subprocess.run(
        [PYTHON, "-m", program], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [refusal]
