"""How replies and tracker state shape the next turn (no servers needed)."""

from __future__ import annotations

import pytest

from voice.pipeline import Pipeline, Reply
from voice.rasa_client import BotMessage, TrackerState, bot_messages
from voice.settings import VoiceSettings


@pytest.fixture()
def pipeline() -> Pipeline:
    # Only the conversation bookkeeping is used: no model, TTS or Rasa client.
    return Pipeline(VoiceSettings(), asr=None, asr_error="none", tts=None, rasa=None, executor=None)  # type: ignore[arg-type]


def test_the_domains_speech_rate_factor_sets_the_pace(pipeline: Pipeline) -> None:
    conv = pipeline.conversation("c1")
    assert pipeline.reply_rate(conv) == 145
    pipeline._apply_speech_rate(conv, TrackerState(slots={"speech_rate": 0.8}))
    assert conv.speech_rate == 116
    # action_slow_down lowered the factor; the intent must not lower it twice.
    pipeline._apply_speech_rate(
        conv, TrackerState(latest_intent="slow_down", slots={"speech_rate": 0.65})
    )
    assert conv.speech_rate == 94
    pipeline._apply_speech_rate(conv, TrackerState(slots={"speech_rate": 0.1}))
    assert conv.speech_rate == 90  # never below VOICE_MIN_SPEECH_RATE
    pipeline._apply_speech_rate(conv, TrackerState(slots={"speech_rate": 160}))
    assert conv.speech_rate == 160  # words per minute


def test_without_the_slot_each_slow_down_is_one_step(pipeline: Pipeline) -> None:
    conv = pipeline.conversation("c2")
    pipeline._apply_speech_rate(conv, TrackerState(latest_intent="slow_down"))
    pipeline._apply_speech_rate(conv, TrackerState(latest_intent="greet"))
    assert conv.speech_rate == 125
    pipeline._apply_speech_rate(conv, TrackerState(latest_intent="slow_down"))
    assert conv.speech_rate == 105
    other = pipeline.conversation("c3")
    pipeline._apply_speech_rate(other, TrackerState(slots={"slow_down": True}))
    assert other.speech_rate == 125


def test_slow_down_counts_even_when_the_slot_stays_at_normal(pipeline: Pipeline) -> None:
    """A dialogue that only answers "好的，我说慢一点" leaves speech_rate at 1.0."""
    conv = pipeline.conversation("c4")
    pipeline._apply_speech_rate(
        conv, TrackerState(latest_intent="slow_down", slots={"speech_rate": 1.0})
    )
    assert conv.speech_rate == 125
    pipeline._apply_speech_rate(
        conv, TrackerState(latest_intent="greet", slots={"speech_rate": 1.0})
    )
    assert conv.speech_rate == 125


def test_a_reply_expects_an_answer_when_it_asks(pipeline: Pipeline) -> None:
    assert Reply([BotMessage("请问您要办什么事？")], 145).expects_answer
    assert Reply([BotMessage("请选择", [{"title": "1", "payload": "/a"}])], 145).expects_answer
    assert Reply([BotMessage("好的。")], 145, requested_slot="id_number").expects_answer
    assert not Reply([BotMessage("好的，已经办好了。")], 145).expects_answer
    assert not Reply([], 145).expects_answer


def test_rest_channel_replies_become_messages() -> None:
    payload = [
        {
            "recipient_id": "a",
            "text": "您好",
            "buttons": [{"title": "人工", "payload": "/request_human"}, {"payload": "x"}],
        },
        {"recipient_id": "a", "image": "https://example.org/map.png"},
        "garbage",
    ]
    assert bot_messages(payload) == [
        BotMessage("您好", [{"title": "人工", "payload": "/request_human"}])
    ]
    assert bot_messages({"error": "x"}) == []
