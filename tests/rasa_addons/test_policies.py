"""TED skips its network only where a rule has decided, and no prediction changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.test import _create_data_generator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_addons import policies
from scripts import nlu_report
from tests.support.processes import ROOT

DOMAIN = Domain.from_yaml(
    """
intents: [greet]
actions: [action_a, action_b]
"""
)


def _rule(probabilities: list[float], **flags: bool) -> PolicyPrediction:
    return PolicyPrediction(probabilities, "DecisiveRulePolicy", 6, **flags)


def _tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), *events])


def test_a_certain_rule_decides() -> None:
    tracker = _tracker(UserUttered("hi", {"name": "greet"}))
    assert policies.rule_decides(_rule([0.0, 1.0]), tracker)


def test_an_unsure_rule_does_not() -> None:
    tracker = _tracker(UserUttered("hi", {"name": "greet"}))
    assert not policies.rule_decides(_rule([0.0, 0.3]), tracker)


def test_a_form_going_on_decides_at_any_confidence() -> None:
    assert policies.rule_decides(_rule([0.0, 0.3], is_no_user_prediction=True), _tracker())


def test_not_after_a_rejected_action() -> None:
    # The ensemble zeroes the rejected action everywhere: then TED may win.
    tracker = _tracker(UserUttered("hi", {"name": "greet"}), ActionExecutionRejected("action_a"))
    assert not policies.rule_decides(_rule([0.0, 1.0]), tracker)


def test_a_decision_holds_for_that_tracker_state_only() -> None:
    tracker, other = _tracker(), _tracker()
    policies.note_decision(tracker, 6)
    assert policies.decided_above(tracker, 1)
    assert not policies.decided_above(tracker, 6)  # only a higher priority wins every tie
    assert not policies.decided_above(other, 1)
    tracker.update(ActionExecuted("action_a"))
    assert not policies.decided_above(tracker, 1)
    policies.note_decision(other, None)
    assert not policies.decided_above(other, 1)


@pytest.mark.slow
def test_same_predictions_with_and_without_the_shortcut(
    trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every bot action of the training and test stories and rules, predicted both ways."""
    agent = nlu_report.load_agent(trained_model)
    trackers = [
        *_create_data_generator(str(ROOT / "data"), agent).generate_story_trackers(),
        *_create_data_generator(
            str(ROOT / "tests" / "stories"), agent, use_conversation_test_files=True
        ).generate_story_trackers(),
    ]
    predictions = skipped = 0
    for story in trackers:
        for index, event in enumerate(story.events):
            if not isinstance(event, ActionExecuted) or index == 0:
                continue
            events = list(story.events)[:index]

            def predict(events=events, sender=story.sender_id) -> PolicyPrediction:
                # A fresh tracker each time: predicting clears a follow-up action.
                state = DialogueStateTracker.from_events(sender, events, agent.domain.slots)
                return agent.processor._predict_next_with_tracker(state)

            runs = policies.RuleAwareTEDPolicy.network_runs
            fast = predict()
            skipped += policies.RuleAwareTEDPolicy.network_runs == runs
            with monkeypatch.context() as always:
                always.setattr(policies, "decided_above", lambda *_: False)
                slow = predict()
            assert fast == slow, (story.sender_id, index, fast, slow)
            predictions += 1
    assert predictions > 250
    # The rules run before TED in Rasa's graph, so most predictions skip the network.
    assert skipped > predictions * 0.9, (skipped, predictions)
