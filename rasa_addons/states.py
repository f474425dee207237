"""Replay a conversation once per prediction, not once per policy.

To predict the next action, each policy asks for the conversation's states
(``Domain.states_for_tracker_history``): Rasa replays the conversation's events on
a new tracker and notes the state before each action. MemoizationPolicy asks,
RulePolicy asks twice right after the user spoke (once with the text, once with
the intent), TED asks when it runs: the same replay three or four times for one
prediction, each starting with a new tracker (copying every slot of the domain).
Under load that was about a seventh of the Rasa server's time.

The replay does not depend on what the policies ask for: only the way its states
are then pruned does (``ignore_rule_only_turns``, ``rule_only_data``). So the
replay's result (the state before each action, and what pruning needs to know
about it) is kept for the latest conversation asked about, and each call prunes a
fresh copy of it exactly as Rasa does. The kept replay is used only for the very
same tracker holding the very same event objects, so any change to the
conversation (a new event, masked events after saving) replays it again.
Each call gets new state dicts, shared among themselves just as Rasa's are, so
a policy changing its states cannot change another's.

Installed only in the serving Rasa process (``install``): training keeps Rasa's
own method.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from rasa.shared.core import constants
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.trackers import DialogueStateTracker

_original = Domain.states_for_tracker_history


@dataclass(frozen=True)
class _Step:
    """The conversation before one action, as pruning needs it."""

    state: State  # Domain.get_active_state (all slots)
    hide_rule_turn: bool
    previous_action: dict[str, str] | None  # tracker.latest_action, the same object
    is_loop_or_followup: bool  # pruning does not change hiding on these


@dataclass(frozen=True)
class _Replay:
    domain: Domain
    tracker: weakref.ref
    events: list[Any]  # the very event objects replayed (kept, so no id is reused)
    steps: list[_Step]

    def fits(self, domain: Domain, tracker: DialogueStateTracker) -> bool:
        if self.domain is not domain or self.tracker() is not tracker:
            return False
        events = tracker.events
        return len(events) == len(self.events) and all(
            a is b for a, b in zip(events, self.events, strict=True)
        )


_kept = threading.local()


def _replay(domain: Domain, tracker: DialogueStateTracker) -> list[_Step]:
    kept: _Replay | None = getattr(_kept, "replay", None)
    if kept is not None and kept.fits(domain, tracker):
        return kept.steps
    steps = [
        _Step(
            state=domain.get_active_state(prior),
            hide_rule_turn=hide_rule_turn,
            previous_action=domain._get_prev_action_sub_state(prior),
            is_loop_or_followup=bool(prior.followup_action)
            or prior.latest_action_name == prior.active_loop_name,
        )
        for prior, hide_rule_turn in tracker.generate_all_prior_trackers()
    ]
    _kept.replay = _Replay(domain, weakref.ref(tracker), list(tracker.events), steps)
    return steps


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """``Domain.states_for_tracker_history`` from the kept replay (same result)."""
    if omit_unset_slots:
        return _original(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    copies: dict[int, dict[str, Any]] = {}

    def fresh(sub_state: dict[str, Any]) -> dict[str, Any]:
        # One copy per object per call: what Rasa's states share, ours share too.
        if id(sub_state) not in copies:
            copies[id(sub_state)] = dict(sub_state)
        return copies[id(sub_state)]

    # Rasa's loop (Domain.states_for_tracker_history), on the kept replay.
    states: list[State] = []
    last_ml_action_sub_state = None
    turn_was_hidden = False
    for step in _replay(self, tracker):
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = step.previous_action
            if not step.is_loop_or_followup:
                turn_was_hidden = step.hide_rule_turn
            if turn_was_hidden:
                continue
        state = {kind: fresh(sub_state) for kind, sub_state in step.state.items()}
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if states:
                self._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[constants.PREVIOUS_ACTION] = fresh(last_ml_action_sub_state)
        states.append(self._clean_state(state))
    return states


def install() -> None:
    """Policies share one replay per prediction from now on (idempotent)."""
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
