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
