"""The real gateway process over its real WebSocket and HTTP API.

Recognition (Korean Vosk model), endpointing and synthesis are real; the
replies come from tests/voice/scripted_rasa.py so that the session behaviour
that depends on a particular reply (a slow one, a digit question, a long one)
can be checked. test_e2e_stack.py repeats the main paths against real Rasa.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.processes import Service
from tests.voice.conftest import FAST_TIMERS, SCRIPTED_TOKEN, gateway_service, ws_url
from voice import audio, conversations
from voice.devices import DEV_KIOSK_DEVICE
from voice.kiosk_client import KioskClient

QUESTION = "안녕하세요 주민등록증을 다시 받고 싶어요"
TAIL = audio.silence(1.5, 16000)


async def wait_for_errors(client: KioskClient, count: int) -> None:
    for _ in range(200):
        if len(client.of_type("error")) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} errors, got {client.of_type('error')}")


def received_by_rasa(rasa: Service, sender: str) -> list[str]:
    """What the assistant got from the development robot's visitor ``sender``."""
    conversation_id = conversations.kiosk(DEV_KIOSK_DEVICE, sender)
    return httpx.get(f"{rasa.url}/_received/{conversation_id}", timeout=5).json()


def web_sender() -> str:
    return "web-" + secrets.token_hex(16)  # as web/js/store.js makes them


async def test_client_mistakes_get_errors_and_the_connection_stays_open(gateway: Service) -> None:
    async with KioskClient(ws_url(gateway)) as client:
        await client.send_raw(audio.silence(0.1, 16000))
        await client.send_raw("this is not json")
        await client.send({"type": "dance"})
        await client.text("你好")
        await client.send({"type": "start", "sender": "kiosk-errors", "sample_rate": 44100})
        await wait_for_errors(client, 5)
        codes = [e["code"] for e in client.of_type("error")]
        assert codes == [
            "not_started",
            "bad_json",
            "unknown_type",
            "not_started",
            "bad_sample_rate",
        ]
        assert all(e["message"] for e in client.of_type("error"))

        ready = await client.start("kiosk-errors")
        assert ready == {
            "type": "ready",
            "sender": "kiosk-errors",
            "asr": True,
            "speech_rate": 145,
            "conversation": "kiosk:dev-kiosk:kiosk-errors",
        }
        await client.send_raw(bytes(70_000))  # larger than VOICE_MAX_FRAME_BYTES
        await client.send_raw(b"\x00\x01\x02")  # not whole 16-bit samples
        await wait_for_errors(client, 7)
        assert [e["code"] for e in client.of_type("error")][-2:] == ["frame_too_large", "bad_audio"]

        # Still open and working.
        await client.text("/statement")
        bot = await client.wait_for(lambda e: e["type"] == "bot")
        assert bot["text"] == "好的。"


async def test_two_kiosks_ask_at_once_and_each_gets_a_spoken_reply(
    gateway: Service, scripted_rasa: Service, speech: Callable[..., bytes]
) -> None:
    clips = {"kiosk-a": speech(QUESTION), "kiosk-b": speech("일 이 삼 사", rate=120)}

    async def visit(sender: str) -> KioskClient:
        async with KioskClient(ws_url(gateway)) as client:
            await client.start(sender)
            await client.stream(clips[sender] + TAIL)
            await client.wait_for(lambda e: e["type"] == "transcript")
            await client.wait_playback()
            return client

    clients = await asyncio.gather(*(visit(sender) for sender in clips))
    transcripts = [c.of_type("transcript")[0] for c in clients]
    assert transcripts[0]["text"] != transcripts[1]["text"]
    for sender, client, transcript in zip(clips, clients, transcripts, strict=True):
        partials = client.of_type("partial")
        assert partials and partials[-1]["text"]
        assert transcript["text"] and transcript["grammar"] is None
        assert 0 < transcript["confidence"] <= 1
        # What the recogniser heard is what the assistant got, and the reply is spoken.
        assert received_by_rasa(scripted_rasa, sender) == [transcript["message"]]
        bot = client.of_type("bot")[0]
        assert bot == {
            "type": "bot",
            "text": "没听清，请您再说一遍？",
            "buttons": [],
            "speech_rate": 145,
            "reprompt": False,
        }
        playback = next(p for p in client.playbacks if p.kind == "reply")
        assert playback.sample_rate == 16000 and not playback.interrupted
        assert 1.0 < audio.duration_s(bytes(playback.pcm), 16000) < 8
        assert audio.rms_dbfs(bytes(playback.pcm)) > -35
        # transcript, then the reply's text, then its audio (on a busy machine a
        # filler may come first).
        kinds = [(e["type"], e.get("kind")) for e in client.events]
        transcript_at, bot_at = kinds.index(("transcript", None)), kinds.index(("bot", None))
        assert transcript_at < bot_at < kinds.index(("audio_start", "reply"))


async def test_digit_and_yes_no_questions_switch_the_grammar(
    gateway: Service, scripted_rasa: Service, speech: Callable[..., bytes]
) -> None:
    async with KioskClient(ws_url(gateway)) as client:
        await client.start("kiosk-grammar", speak=False)
        await client.text("/ask_id")  # the assistant now waits for id_number
        await client.wait_for(lambda e: e["type"] == "bot")
        await client.stream(speech("일 이 삼 사 오 육", rate=110) + TAIL)
        digits = await client.wait_for(lambda e: e["type"] == "transcript")

        mark = len(client.events)
        await client.text("/ask_confirm")  # and now for a yes/no answer
        await client.wait_for(lambda e: e["type"] == "bot", after=mark)
        await client.stream(speech("아니요", rate=120) + TAIL)
        no = await client.wait_for(lambda e: e["type"] == "transcript", after=mark)

        mark = len(client.events)
        await client.text("/statement")  # no slot: open recognition again
        await client.wait_for(lambda e: e["type"] == "bot", after=mark)
        await client.stream(speech("일 이 삼 사", rate=110) + TAIL)
        open_ = await client.wait_for(lambda e: e["type"] == "transcript", after=mark)

    assert (
        digits["grammar"] == "digits"
        and digits["message"].isdigit()
        and len(digits["message"]) >= 4
    )
    assert no["grammar"] == "yes_no" and no["message"] == "不是"
    assert open_["grammar"] is None
    sent = received_by_rasa(scripted_rasa, "kiosk-grammar")
    assert sent[1] == digits["message"] and sent[3] == "不是"


async def test_speaking_over_the_robot_stops_it(
    gateway: Service, speech: Callable[..., bytes]
) -> None:
    async with KioskClient(ws_url(gateway)) as client:
        await client.start("kiosk-barge-in")
        await client.text("/long")  # a reply of about half a minute
        await client.wait_for(lambda e: e["type"] == "audio_start")
        await asyncio.sleep(1.0)
        spoke_at = time.monotonic()
        await client.stream(speech(QUESTION) + TAIL)
        end = await client.wait_for(lambda e: e["type"] == "audio_end")
        stopped_at = client.event_times[client.events.index(end)]
        transcript = await client.wait_for(lambda e: e["type"] == "transcript")

    assert end["interrupted"] is True
    # espeak's speech starts 0.3 s into the clip; barge-in needs 300 ms of voice.
    assert stopped_at - spoke_at < 1.5
    heard = audio.duration_s(bytes(client.playbacks[0].pcm), 16000)
    assert heard < 4  # of a reply that is much longer
    assert transcript["text"]  # and the user's words were recognised


async def test_silence_after_a_question_reprompts_then_offers_help_then_ends(
    gateway: Service,
) -> None:
    async with KioskClient(ws_url(gateway)) as client:
        await client.start("kiosk-silent")
        await client.text("/ask_confirm")
        end = await client.wait_for(lambda e: e["type"] == "end", timeout=60)

    bots = client.of_type("bot")
    assert [b["reprompt"] for b in bots] == [False, True, True, True]
    question, again, offer, goodbye = bots
    assert again["text"] == question["text"] and again["speech_rate"] < question["speech_rate"]
    assert offer["buttons"] == [{"title": "转人工服务", "payload": "/request_human"}]
    assert goodbye["text"] == "再见。" and end["reason"] == "no_input"
    assert [p.kind for p in client.playbacks] == ["reply", "reprompt", "reprompt", "reprompt"]


async def test_a_slow_reply_is_covered_by_a_filler(gateway: Service) -> None:
    async with KioskClient(ws_url(gateway)) as client:
        await client.start("kiosk-filler")
        sent = time.monotonic()
        await client.text("/slow_reply")  # the assistant takes two seconds
        filler = await client.wait_playback(kind="filler")
        bot = await client.wait_for(lambda e: e["type"] == "bot")
        reply = await client.wait_playback(kind="reply")

    assert 0.6 <= filler.started_at - sent <= 1.5  # VOICE_FILLER_DELAY_MS=750
    assert audio.duration_s(bytes(filler.pcm), 16000) > 0.8
    assert bot["text"].startswith("让您久等了")
    assert reply.started_at > filler.started_at and audio.rms_dbfs(bytes(reply.pcm)) > -35


async def test_slow_down_lowers_the_rate_for_the_rest_of_the_conversation(
    gateway: Service, scripted_rasa: Service
) -> None:
    sender = web_sender()
    chat_url = f"{gateway.url}/v1/chat"
    async with KioskClient(ws_url(gateway)) as client:
        await client.start(sender, speak=False)
        await client.text("说慢一点")
        slow = await client.wait_for(lambda e: e["type"] == "bot")
        await client.text("/statement")
        later = await client.wait_for(lambda e: e["type"] == "bot" and e["text"] == "好的。")
    assert slow["speech_rate"] == later["speech_rate"] == 125
    # The widget's microphone and its typed chat share the web conversation's pace.
    async with KioskClient(ws_url(gateway), device=None, channel="web") as client:
        await client.start(sender, speak=False)
        await client.text("说慢一点")
        await client.wait_for(lambda e: e["type"] == "bot")
    chat = httpx.post(chat_url, json={"sender": sender, "text": "/statement"}, timeout=10).json()
    assert chat["speech_rate"] == 125 and chat["conversation"] == f"web:{sender}"
    # The robot's conversation of the same client sender is another one.
    assert received_by_rasa(scripted_rasa, sender) == ["说慢一点", "/statement"]
    web = httpx.get(f"{scripted_rasa.url}/_received/web:{sender}", timeout=5).json()
    assert web == ["说慢一点", "/statement"]


async def test_a_slow_speaker_gets_more_time_and_slower_replies(
    gateway: Service, speech: Callable[..., bytes]
) -> None:
    def slowly(*words: str, gap_s: float = 0.6) -> bytes:
        lead = len(audio.silence(0.3, 16000))  # speech() starts with 0.3 s of silence
        clips = [speech(w, rate=80) for w in words]
        return clips[0] + b"".join(audio.silence(gap_s, 16000) + c[lead:] for c in clips[1:])

    async with KioskClient(ws_url(gateway)) as client:
        await client.start("kiosk-elder", speak=False)
        rates = []
        for phrase in (("주민등록증을", "다시"), ("연금은", "언제")):
            mark = len(client.events)
            await client.stream(slowly(*phrase) + TAIL)
            rates.append(
                (await client.wait_for(lambda e: e["type"] == "bot", after=mark))["speech_rate"]
            )
        # Now a pause of 0.9 s (the default end of turn is 700 ms) stays inside the turn.
        mark = len(client.events)
        await client.stream(slowly("상담원과", "통화하고", gap_s=0.9) + audio.silence(2.5, 16000))
        await client.wait_for(lambda e: e["type"] == "bot", after=mark)
        transcripts = [e for e in client.events[mark:] if e["type"] == "transcript"]
    assert rates == [145, 125]  # slower replies once the caller is known to be slow
    assert len(transcripts) == 1


async def test_a_full_gateway_says_busy_and_keeps_the_connection(gateway: Service) -> None:
    clients: list[KioskClient] = []
    try:
        for i in range(8):  # VOICE_MAX_SESSIONS=4 for this gateway
            client = KioskClient(ws_url(gateway))
            clients.append(await client.__aenter__())
            reply = await client.start(f"kiosk-full-{i}", speak=False)
            if reply["type"] == "error":
                break
        assert reply["code"] == "busy" and len(clients) <= 5
        await clients.pop(0).__aexit__(None, None, None)  # one visitor leaves
        for _ in range(50):
            reply = await clients[-1].start("kiosk-full-retry", speak=False)
            if reply["type"] == "ready":
                break
            await asyncio.sleep(0.1)
        assert reply["type"] == "ready"
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)


# --- without a Vosk model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_without_asr(scripted_rasa: Service) -> Iterator[Service]:
    service = gateway_service(
        "gateway-no-asr",
        model=None,
        rasa_url=scripted_rasa.url,
        token=SCRIPTED_TOKEN,
        **FAST_TIMERS,
    )
    with service:
        yield service


async def test_without_a_model_text_works_and_audio_gets_a_clear_error(
    gateway_without_asr: Service,
) -> None:
    health = httpx.get(f"{gateway_without_asr.url}/health", timeout=5).json()
    assert health["asr"] == "unavailable" and "make model" in health["asr_error"]
    async with KioskClient(ws_url(gateway_without_asr)) as client:
        ready = await client.start("kiosk-no-asr", speak=False)
        assert ready["asr"] is False
        await client.send_raw(audio.silence(0.1, 16000))
        error = await client.wait_for(lambda e: e["type"] == "error")
        assert error["code"] == "asr_unavailable"
        await client.send({"type": "text", "text": "/ask_confirm"})
        bot = await client.wait_for(lambda e: e["type"] == "bot")
        assert bot["text"] == "您要补办身份证，对吗？"


# --- the widget's HTTP API -----------------------------------------------------------


def test_chat_returns_messages_rate_and_requested_slot(gateway: Service) -> None:
    sender = web_sender()
    reply = httpx.post(
        f"{gateway.url}/v1/chat", json={"sender": sender, "text": "/ask_id"}, timeout=10
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "messages": [{"text": "请说出您的身份证号码。", "buttons": []}],
        "speech_rate": 145,
        "requested_slot": "id_number",
        "conversation": f"web:{sender}",
    }
    greet = httpx.post(
        f"{gateway.url}/v1/chat", json={"sender": sender, "text": "/greet"}, timeout=10
    ).json()
    assert greet["messages"][0]["buttons"][1] == {
        "title": "2. 人工服务",
        "payload": "/request_human",
    }
    assert greet["requested_slot"] is None


GOOD_SENDER = "web-5d1c0e9a7b3f42c68e0a9d1b7c3e5f24"


@pytest.mark.parametrize(
    "body",
    [
        {"sender": GOOD_SENDER},
        {"sender": "web 1" + GOOD_SENDER, "text": "你好"},
        {"sender": GOOD_SENDER, "text": " "},
        {"sender": GOOD_SENDER, "text": "长" * 501},
        # Guessable senders: someone else could continue the conversation.
        {"sender": "web-1", "text": "你好"},
        {"sender": "user-0000000000000001", "text": "你好"},
        {"sender": "a" * 64, "text": "你好"},
    ],
)
def test_bad_chat_requests_are_problems(gateway: Service, body: dict) -> None:
    reply = httpx.post(f"{gateway.url}/v1/chat", json=body, timeout=10)
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["status"] == 422 and reply.json()["errors"]


def test_a_guessable_sender_is_refused_with_a_reason_and_reaches_no_one(
    gateway: Service, scripted_rasa: Service
) -> None:
    for path, body in (
        ("/v1/chat", {"sender": "web-1", "text": "/statement"}),
        ("/v1/tts", {"sender": "web-1", "text": "好"}),
    ):
        reply = httpx.post(gateway.url + path, json=body, timeout=10)
        assert reply.status_code == 422, reply.text
        (error,) = reply.json()["errors"]
        assert error["location"] == "body.sender"
        assert "at least 16 random characters" in error["message"]
    for conversation_id in ("web-1", "web:web-1"):
        received = httpx.get(f"{scripted_rasa.url}/_received/{conversation_id}", timeout=5)
        assert received.json() == []


def test_tts_returns_16k_wav_speech(gateway: Service) -> None:
    reply = httpx.post(
        f"{gateway.url}/v1/tts", json={"text": "您的社保卡已经挂失。", "rate": 120}, timeout=10
    )
    assert reply.status_code == 200 and reply.headers["content-type"] == "audio/wav"
    pcm, rate = audio.read_wav(reply.content)
    assert rate == 16000 and 1.0 < audio.duration_s(pcm, rate) < 6 and audio.rms_dbfs(pcm) > -35
    bad = httpx.post(f"{gateway.url}/v1/tts", json={"text": "🙂🙂", "rate": 120}, timeout=10)
    assert bad.status_code == 422 and bad.json()["title"] == "Nothing to say"
    bad = httpx.post(f"{gateway.url}/v1/tts", json={"text": "好", "rate": 5}, timeout=10)
    assert bad.status_code == 422


def test_health(gateway: Service) -> None:
    health = httpx.get(f"{gateway.url}/health", timeout=5).json()
    assert health["status"] == "ok" and health["asr"] == "ready" and health["asr_language"] == "ko"
    assert health["tts_voice"] == "sit/cmn-latn-pinyin"
