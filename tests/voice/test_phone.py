"""The real AudioSocket server, called like Asterisk would (voice/phone_client.py).

Recognition and synthesis are real; replies come from the scripted Rasa (see
test_kiosk.py for why). test_e2e_stack.py calls it against real Rasa.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Service
from tests.voice.conftest import PHONE_TIMERS, SCRIPTED_TOKEN, phone_service
from voice import audio, audiosocket
from voice.audiosocket import Kind
from voice.phone_client import PhoneCaller


@pytest.fixture(scope="module")
def phone(korean_model: Path, scripted_rasa: Service) -> Iterator[Service]:
    # A short scripted greeting that asks a question (the real one lists choices).
    service = phone_service(
        "phone-scripted", model=korean_model, rasa_url=scripted_rasa.url, token=SCRIPTED_TOKEN,
        VOICE_PHONE_GREETING_PAYLOAD="/hello", **PHONE_TIMERS,
    )  # fmt: skip
    with service:
        yield service


def sent_to_rasa(rasa: Service, call: uuid.UUID) -> list[str]:
    # The conversation of a call is phone:<its uuid>; Asterisk's bare UUID is none.
    assert httpx.get(f"{rasa.url}/_received/{call}", timeout=5).json() == []
    return httpx.get(f"{rasa.url}/_received/phone:{call}", timeout=5).json()


async def wait_for_audio(
    caller: PhoneCaller, *, after: float, quiet_s: float = 1.0, timeout: float = 20
) -> None:
    """Until audio came after ``after`` and then stopped for ``quiet_s`` (< the 1.5 s reprompt)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        frames = caller.received.frames
        if frames and frames[-1][0] > after and loop.time() - frames[-1][0] > quiet_s:
            return
        await caller.silence(0.2)
    raise AssertionError("no audio came back")


async def call(phone: Service, clip8k: bytes) -> PhoneCaller:
    loop = asyncio.get_running_loop()
    async with PhoneCaller("127.0.0.1", phone.port) as caller:
        await wait_for_audio(caller, after=loop.time() - 1)  # the greeting
        asked = await caller.play(clip8k + audio.silence(1.2, 8000))
        await wait_for_audio(caller, after=asked)  # the reply
    return caller


async def test_two_calls_at_once_are_greeted_and_answered(
    phone: Service, scripted_rasa: Service, speech: Callable[..., bytes]
) -> None:
    clips = [
        speech("주민등록증을 다시 받고 싶어요", sample_rate=8000),
        speech("일 이 삼 사", rate=120, sample_rate=8000),
    ]
    callers = await asyncio.gather(*(call(phone, clip) for clip in clips))
    assert callers[0].call_id != callers[1].call_id
    heard = []
    for caller in callers:
        sent = sent_to_rasa(scripted_rasa, caller.call_id)
        assert sent[0] == "/hello"  # the greeting
        assert len(sent) == 2 and sent[1] and not sent[1].startswith("/")  # the caller's words
        heard.append(sent[1])
        bursts = caller.received.bursts(gap_s=1.0)
        greeting, reply = bursts[:2]
        shape = [(round(audio.duration_s(p, 8000), 2), round(audio.rms_dbfs(p))) for _, p in bursts]
        for _, pcm in (greeting, reply):
            assert audio.duration_s(pcm, 8000) > 1.0 and audio.rms_dbfs(pcm) > -35, shape
        # 8 kHz frames of 20 ms, paced in real time (not dumped at once).
        frames = caller.received.frames
        assert {len(caller.received.pcm[o : o + 320]) for _, o in frames[:-1]} == {320}
        greeting_frames = [t for t, offset in frames if offset < len(greeting[1])]
        spoken = audio.duration_s(greeting[1], 8000)
        assert greeting_frames[-1] - greeting_frames[0] >= spoken - 0.3
    assert heard[0] != heard[1]


async def test_keypad_digits_are_typed_input(phone: Service, scripted_rasa: Service) -> None:
    loop = asyncio.get_running_loop()
    async with PhoneCaller("127.0.0.1", phone.port) as caller:
        await wait_for_audio(caller, after=loop.time() - 1)
        await caller.dtmf("1101*#")
        await wait_for_audio(caller, after=loop.time())
    assert sent_to_rasa(scripted_rasa, caller.call_id)[1] == "1101X"
    # Every message says it came by phone (the actions record the channel).
    metadata = httpx.get(f"{scripted_rasa.url}/_metadata/phone:{caller.call_id}", timeout=5).json()
    assert metadata == [{"channel": "phone"}, {"channel": "phone"}]


async def test_a_silent_caller_is_asked_again_offered_help_and_let_go(
    phone: Service, scripted_rasa: Service
) -> None:
    async with PhoneCaller("127.0.0.1", phone.port) as caller:
        for _ in range(150):  # at most 30 s of a silent line
            if caller.hung_up:
                break
            await caller.silence(0.2)
    assert caller.hung_up
    # greeting, the question again, the offer of a person, goodbye (1.5 s apart;
    # a busy machine may leave short gaps inside one of them)
    assert len(caller.received.bursts(gap_s=1.0)) == 4
    assert sent_to_rasa(scripted_rasa, caller.call_id) == ["/hello"]


async def test_a_connection_without_a_call_uuid_is_refused(phone: Service) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", phone.port)
    writer.write(audiosocket.audio_frame(bytes(320)).encode())
    await writer.drain()
    frame = await asyncio.wait_for(audiosocket.read_frame(reader), 5)
    assert frame is not None and frame.kind == Kind.ERROR
    assert await asyncio.wait_for(audiosocket.read_frame(reader), 5) is None  # closed
    writer.close()
    # The server is still there for the next call.
    async with PhoneCaller("127.0.0.1", phone.port) as caller:
        await wait_for_audio(caller, after=asyncio.get_running_loop().time() - 1)
