"""Streaming Vosk recognition and answer grammars, with real models and real speech."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.voice_corpus import MANDARIN_SET, cer
from voice import audio
from voice.asr import DIGITS, YES_NO, AsrModel, AsrUnavailable, Grammar, Recognition


def decode(
    model: AsrModel, pcm: bytes, grammar: Grammar | None = None, **kw: float
) -> tuple[Recognition, list[str]]:
    utterance = model.utterance(16000, grammar, **kw)
    partials = [p for chunk in audio.chunks(pcm, 3200) if (p := utterance.accept(chunk))]
    return utterance.finish(), partials


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AsrUnavailable, match="make model"):
        AsrModel(tmp_path / "vosk-model-small-cn-0.22")


def test_the_korean_model_gets_the_korean_answer_words(asr_model: AsrModel) -> None:
    assert asr_model.language == "ko"
    assert set(asr_model.grammars) == {DIGITS, YES_NO}
    assert asr_model.grammars[DIGITS].phrases["일"] == "1"
    assert asr_model.grammars[YES_NO].phrases["네"] == "是"


def test_streaming_recognition_sends_partials_then_a_transcript(
    asr_model: AsrModel, speech: Callable[..., bytes]
) -> None:
    result, partials = decode(asr_model, speech("안녕하세요 주민등록증을 다시 받고 싶어요"))
    assert partials, "no partial results while streaming"
    assert result.text and result.message == result.text and result.grammar is None
    assert 0 < result.confidence <= 1
    # Partials grow towards the transcript.
    assert len(partials[-1]) >= len(partials[0])


def test_the_digit_grammar_hears_digits_where_the_open_model_hears_words(
    asr_model: AsrModel, speech: Callable[..., bytes]
) -> None:
    pcm = speech("일 이 삼 사 오 육", rate=110)
    restricted, _ = decode(asr_model, pcm, asr_model.grammars[DIGITS])
    open_, _ = decode(asr_model, pcm)
    assert restricted.grammar == DIGITS and not restricted.fell_back
    assert restricted.message.isdigit() and len(restricted.message) >= 4
    assert set(restricted.words) <= set(asr_model.grammars[DIGITS].phrases)
    # The open model does not give a clean digit string for the same audio.
    assert not set(open_.words) <= set(asr_model.grammars[DIGITS].phrases)


@pytest.mark.parametrize(("said", "meaning"), [("네", "是"), ("아니요", "不是")])
def test_the_yes_no_grammar(
    asr_model: AsrModel, speech: Callable[..., bytes], said: str, meaning: str
) -> None:
    result, _ = decode(asr_model, speech(said, rate=120), asr_model.grammars[YES_NO])
    assert result.message == meaning and result.grammar == YES_NO


def test_an_unsure_grammar_answer_falls_back_to_the_open_model(
    asr_model: AsrModel, speech: Callable[..., bytes]
) -> None:
    pcm = speech("주민등록증을 다시 받고 싶어요")
    result, _ = decode(asr_model, pcm, asr_model.grammars[DIGITS], min_confidence=1.01)
    assert result.fell_back and result.grammar == DIGITS
    # The open model's words (not digits) go to the assistant.
    assert result.message == result.text
    assert not set(result.words) <= set(asr_model.grammars[DIGITS].phrases)


def test_grammar_words_map_to_answers() -> None:
    digits = Grammar(DIGITS, {"幺": "1", "两": "2", "洞": "0", "叉": "X", "一": "1"})
    assert digits.interpret(["幺", "两", "[unk]", "洞", "叉"]) == "120X"
    assert digits.interpret(["[unk]"]) == ""
    yes_no = Grammar(YES_NO, {"是 的": "是", "不 是": "不是", "对": "是"})
    assert yes_no.interpret(["不", "是"]) == "不是"
    assert yes_no.interpret(["嗯", "对"]) == "是"
    assert yes_no.interpret([]) == ""
    assert '"幺"' in digits.vosk_json()  # UTF-8, not \\u escapes Vosk cannot read


def test_one_model_serves_parallel_sessions(
    asr_model: AsrModel, speech: Callable[..., bytes]
) -> None:
    clips = [speech("연금은 언제 나와요"), speech("주민등록증을 다시 받고 싶어요")]
    alone = [decode(asr_model, c)[0].text for c in clips]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda c: decode(asr_model, c)[0].text, clips))
    # Kaldi's decoding is not bit-for-bit repeatable (CPU load changes it), so
    # compare transcripts by distance: each parallel session must still hear its
    # own clip, never the other one, i.e. no state leaks between sessions.
    for mine, (one, other) in enumerate(zip(alone, together, strict=True)):
        assert other, "a parallel session heard nothing"
        theirs = alone[1 - mine]
        assert cer(one, other) < cer(theirs, other), (one, other, theirs)


def test_mandarin_transcripts(mandarin_model: Path, speech: Callable[..., bytes]) -> None:
    """Only with a Mandarin model: espeak-ng Mandarin is recognised with a bounded CER."""
    model = AsrModel(mandarin_model)
    assert model.language == "zh"
    errors = []
    for text in MANDARIN_SET[:6]:
        result, _ = decode(model, speech(text, voice="cmn-latn-pinyin"))
        errors.append(cer(text, result.text))
    assert sum(errors) / len(errors) <= 0.5, errors
    result, _ = decode(
        model, speech("幺幺零 幺零五", voice="cmn-latn-pinyin", rate=110), model.grammars[DIGITS]
    )
    assert result.message == "110105"
