"""The kept replay gives exactly Rasa's states, fresh for each caller."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from rasa_addons import states

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = states._original


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "bot" / "domain"))


@pytest.fixture(scope="module")
def trackers(domain: Domain) -> list[DialogueStateTracker]:
    """The tracker before each action of every rule, story and conversation test."""
    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(ROOT / "bot" / "domain"),
        training_data_paths=[str(ROOT / "data"), str(ROOT / "tests" / "stories")],
    )
    conversations = [
        *TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0).generate(),
        *TrainingDataGenerator(
            importer.get_conversation_tests(), domain, augmentation_factor=0
        ).generate_story_trackers(),
    ]
    prefixes = []
    for story in conversations:
        events = list(story.events)
        for index, event in enumerate(events):
            if isinstance(event, ActionExecuted) and index:
                prefix = DialogueStateTracker(
                    "s", domain.slots, is_rule_tracker=story.is_rule_tracker
                )
                for earlier in events[:index]:
                    prefix.update(earlier)
                prefixes.append(prefix)
    return prefixes


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(Domain, "states_for_tracker_history", ORIGINAL)
    states.install()
    yield
    states._kept.__dict__.clear()


def _asks(domain: Domain) -> list[dict]:
    """What the policies ask for: Rule (everything), Memoization and TED (pruned)."""
    form = next(iter(domain.forms))
    rule_only = {"rule_only_slots": [s.name for s in domain.slots[:5]], "rule_only_loops": [form]}
    return [
        {},
        {"ignore_rule_only_turns": True, "rule_only_data": {}},
        {"ignore_rule_only_turns": True, "rule_only_data": rule_only},
        {"omit_unset_slots": True},
    ]


def test_every_story_and_rule_prefix_gives_rasas_states(
    domain: Domain, trackers: list[DialogueStateTracker], installed
) -> None:
    assert len(trackers) > 300
    assert any(t.is_rule_tracker for t in trackers)
    for tracker in trackers:
        for ask in _asks(domain):
            # Each ask twice: once replayed, once from the kept replay.
            expected = ORIGINAL(domain, tracker, **ask)
            for _ in range(2):
                ours = tracker.past_states(domain, **ask)
                assert ours == expected
                assert _sharing(ours) == _sharing(expected)


def _sharing(states_: list[dict]) -> list[list[int]]:
    """Which sub-state dicts are one object, by position of first appearance."""
    seen: dict[int, int] = {}
    return [[seen.setdefault(id(sub), len(seen)) for sub in state.values()] for state in states_]


def test_callers_get_fresh_states_shared_as_rasas_are(
    domain: Domain, trackers: list[DialogueStateTracker], installed
) -> None:
    tracker = max(trackers, key=lambda t: len(t.events))
    ask = _asks(domain)[2]
    first = tracker.past_states(domain, **ask)
    expected = copy.deepcopy(first)
    for state in first:  # what RulePolicy and the featurizers do to their states, and worse
        for sub_state in state.values():
            sub_state.clear()
        state.clear()
    second = tracker.past_states(domain, **ask)
    assert second == expected
    assert not {id(s) for s in second} & {id(s) for s in first}


def test_a_changed_conversation_is_replayed_again(domain: Domain, installed) -> None:
    tracker = DialogueStateTracker.from_events(
        "s",
        [
            ActionExecuted("action_listen"),
            UserUttered("查养老金", {"name": "query_pension_payment", "confidence": 1.0}),
            ActionExecuted("action_listen"),
        ],
        domain.slots,
    )
    before = tracker.past_states(domain)
    # Same length, another event object: as when the tracker store masks saved events.
    tracker.events[1] = UserUttered("你好", {"name": "greet", "confidence": 1.0})
    after = tracker.past_states(domain)
    assert after == ORIGINAL(domain, tracker) != before
    tracker.update(UserUttered("再见", {"name": "goodbye", "confidence": 1.0}))
    assert tracker.past_states(domain) == ORIGINAL(domain, tracker)
    other = DialogueStateTracker.from_events("t", list(tracker.events)[:2], domain.slots)
    assert other.past_states(domain) == ORIGINAL(domain, other)
