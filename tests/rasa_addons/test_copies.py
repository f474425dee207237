"""Quick slot copies are the copies copy.copy made; log-only copies are skipped only
when nothing is logged, and only where they feed a debug log."""

from __future__ import annotations

import ast
import copy
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.slots import Slot, TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.log_utils import configure_structlog

from rasa_addons import copies

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "bot" / "domain"))


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Recorded first, so that all of it is undone after the test.
    monkeypatch.setattr(Slot, "__copy__", copies._copy_slot, raising=False)
    for module in copies.LOG_ONLY_COPIES:
        monkeypatch.setattr(module, "copy", copy)
    logging_config = structlog.get_config()
    copies.install()
    yield
    structlog.configure(**logging_config)


def _general_copy(slot: Slot) -> Slot:
    """What copy.copy does without Slot.__copy__."""
    return copy._reconstruct(slot, None, *slot.__reduce_ex__(4))


def test_every_slot_of_the_domain_is_copied_as_copy_copy_did(domain: Domain, installed) -> None:
    assert len(domain.slots) > 30
    for slot in domain.slots:
        slot.value = slot.initial_value
        quick, general = copy.copy(slot), _general_copy(slot)
        assert type(quick) is type(general) is type(slot)
        assert vars(quick) == vars(general) == vars(slot)
        assert quick is not slot and vars(quick) is not vars(slot)
        quick.value = "changed"
        assert slot.value == slot.initial_value  # the copy is a copy


def test_a_slot_class_that_pickles_its_own_way_takes_the_general_path(installed) -> None:
    class Guarded(TextSlot):
        def __getstate__(self) -> dict:
            return {**vars(self), "copied": True}

    slot = Guarded("g", mappings=[])
    assert not copies._plain(Guarded) and copies._plain(TextSlot)
    assert copy.copy(slot).__dict__["copied"] is True


def test_trackers_play_the_same_with_quick_slot_copies(domain: Domain, installed) -> None:
    events = [
        ActionExecuted("action_listen"),
        UserUttered("查一下养老金", {"name": "query_pension_payment", "confidence": 1.0}),
        SlotSet("person_name", "王秀英"),
        ActionExecuted("action_listen"),
    ]
    tracker = DialogueStateTracker.from_events("s", events, domain.slots)
    states = tracker.past_states(domain)
    assert tracker.get_slot("person_name") == "王秀英"
    assert tracker.init_copy().get_slot("person_name") is None
    assert domain.slots[0].value == domain.slots[0].initial_value  # the domain's are untouched
    Slot.__copy__ = _general_copy  # the general path as a reference (undone by the fixture)
    assert DialogueStateTracker.from_events("s", events, domain.slots).past_states(domain) == states


@pytest.mark.parametrize(("level", "logged"), [(logging.INFO, False), (logging.DEBUG, True)])
def test_log_only_copies_are_made_only_when_debug_is_logged(
    installed, level: int, logged: bool
) -> None:
    configure_structlog(level)
    assert copies.debug_logged() is logged
    value = {"events": [{"event": "slot"}]}
    copied = copies.LOG_ONLY_COPIES[0].copy.deepcopy(value)
    assert copied == value
    assert (copied is not value) is logged
    assert copies.LOG_ONLY_COPIES[0].copy.copy is copy.copy  # the rest is the copy module


def _debug_calls(tree: ast.AST) -> set[int]:
    """ids of the nodes inside the arguments of a ``structlogger.debug(...)`` call."""
    inside = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "debug"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "structlogger"
        ):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                inside |= {id(n) for n in ast.walk(argument)}
    return inside


@pytest.mark.parametrize("module", copies.LOG_ONLY_COPIES, ids=lambda m: m.__name__)
def test_every_deepcopy_in_those_modules_only_feeds_a_debug_log(module) -> None:
    tree = ast.parse(inspect.getsource(module))
    inside = _debug_calls(tree)
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "deepcopy"
        and isinstance(node.value, ast.Name)
        and node.value.id == "copy"
    ]
    assert uses, "no copy.deepcopy left: drop the module from LOG_ONLY_COPIES"
    assert all(id(node) in inside for node in uses), [node.lineno for node in uses]


def test_the_domains_slot_classes_take_the_quick_path(domain: Domain) -> None:
    assert all(copies._plain(type(slot)) for slot in domain.slots)
