"""The one-time schema check validates action replies exactly like Rasa's own."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from rasa_addons import speedups

GOOD = {
    "events": [{"event": "slot", "name": "city", "value": "成都市"}],
    "responses": [{"text": "好的", "buttons": []}],
}
BAD = [{"events": "not a list"}, {"responses": [1, 2]}, {"events": [{"no": "event key"}]}]


@pytest.fixture
def action() -> RemoteAction:
    return RemoteAction("action_x", EndpointConfig("http://127.0.0.1:1/webhook"))


def _rasa_says(reply: dict) -> bool:
    try:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError:
        return False
    return True


def test_same_verdicts_as_rasa(action: RemoteAction, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "_validate_action_result",
                        RemoteAction._validate_action_result)  # fmt: skip
    speedups.install()
    assert action._validate_action_result(GOOD) is True
    for reply in BAD:
        expected = _rasa_says(reply)
        if expected:
            assert action._validate_action_result(reply) is True
        else:
            with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action"):
                action._validate_action_result(reply)
    assert not all(_rasa_says(reply) for reply in BAD)  # the cases really differ


def _every_kind_of_event() -> list[dict]:
    from datetime import datetime

    from rasa.shared.core import events as ev

    samples = [
        ev.UserUttered("我想查养老金", {"name": "ask_pension", "confidence": 0.9},
                       [{"entity": "city", "value": "成都", "start": 0, "end": 2}]),
        ev.ActionExecuted("action_listen"), ev.SlotSet("city", "成都市"),
        ev.EntitiesAdded([{"entity": "city", "value": "成都"}]),
        ev.DefinePrevUserUtteredFeaturization(False), ev.ReminderCancelled(name="r"),
        ev.ReminderScheduled("greet", datetime(2026, 12, 6, 9, 0), name="r"),
        ev.ActionExecutionRejected("action_x"), ev.LoopInterrupted(True),
        ev.ActiveLoop("pension_form"), ev.ActiveLoop(None), ev.AllSlotsReset(),
        ev.ConversationResumed(), ev.ConversationPaused(), ev.FollowupAction("action_x"),
        ev.StoryExported(), ev.Restarted(), ev.UserUtteranceReverted(), ev.ActionReverted(),
        ev.BotUttered("好的", {"buttons": [{"title": "1", "payload": "/affirm"}]}),
        ev.SessionStarted(), ev.AgentUttered("您好"),
    ]  # fmt: skip
    return [event.as_dict() for event in samples]


def _broken(event: dict) -> list[dict]:
    """Variants of an event that break one field's type, or its kind."""
    variants = [{**event, "event": "no_such_event"}, {**event, "timestamp": "yesterday"}]
    for key in event:
        if key not in ("event", "timestamp"):
            variants.append({**event, key: 12345})
            variants.append({**event, key: [["nested"]]})
    return variants


def test_the_quick_check_never_accepts_what_rasa_refuses() -> None:
    full, quick = speedups._reply_validator(), speedups._quick_check()
    assert quick is not None  # Rasa 3.6's schema has the shape the quick check relies on
    kinds = _every_kind_of_event()
    assert {event["event"] for event in kinds} >= {"user", "bot", "slot", "action", "active_loop"}
    for event in kinds:
        reply = {"events": [event], "responses": [{"text": "好的"}]}
        assert full.is_valid(reply) and quick(reply), event
        for variant in _broken(event):
            reply = {"events": [event, variant]}
            assert quick(reply) == full.is_valid(reply), variant
    for reply in [*BAD, [], "text", {"events": None}, {"responses": {"a": 1}}]:
        assert not quick(reply)
