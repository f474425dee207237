"""Voice end to end against the real stack: exchange, action server and Rasa.

Real espeak-ng speech goes through the real gateway (kiosk WebSocket) and the
real AudioSocket server into the real Vosk model and on to the real Rasa
server; we check what the recogniser heard, that exactly that reached Rasa's
tracker, the bot's reply, and the speech that came back. With the Korean test
model the words are not Chinese, so Rasa answers with its "please say that
again" fallback: what matters here is the path, not the NLU.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bench.voice_corpus import MANDARIN_SET, cer
from tests.support.processes import Service, free_port
from tests.voice.conftest import FAST_TIMERS, PHONE_TIMERS, gateway_service, ws_url
from tests.voice.test_phone import wait_for_audio
from voice import audio, conversations
from voice.devices import DEV_KIOSK_DEVICE
from voice.kiosk_client import KioskClient
from voice.phone_client import PhoneCaller

pytestmark = pytest.mark.slow

TAIL = audio.silence(1.5, 16000)


@pytest.fixture(scope="module")
def stack_gateway(
    korean_model: Path, stack_env: dict[str, str], rasa_server: Service
) -> Iterator[Service]:
    service = gateway_service(
        "gateway-stack",
        model=korean_model,
        rasa_url=stack_env["RASA_URL"],
        token=stack_env["RASA_TOKEN"],
        **FAST_TIMERS,
    )
    with service:
        yield service


@pytest.fixture(scope="module")
def stack_phone(
    korean_model: Path, stack_env: dict[str, str], rasa_server: Service
) -> Iterator[Service]:
    """A gateway that answers the phone line too, as `make run` starts it."""
    service = gateway_service(
        "gateway-phone-stack",
        model=korean_model,
        rasa_url=stack_env["RASA_URL"],
        token=stack_env["RASA_TOKEN"],
        VOICE_PHONE_IN_GATEWAY="true",
        PHONE_PORT=str(free_port()),
        **PHONE_TIMERS,
    )
    with service:
        yield service


def tracker(stack_env: dict[str, str], conversation_id: str) -> dict:
    url = f"{stack_env['RASA_URL']}/conversations/{conversation_id}/tracker"
    return httpx.get(url, params={"token": stack_env["RASA_TOKEN"]}, timeout=10).json()


def robot(sender: str) -> str:
    """The conversation of the development robot's visitor ``sender``."""
    return conversations.kiosk(DEV_KIOSK_DEVICE, sender)


def said(track: dict, who: str) -> list[str]:
    return [e.get("text") or "" for e in track["events"] if e["event"] == who]


async def test_two_kiosks_talk_to_rasa_at_once(
    stack_gateway: Service, stack_env: dict[str, str], speech: Callable[..., bytes]
) -> None:
    clips = {
        "e2e-kiosk-a": speech("안녕하세요 주민등록증을 다시 받고 싶어요"),
        "e2e-kiosk-b": speech("연금은 언제 나와요"),
    }

    async def visit(sender: str) -> KioskClient:
        async with KioskClient(ws_url(stack_gateway)) as client:
            await client.start(sender)
            await client.stream(clips[sender] + TAIL)
            await client.wait_for(lambda e: e["type"] == "transcript")
            await client.wait_playback(timeout=40)
            return client

    clients = await asyncio.gather(*(visit(s) for s in clips))
    for sender, client in zip(clips, clients, strict=True):
        transcript = client.of_type("transcript")[0]
        bots = [e["text"] for e in client.of_type("bot") if not e["reprompt"]]
        track = tracker(stack_env, robot(sender))
        assert transcript["text"] and client.of_type("partial")
        assert said(track, "user") == [transcript["message"]]  # exactly what was heard
        assert bots and said(track, "bot")[: len(bots)] == bots  # the bot's own reply
        reply = bytes(client.playbacks[0].pcm)
        assert client.playbacks[0].sample_rate == 16000
        assert audio.duration_s(reply, 16000) > 1.0 and audio.rms_dbfs(reply) > -35


async def test_typed_text_and_slow_down_through_the_widget_api(stack_gateway: Service) -> None:
    url, sender = f"{stack_gateway.url}/v1/chat", "web-" + secrets.token_hex(16)
    hello = httpx.post(url, json={"sender": sender, "text": "你好"}, timeout=30).json()
    assert hello["messages"] and hello["messages"][0]["text"]
    assert hello["speech_rate"] == 145
    slower = httpx.post(url, json={"sender": sender, "text": "说慢点"}, timeout=30).json()
    assert slower["speech_rate"] < 145
    later = httpx.post(url, json={"sender": sender, "text": "你好"}, timeout=30).json()
    assert later["speech_rate"] == slower["speech_rate"]  # for the rest of the conversation
    wav = httpx.post(
        f"{stack_gateway.url}/v1/tts",
        json={"text": hello["messages"][0]["text"], "sender": sender},
        timeout=30,
    )
    pcm, rate = audio.read_wav(wav.content)
    assert rate == 16000 and audio.rms_dbfs(pcm) > -35


async def test_barge_in_stops_a_long_real_reply(
    stack_gateway: Service, speech: Callable[..., bytes]
) -> None:
    async with KioskClient(ws_url(stack_gateway)) as client:
        await client.start("e2e-barge-in")
        await client.text("你能办啥")  # the list of services: a long answer
        await client.wait_for(lambda e: e["type"] == "audio_start", timeout=30)
        await client.stream(speech("연금은 언제 나와요") + TAIL)
        end = await client.wait_for(lambda e: e["type"] == "audio_end")
        transcript = await client.wait_for(lambda e: e["type"] == "transcript")
    assert end["interrupted"] is True
    assert transcript["text"]


async def test_a_real_question_is_asked_again_slower_after_silence(stack_gateway: Service) -> None:
    async with KioskClient(ws_url(stack_gateway)) as client:
        await client.start("e2e-silent")
        await client.text("你好")  # greeting: ends with a question
        again = await client.wait_for(lambda e: e["type"] == "bot" and e["reprompt"], timeout=40)
    first = client.of_type("bot")[0]
    assert first["text"].endswith("？")
    assert again["text"] == first["text"] and again["speech_rate"] < first["speech_rate"]


async def test_the_identity_form_switches_to_the_digit_grammar(
    stack_gateway: Service, stack_env: dict[str, str], speech: Callable[..., bytes]
) -> None:
    sender = "e2e-digits-" + secrets.token_hex(4)
    async with KioskClient(ws_url(stack_gateway)) as client:
        await client.start(sender, speak=False)
        for text in ("我要换身份证", "张桂芳", "是的"):
            if tracker(stack_env, robot(sender))["slots"].get("requested_slot") == "id_number":
                break
            mark = len(client.events)
            await client.text(text)
            await client.wait_for(lambda e: e["type"] == "bot", after=mark, timeout=60)
            await asyncio.sleep(0.5)  # the rest of a reply of several messages
        requested = tracker(stack_env, robot(sender))["slots"].get("requested_slot")
        if requested != "id_number":
            pytest.skip(f"the dialogue did not ask for id_number (requested_slot={requested})")
        mark = len(client.events)
        await client.stream(speech("일 이 삼 사 오 육", rate=110) + TAIL)
        transcript = await client.wait_for(lambda e: e["type"] == "transcript", after=mark)
        await client.wait_for(lambda e: e["type"] == "bot", after=mark)
    assert transcript["grammar"] == "digits" and transcript["message"].isdigit()
    # The tracker store masks what is said while identity slots are asked for.
    stored = said(tracker(stack_env, robot(sender)), "user")[-1]
    assert stored in (transcript["message"], "*" * len(transcript["message"]))


async def test_a_web_chat_cannot_continue_a_robots_identity_check(
    stack_gateway: Service, stack_env: dict[str, str]
) -> None:
    """The real Rasa: a robot's visitor is in the identity form; someone posts to the
    widget API with that visitor's sender id (and with the robot's conversation id).

    Each post lands in a new web conversation (greeted as a stranger, no form),
    and Rasa's tracker of the robot's conversation holds only the visitor's words.
    """
    sender = f"visit-{secrets.token_hex(16)}"
    robot_id = robot(sender)
    async with KioskClient(ws_url(stack_gateway)) as client:
        ready = await client.start(sender, speak=False)
        assert ready["conversation"] == robot_id == f"kiosk:dev-kiosk:{sender}"
        await client.text("我要换身份证")
        await client.wait_for(lambda e: e["type"] == "bot", timeout=60)
        await asyncio.sleep(1.0)  # the rest of the reply
    before = tracker(stack_env, robot_id)
    assert before["active_loop"].get("name"), "the robot's visitor is not in a form"
    assert said(before, "user") == ["我要换身份证"]

    url = f"{stack_gateway.url}/v1/chat"
    for claimed in (sender, robot_id):
        reply = httpx.post(url, json={"sender": claimed, "text": "张桂芳"}, timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.json()["conversation"] == f"web:{claimed}"
        web = tracker(stack_env, f"web:{claimed}")
        assert len(said(web, "user")) == 1  # (the name may be stored masked)
        assert not web["active_loop"].get("name")  # not in the robot's form

    after = tracker(stack_env, robot_id)
    assert said(after, "user") == ["我要换身份证"]
    assert after["active_loop"] == before["active_loop"]
    assert after["slots"] == before["slots"]
    assert len(after["events"]) == len(before["events"])
    # Nothing was stored under the client's own id either.
    assert said(tracker(stack_env, sender), "user") == []


async def test_two_phone_calls_at_once(
    stack_phone: Service, stack_env: dict[str, str], speech: Callable[..., bytes]
) -> None:
    clips = [
        speech("주민등록증을 다시 받고 싶어요", sample_rate=8000),
        speech("연금은 언제 나와요", sample_rate=8000),
    ]

    assert httpx.get(f"{stack_phone.url}/health", timeout=5).json()["phone_line"] is True
    phone_port = int(stack_phone.env["PHONE_PORT"])

    async def call(clip: bytes) -> PhoneCaller:
        loop = asyncio.get_running_loop()
        async with PhoneCaller("127.0.0.1", phone_port) as caller:
            await wait_for_audio(caller, after=loop.time() - 1, timeout=40)  # the greeting
            asked = await caller.play(clip + audio.silence(1.2, 8000))
            await wait_for_audio(caller, after=asked, timeout=40)
        return caller

    callers = await asyncio.gather(*(call(c) for c in clips))
    for caller in callers:
        track = tracker(stack_env, conversations.phone(caller.call_id))
        users = said(track, "user")
        assert (
            users[0] == "/greet" and len(users) == 2 and users[1]
        )  # greeting, then the caller's words
        assert len(said(track, "bot")) >= 2
        greeting, reply = caller.received.bursts(gap_s=1.0)[:2]
        assert audio.duration_s(greeting[1], 8000) > 1.0 and audio.rms_dbfs(reply[1]) > -35


async def test_mandarin_speech_reaches_the_right_intent(
    mandarin_model: Path,
    stack_env: dict[str, str],
    rasa_server: Service,
    speech: Callable[..., bytes],
) -> None:
    """Only with a Mandarin model: Mandarin espeak-ng speech, recognised and understood."""
    service = gateway_service(
        "gateway-mandarin",
        model=mandarin_model,
        rasa_url=stack_env["RASA_URL"],
        token=stack_env["RASA_TOKEN"],
    )
    with service:
        async with KioskClient(ws_url(service)) as client:
            await client.start("e2e-mandarin", speak=False)
            await client.stream(speech(MANDARIN_SET[0], voice="cmn-latn-pinyin") + TAIL)
            transcript = await client.wait_for(lambda e: e["type"] == "transcript")
            await client.wait_for(lambda e: e["type"] == "bot")
    assert cer(MANDARIN_SET[0], transcript["text"]) <= 0.3
    intent = tracker(stack_env, robot("e2e-mandarin"))["latest_message"]["intent"]["name"]
    assert intent == "renew_id_card"
