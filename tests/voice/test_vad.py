"""End-of-turn detection on real espeak-ng speech, and the caller profile built from it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from voice import audio
from voice.adapt import CallerProfile, syllables
from voice.vad import Endpointer, SpeechAudio, SpeechEnd, SpeechStart


def run(endpointer: Endpointer, pcm: bytes, chunk: int = 640) -> list:
    events = []
    for part in audio.chunks(pcm, chunk):
        events.extend(endpointer.process(part))
    return events


def test_an_utterance_starts_with_pre_roll_and_ends_after_the_trailing_silence(
    speech: Callable[..., bytes],
) -> None:
    words = speech("안녕하세요 주민등록증을 다시 받고 싶어요")
    pcm = audio.silence(0.5, 16000) + words + audio.silence(1.5, 16000)
    events = run(Endpointer(trailing_silence_ms=700), pcm)
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechStart) == 1 and kinds.count(SpeechEnd) == 1
    start = next(e for e in events if isinstance(e, SpeechStart))
    end = next(e for e in events if isinstance(e, SpeechEnd))
    # espeak's audio starts ~0.3 s into `words`: speech is found near 0.8 s.
    assert 600 <= start.at_ms <= 1100
    assert start.pre_roll and len(start.pre_roll) >= 2 * 16 * 200
    spoken_ms = audio.duration_s(words, 16000) * 1000
    assert end.duration_ms <= spoken_ms
    assert end.voiced_ms > 1000 and not end.forced
    # The end is reported once 700 ms of silence followed the last voiced frame.
    end_index = events.index(end)
    heard = sum(len(e.pcm) for e in events[:end_index] if isinstance(e, SpeechAudio))
    assert heard > 0


def test_a_longer_trailing_silence_keeps_a_pausing_speaker_in_one_turn(
    speech: Callable[..., bytes],
) -> None:
    first, second = speech("주민등록증을"), speech("다시 받고 싶어요")
    pcm = first + audio.silence(0.9, 16000) + second + audio.silence(2.5, 16000)
    short = [e for e in run(Endpointer(trailing_silence_ms=700), pcm) if isinstance(e, SpeechEnd)]
    long = [e for e in run(Endpointer(trailing_silence_ms=1400), pcm) if isinstance(e, SpeechEnd)]
    assert len(short) == 2
    assert len(long) == 1
    assert any(p >= 900 for p in long[0].pauses_ms)


def test_noise_and_silence_are_not_speech() -> None:
    rng = np.random.default_rng(1)
    hiss = (rng.normal(0, 30, 16000 * 2)).astype("<i2").tobytes()  # very quiet line noise
    events = run(Endpointer(), audio.silence(1, 16000) + hiss)
    assert events == []


def test_flush_ends_an_utterance_at_once(speech: Callable[..., bytes]) -> None:
    endpointer = Endpointer(trailing_silence_ms=700)
    events = run(endpointer, speech("네 맞아요"))
    assert any(isinstance(e, SpeechStart) for e in events)
    end = endpointer.flush()
    assert isinstance(end, SpeechEnd) and end.forced
    assert endpointer.flush() is None


def test_the_profile_lengthens_silence_and_slows_replies_for_slow_speakers() -> None:
    assert syllables("我要 补办身份证") == 7 and syllables("주민등록증") == 5
    profile = CallerProfile(base_silence_ms=700, max_silence_ms=1600, adapt_after_turns=2)
    profile.record(text="我要补办身份证", voiced_ms=3500, pauses_ms=[600, 900])
    assert not profile.is_slow  # one turn is not enough to judge
    profile.record(text="一一零一零五", voiced_ms=3000, pauses_ms=[800])
    assert profile.is_slow  # 2 syllables/s, long pauses
    assert 900 <= profile.trailing_silence_ms() <= 1600
    assert profile.rate_offset(20) == -20

    brisk = CallerProfile(base_silence_ms=700, max_silence_ms=1600)
    brisk.record(text="我要补办身份证", voiced_ms=1400, pauses_ms=[])
    brisk.record(text="好的谢谢你", voiced_ms=1000, pauses_ms=[200])
    assert not brisk.is_slow
    assert brisk.trailing_silence_ms() == 700 and brisk.rate_offset(20) == 0


def test_the_profile_measures_real_slow_speech(speech: Callable[..., bytes]) -> None:
    """Slow espeak-ng speech with pauses makes a slow profile; brisk speech does not."""

    def measure(rate: int, gap_s: float) -> CallerProfile:
        profile = CallerProfile(base_silence_ms=700, max_silence_ms=1600)
        for phrase in ("주민등록증을 다시", "받고 싶어요 빨리"):
            words = phrase.split()
            pcm = audio.silence(gap_s, 16000).join(
                speech(w, rate=rate) for w in words
            ) + audio.silence(2, 16000)
            end = next(
                e
                for e in run(Endpointer(trailing_silence_ms=1500), pcm)
                if isinstance(e, SpeechEnd)
            )
            profile.record(text=phrase, voiced_ms=end.voiced_ms, pauses_ms=end.pauses_ms)
        return profile

    assert measure(rate=80, gap_s=0.7).is_slow
    assert not measure(rate=200, gap_s=0.1).is_slow
