"""TED skips its network only where a rule has decided, the rules that fit a state are
remembered, and no prediction changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
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


def test_equal_states_freeze_equal_and_lists_stay_apart_from_tuples() -> None:
    state = {"user": {"intent": "inform", "entities": ("city",)}, "slots": {"city": (1.0,)}}
    reordered = {"slots": {"city": (1.0,)}, "user": {"entities": ("city",), "intent": "inform"}}
    assert policies.frozen([state]) == policies.frozen([reordered])
    assert hash(policies.frozen([state])) == hash(policies.frozen([reordered]))
    assert policies.frozen([{"a": [1]}]) != policies.frozen([{"a": (1,)}])
    assert policies.frozen([{"a": "x"}]) != policies.frozen([{"a": "y"}])
    with pytest.raises(TypeError):
        policies.frozen([{"a": {1, 2}}])


def _rule_policy(monkeypatch: pytest.MonkeyPatch) -> tuple[policies.DecisiveRulePolicy, list]:
    """A DecisiveRulePolicy whose (Rasa) rule search is counted."""
    calls: list = []

    def search(self, lookup, states):
        calls.append(states)
        return {key for key in lookup if key.startswith(states[-1]["user"]["intent"])}

    monkeypatch.setattr(RulePolicy, "_get_possible_keys", search)
    policy = policies.DecisiveRulePolicy.__new__(policies.DecisiveRulePolicy)
    policy._rule_keys_kept = policies.OrderedDict()
    policy._in_training = False
    return policy, calls


def test_the_rules_that_fit_a_state_are_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, calls = _rule_policy(monkeypatch)
    lookup = {"greet-1": "utter_greet", "goodbye-1": "utter_goodbye"}
    states = [{"user": {"intent": "greet"}}]
    first = policy._get_possible_keys(lookup, states)
    first.add("changed by the caller")  # a caller's set is its own
    again = policy._get_possible_keys(lookup, [{"user": {"intent": "greet"}}])
    assert again == {"greet-1"} and len(calls) == 1
    assert policy._get_possible_keys(lookup, [{"user": {"intent": "goodbye"}}]) == {"goodbye-1"}
    other_lookup = {"greet-2": "utter_greet"}  # the unhappy-path rules: searched on their own
    assert policy._get_possible_keys(other_lookup, states) == {"greet-2"}
    assert len(calls) == 3


def test_nothing_is_kept_while_training(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, calls = _rule_policy(monkeypatch)
    lookup = {"greet-1": "utter_greet"}
    states = [{"user": {"intent": "greet"}}]
    policy._get_possible_keys(lookup, states)  # kept from before

    def train(self, *_args, **_kwargs):
        # Rasa's training drops contradicting rules from the lookup between predictions.
        assert self._get_possible_keys(lookup, states) == {"greet-1"}
        lookup.pop("greet-1")
        assert self._get_possible_keys(lookup, states) == set()
        return "trained"

    monkeypatch.setattr(RulePolicy, "train", train)
    assert policy.train([], DOMAIN) == "trained"
    assert len(calls) == 3 and not policy._rule_keys_kept
    policy._get_possible_keys(lookup, states)
    assert len(calls) == 4 and len(policy._rule_keys_kept) == 1  # kept again after training


def test_unhashable_states_are_searched_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, calls = _rule_policy(monkeypatch)
    states = [{"user": {"intent": "greet", "odd": {1}}}]
    for _ in range(2):
        assert policy._get_possible_keys({"greet-1": "a"}, states) == {"greet-1"}
    assert len(calls) == 2 and not policy._rule_keys_kept


def test_only_the_latest_states_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, calls = _rule_policy(monkeypatch)
    monkeypatch.setattr(policies, "RULE_KEYS_KEPT", 2)
    lookup = {"a-1": "x"}
    for intent in ("a", "b", "a", "c", "b"):
        policy._get_possible_keys(lookup, [{"user": {"intent": intent}}])
    # a, b searched; a found (now the newest); c pushes out b; b searched again.
    assert [states[-1]["user"]["intent"] for states in calls] == ["a", "b", "c", "b"]
    assert len(policy._rule_keys_kept) == 2


@pytest.mark.slow
def test_same_predictions_with_and_without_the_shortcuts(
    trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every bot action of the training and test stories and rules, predicted both ways:
    with TED's shortcut and the remembered rules, and with neither."""
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
                always.setattr(
                    policies.DecisiveRulePolicy,
                    "_get_possible_keys",
                    RulePolicy._get_possible_keys,
                )
                slow = predict()
            assert fast == slow, (story.sender_id, index, fast, slow)
            predictions += 1
    assert predictions > 250
    # The rules run before TED in Rasa's graph, so most predictions skip the network.
    assert skipped > predictions * 0.9, (skipped, predictions)
    rules = [
        node for node in agent.processor.graph_runner._instantiated_nodes.values()
        if isinstance(node._component, policies.DecisiveRulePolicy)
    ]  # fmt: skip
    assert len(rules) == 1 and len(rules[0]._component._rule_keys_kept) > 10
