"""pyttsx3 + espeak-ng synthesis in worker processes: voice, rates, sentence streaming."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from voice import audio
from voice.tts import Synthesizer, VoiceNotFound, find_voice

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)

REPLY = "您好！请问您要办理什么业务？您可以说：补办身份证，或者社保转移。"


@pytest.fixture(scope="module")
def event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest_asyncio.fixture(scope="module")
async def synthesizer() -> AsyncIterator[Synthesizer]:
    synth = Synthesizer(voice="cmn-latn-pinyin", workers=1, cache_size=0)
    await synth.start()
    yield synth
    await synth.close()


def test_the_voice_is_chosen_by_id() -> None:
    import pyttsx3

    engine = pyttsx3.init("espeak")
    assert find_voice(engine, "cmn-latn-pinyin") == "sit/cmn-latn-pinyin"
    with pytest.raises(VoiceNotFound, match="not installed"):
        find_voice(engine, "klingon")


async def test_speech_comes_out_at_the_requested_sample_rate(synthesizer: Synthesizer) -> None:
    assert synthesizer.voice_id == "sit/cmn-latn-pinyin"
    kiosk = await synthesizer.synthesize(
        "您好，请问您要办理什么业务？", rate=145, sample_rate=16000
    )
    phone = await synthesizer.synthesize("您好，请问您要办理什么业务？", rate=145, sample_rate=8000)
    seconds = audio.duration_s(kiosk, 16000)
    assert 1.5 < seconds < 6
    assert abs(audio.duration_s(phone, 8000) - seconds) < 0.01
    assert audio.rms_dbfs(kiosk) > -35 and audio.rms_dbfs(phone) > -35  # speech, not silence


async def test_it_is_the_pinyin_voice_that_speaks(synthesizer: Synthesizer, tmp_path: Path) -> None:
    """pyttsx3 makes what espeak-ng's cmn-latn-pinyin voice makes (not the English-ish cmn)."""
    text = synthesizer.speakable("银行卡重新办理。")
    ours = audio.duration_s(await synthesizer.synthesize(text, rate=150, sample_rate=16000), 16000)
    lengths = {}
    for voice in ("cmn-latn-pinyin", "cmn"):
        out = tmp_path / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)
        pcm, rate = audio.read_wav(out.read_bytes())
        lengths[voice] = audio.duration_s(pcm, rate)
    assert abs(ours - lengths["cmn-latn-pinyin"]) < 0.02
    assert abs(ours - lengths["cmn"]) > 0.1


async def test_a_slower_rate_makes_longer_speech(synthesizer: Synthesizer) -> None:
    normal = await synthesizer.synthesize("请说出您的身份证号码。", rate=160, sample_rate=16000)
    slow = await synthesizer.synthesize("请说出您的身份证号码。", rate=100, sample_rate=16000)
    assert audio.duration_s(slow, 16000) > 1.3 * audio.duration_s(normal, 16000)


async def test_long_replies_stream_sentence_by_sentence(synthesizer: Synthesizer) -> None:
    started = time.monotonic()
    parts, first_at = [], None
    async for pcm in synthesizer.stream(REPLY, rate=145, sample_rate=16000):
        first_at = first_at or time.monotonic() - started
        parts.append(pcm)
    assert len(parts) == 3  # 您好！| 请问…业务？| 您可以说…
    assert all(audio.duration_s(p, 16000) > 0.3 for p in parts)
    assert first_at is not None and first_at < 1.0
    # Leaving early (barge-in) cancels the rest without breaking the pool.
    async for _ in synthesizer.stream(REPLY, rate=145, sample_rate=16000):
        break
    assert await synthesizer.synthesize("好的。", rate=145, sample_rate=16000)
