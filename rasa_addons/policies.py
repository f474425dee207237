"""Dialogue policies that skip TED's network when a rule has already decided.

Rasa runs every policy for every action it predicts and then keeps the most
confident prediction, the higher priority winning a tie. Rules drive this
bot's forms and services, so most of the time RulePolicy is certain (1.0) and,
with its higher priority, wins whatever TED says: TED's network ran for
nothing. bench/ found TED to be the largest single share of the Rasa
process's time under load (about a fifth).

``DecisiveRulePolicy`` notes, for the tracker it has just seen, that it is
certain; ``RuleAwareTEDPolicy`` then returns an empty prediction for that same
tracker state instead of running its network. The ensemble's choice is the
same as before: see ``rule_decides`` for the cases where TED could still win,
in which TED runs as always. If Rasa ever ran TED before the rules, nothing
would be noted yet and TED would simply run.

``DecisiveRulePolicy`` also remembers which rules fit a conversation state.
RulePolicy tries every rule against the last turns at every prediction (a
tenth of the Rasa server's time under load); which rules fit depends on those
turns only, and the same turns recur across callers (the same form step, the
same service). The answer is kept per state, for the last ``RULE_KEYS_KEPT``
distinct states. Not while training: training drops contradicting rules from the
lookup as it goes.

Use them in bot/config.yml in place of RulePolicy and TEDPolicy, with the same
settings.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
from rasa.shared.core.generator import State, TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT


@dataclass(frozen=True)
class _Decision:
    tracker: weakref.ref  # the very tracker object, never a later one at the same address
    events: int  # its number of events: the state the rule decided on
    priority: int


_ACTION_EVENTS = (ActionExecuted, ActionExecutionRejected)
# Policies of one graph run are called one after another on one thread.
_noted = threading.local()


def rule_decides(prediction: PolicyPrediction, tracker: DialogueStateTracker) -> bool:
    """Whether no other policy's prediction can beat this rule prediction.

    The ensemble keeps the highest (confidence, priority), confidences at most
    1.0, and a "no user" prediction (a form going on) beats all others. One case
    still lets another policy win a certain rule: the rule's action was just
    rejected, and the ensemble then zeroes it in every prediction. (A prediction
    from the user's text also outranks one from the intent; RuleAwareTEDPolicy
    checks that it cannot make one.)
    """
    if prediction.is_no_user_prediction:
        return True
    if prediction.max_confidence < 1.0:
        return False
    actions = (e for e in reversed(tracker.events) if isinstance(e, _ACTION_EVENTS))
    last_action = next(actions, None)
    return not isinstance(last_action, ActionExecutionRejected)


def note_decision(tracker: DialogueStateTracker, priority: int | None) -> None:
    """Remember (or forget) that a rule decided this tracker's next action."""
    _noted.decision = (
        None if priority is None else _Decision(weakref.ref(tracker), len(tracker.events), priority)
    )


def decided_above(tracker: DialogueStateTracker, priority: int) -> bool:
    """Whether a policy of a higher priority than ``priority`` decided this very state."""
    decision: _Decision | None = getattr(_noted, "decision", None)
    return (
        decision is not None
        and decision.tracker() is tracker
        and decision.events == len(tracker.events)
        and decision.priority > priority
    )


RULE_KEYS_KEPT = 4096


def frozen(value: Any) -> Hashable:
    """A hashable value equal for equal conversation states (TypeError if it cannot be)."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((key, frozen(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        # Tagged: a list never equals a tuple in the rules' comparisons.
        return (type(value).__name__, tuple(frozen(item) for item in value))
    hash(value)
    return value


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class DecisiveRulePolicy(RulePolicy):
    """RulePolicy that notes when it is certain, for ``RuleAwareTEDPolicy``, and
    remembers which rules fit a conversation state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (id of the rule lookup, frozen states) -> (that lookup, the rules that fit)
        self._rule_keys_kept: OrderedDict[Hashable, tuple[dict[str, str], frozenset[str]]]
        self._rule_keys_kept = OrderedDict()
        self._in_training = False

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        # Training removes rules from the very lookup it predicts with: nothing is kept.
        # (Rasa checks this signature and return type when it builds the training graph.)
        self._in_training = True
        try:
            return super().train(training_trackers, domain, **kwargs)
        finally:
            self._in_training = False
            self._rule_keys_kept.clear()

    def _get_possible_keys(self, lookup: dict[str, str], states: list[State]) -> set[str]:
        if self._in_training:
            return super()._get_possible_keys(lookup, states)
        try:
            key = (id(lookup), frozen(states))
        except TypeError:
            return super()._get_possible_keys(lookup, states)
        kept = self._rule_keys_kept
        found = kept.get(key)
        if found is not None and found[0] is lookup:
            kept.move_to_end(key)
            return set(found[1])
        keys = super()._get_possible_keys(lookup, states)
        kept[key] = (lookup, frozenset(keys))
        if len(kept) > RULE_KEYS_KEPT:
            kept.popitem(last=False)
        return keys

    def predict_action_probabilities(
        self, tracker: DialogueStateTracker, domain: Domain, **kwargs: Any
    ) -> PolicyPrediction:
        prediction = super().predict_action_probabilities(tracker, domain, **kwargs)
        note_decision(tracker, self.priority if rule_decides(prediction, tracker) else None)
        return prediction


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True
)
class RuleAwareTEDPolicy(TEDPolicy):
    """TEDPolicy that does not run its network when a rule has already decided."""

    network_runs = 0  # counted for tests and benchmarks

    def _predicts_from_text(self) -> bool:
        # Trained on end-to-end stories, TED can predict from the user's text, and
        # such a prediction outranks the rule's (made from the intent).
        return bool(self.only_e2e or TEXT in (self.fake_features or {}))

    def predict_action_probabilities(
        self, tracker: DialogueStateTracker, domain: Domain, **kwargs: Any
    ) -> PolicyPrediction:
        if not self._predicts_from_text() and decided_above(tracker, self.priority):
            return self._prediction(self._default_predictions(domain))
        type(self).network_runs += 1
        return super().predict_action_probabilities(tracker, domain, **kwargs)
