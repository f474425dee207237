"""Shared behaviour of every form, in one small base class.

A form (``ServiceForm`` subclass) lists its questions in order and, per slot, how
to read an answer (``read_<slot>``) and check it (``check_<slot>``). The base
class does what a patient clerk does on every turn:

* one question per turn: after the answers are checked it names the next empty
  slot in ``requested_slot`` and Rasa asks it (``utter_ask_<slot>`` or
  ``action_ask_<slot>``);
* corrections at any point: a value for another question of the form ("不对，
  是成都") replaces the earlier answer and keeps all the others;
* the read-back before a write (``confirmation``): "yes" confirms; "no" asks
  which item to change (numbered), clears only that item and asks it again;
* anything that is not an answer (repeat, slow down, cancel, a person, another
  service, noise) returns no slot, so the form is rejected and the rules of
  data/dialogue handle it, then the form asks its question again.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.dialogue import (
    CONTROL_INTENTS,
    REQUESTED_SLOT,
    SERVICE_INTENTS,
    Turn,
    latest_entities,
    parse_choice,
    plain,
    yes_or_no,
)
from actions.places import first_place

CONFIRMATION = "confirmation"
FIELD_TO_CHANGE = "field_to_change"
CORRECTING = "correcting"

# Slot -> slots (an entity's slots, a slot's dependents).
SlotMap = dict[str, tuple[str, ...]]
FORMS: dict[str, type[ServiceForm]] = {}
# Intents that always steer, even if their words could also answer the question.
STEERING_INTENTS = frozenset({"repeat", "slow_down", "cancel", "request_human"})
# Actions that run between the sentence that starts a service and its form.
STARTERS = frozenset({"action_start_service", "identity_form", "action_verify_identity"})


class ServiceForm(FormValidationAction):
    """Validation action ``validate_<form>`` with the shared turn logic."""

    @property
    @abstractmethod
    def form(self) -> str:
        """The form's name; subclasses set it as a class attribute."""

    # The questions, in the order they are asked.
    questions: ClassVar[tuple[str, ...]]
    # Intents whose message may already answer questions when the form starts.
    trigger_intents: ClassVar[frozenset[str]] = frozenset()
    # NLU entity -> the slots of this form it can fill.
    entity_slots: ClassVar[SlotMap] = {}
    # Questions the first sentence may answer in plain words ("身份证丢了" -> the reason).
    start_readers: ClassVar[tuple[str, ...]] = ()
    # Items offered when the read-back is wrong: slot -> plain name.
    changeable: ClassVar[dict[str, str]] = {}
    # Slots to clear when a slot changes (e.g. the outlets of another city).
    dependents: ClassVar[SlotMap] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("form"), str):
            FORMS[cls.__dict__["form"]] = cls

    def name(self) -> str:
        return f"validate_{self.form}"

    # --- what the form asks ------------------------------------------------------

    def required(self, turn: Turn) -> list[str]:
        """The questions this conversation needs (subclasses drop some)."""
        return list(self.questions)

    def next_slot(self, turn: Turn) -> str | None:
        required = self.required(turn)
        if turn.get(CORRECTING) and CONFIRMATION in required:
            required.insert(required.index(CONFIRMATION), FIELD_TO_CHANGE)
        return next((slot for slot in required if turn.get(slot) is None), None)

    def readback(self, turn: Turn) -> dict[str, Any]:
        """Variables of ``utter_ask_confirm_<form>`` (forms with a confirmation)."""
        return {}

    # --- one turn ------------------------------------------------------------------

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        turn = Turn(dispatcher, tracker, domain)
        if not self.reads_latest_message(tracker):
            # Coming back after an interruption (or starting without answers):
            # only say which question comes next.
            events = await self.on_start(turn) if self.is_starting(tracker) else []
            return [*events, SlotSet(REQUESTED_SLOT, self.next_slot(turn))]
        starting = self.is_starting(tracker)
        events = await self.on_start(turn) if starting else []
        answers = self.extract(turn)
        if not answers and not starting:
            return []  # not an answer: Rasa rejects the form and the rules take over
        events += await self.apply(answers, turn)
        events.append(SlotSet(REQUESTED_SLOT, self.next_slot(turn)))
        return events

    async def on_start(self, turn: Turn) -> list[EventType]:
        """Hook when the form starts (e.g. reset the read-back state)."""
        return self._set(turn, {CONFIRMATION: None, CORRECTING: None, FIELD_TO_CHANGE: None})

    def is_starting(self, tracker: Tracker) -> bool:
        return (tracker.active_loop or {}).get("name") != self.form

    def reads_latest_message(self, tracker: Tracker) -> bool:
        """Whether the latest user message is an answer to this form.

        While the form runs: only when it runs right after the user spoke (not
        when it comes back after another action). When it starts: only if the
        message is one that starts it ("我身份证丢了，要补办" already says why)
        and only the service's own steps ran since.
        """
        if self.is_starting(tracker):
            intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
            return intent in self.trigger_intents and self._no_action_since_user(tracker, STARTERS)
        return self._no_action_since_user(tracker, frozenset())

    def _no_action_since_user(self, tracker: Tracker, allowed: frozenset[str]) -> bool:
        for event in reversed(tracker.events):
            if event.get("event") == "user":
                return True
            if event.get("event") == "action" and event.get("name") not in {self.form, *allowed}:
                return False
        return False

    async def prefill(self, turn: Turn) -> list[EventType]:
        """Answers already in the sentence that started the service, taken quietly."""
        quiet = Turn(CollectingDispatcher(), turn.tracker, turn.domain, dict(turn.slots))
        events = await self.apply(self.extract(quiet), quiet)
        turn.slots.update(quiet.slots)
        return [e for e in events if e.get("value") is not None]

    # --- reading answers ---------------------------------------------------------------

    def extract(self, turn: Turn) -> dict[str, Any]:
        """Candidate values in the latest message: slot -> raw value."""
        intent = turn.intent
        text = turn.text
        requested = None if self.is_starting(turn.tracker) else turn.requested
        only_choice = requested is not None and parse_choice(text, 99) is not None
        if intent in STEERING_INTENTS and not only_choice:
            return {}
        if intent in CONTROL_INTENTS and not only_choice:
            # Small talk may be a misheard answer ("都可以" taken for "what can you do"):
            # the question's own reader decides.
            value = self.read(requested, turn) if requested else None
            return {requested: value} if value is not None else {}
        if intent in SERVICE_INTENTS - self.trigger_intents and not only_choice:
            return {}  # another service: the rules switch to it
        answers: dict[str, Any] = {}
        if requested:
            value = self.read(requested, turn)
            if value is not None:
                answers[requested] = value
        if only_choice:
            return answers  # "三" answers the question asked, nothing else
        if requested is None:
            for slot in self.start_readers:
                value = self.read(slot, turn)
                if value is not None:
                    answers.setdefault(slot, value)
        for entity in latest_entities(turn.tracker):
            slot = self.slot_for_entity(str(entity.get("entity")), turn, answers)
            if slot and slot not in answers and entity.get("value") not in (None, ""):
                # The slot's own reader turns what was said into the slot's value.
                value = self.read(slot, turn)
                answers[slot] = entity["value"] if value is None else value
        return answers

    def read(self, slot: str, turn: Turn) -> Any:
        """The answer to ``slot`` in the latest message, or None."""
        reader: Callable[[Turn], Any] | None = getattr(self, f"read_{slot}", None)
        if reader is not None:
            return reader(turn)
        return None

    def slot_for_entity(self, entity: str, turn: Turn, answers: dict[str, Any]) -> str | None:
        """Which slot an entity fills: the question asked, else the latest one it answered."""
        candidates = [s for s in self.entity_slots.get(entity, ()) if s in self.required(turn)]
        if not candidates:
            return None
        requested = turn.requested
        if requested in candidates:
            return None if requested in answers else requested
        hinted = self.hinted_slot(entity, turn, candidates)
        if hinted:
            return hinted
        filled = [s for s in candidates if turn.get(s) is not None]
        if filled:
            return self._latest_set(turn.tracker, filled)
        return candidates[0]

    def hinted_slot(self, entity: str, turn: Turn, candidates: list[str]) -> str | None:
        """A slot the words point to ("转出地是..."); forms with two places override it."""
        return None

    @staticmethod
    def _latest_set(tracker: Tracker, slots: list[str]) -> str:
        for event in reversed(tracker.events):
            if event.get("event") == "slot" and event.get("name") in slots:
                return event["name"]
        return slots[-1]

    def read_confirmation(self, turn: Turn) -> bool | None:
        return yes_or_no(turn.intent, turn.text)

    def read_field_to_change(self, turn: Turn) -> str | None:
        fields = list(self.changeable)
        index = parse_choice(turn.text, len(fields))
        if index is not None:
            return fields[index]
        words = plain(turn.text)
        for slot, label in self.changeable.items():
            if label in words or any(word in words for word in self.field_words(slot)):
                return slot
        return None

    def field_words(self, slot: str) -> tuple[str, ...]:
        """Other words people use for an item of the read-back."""
        return ()

    # --- checking answers ------------------------------------------------------------

    async def apply(self, answers: dict[str, Any], turn: Turn) -> list[EventType]:
        """Check every answer; corrections first, the question asked last."""
        events: list[EventType] = []
        requested = turn.requested
        corrected = False
        for slot in sorted(answers, key=lambda s: s == requested):
            value = answers[slot]
            if slot == CONFIRMATION:
                events += self._confirm(bool(value), corrected, turn)
                continue
            if slot == FIELD_TO_CHANGE:
                events += self._change(str(value), turn)
                continue
            previous = turn.get(slot)
            checker = getattr(self, f"check_{slot}", None)
            result = await checker(value, turn) if checker else {slot: value}
            if (
                slot != requested
                and previous is not None
                and result.get(slot) not in (None, previous)
            ):
                corrected = True
                turn.say("utter_corrected", value=self.spoken_value(slot, result[slot]))
            for changed in [s for s, v in result.items() if v != turn.get(s)]:
                for dependent in self.dependents.get(changed, ()):
                    result.setdefault(dependent, None)
            events += self._set(turn, result)
        if corrected and turn.get(CONFIRMATION) is not None and CONFIRMATION not in answers:
            events += self._set(turn, {CONFIRMATION: None})
        return events

    def spoken_value(self, slot: str, value: Any) -> str:
        """How a corrected value is said back ("好的，改成成都市。")."""
        return str(value)

    def _confirm(self, yes: bool, corrected: bool, turn: Turn) -> list[EventType]:
        if corrected:
            # "不对，是成都": the correction is applied; read everything back again.
            return self._set(turn, {CONFIRMATION: None})
        if yes:
            return self._set(turn, {CONFIRMATION: True, CORRECTING: None})
        return self._set(turn, {CONFIRMATION: None, CORRECTING: True, FIELD_TO_CHANGE: None})

    def _change(self, slot: str, turn: Turn) -> list[EventType]:
        cleared = {slot: None, **dict.fromkeys(self.dependents.get(slot, ()))}
        return self._set(turn, {**cleared, FIELD_TO_CHANGE: None, CORRECTING: None})

    @staticmethod
    def _set(turn: Turn, values: dict[str, Any]) -> list[EventType]:
        turn.slots.update(values)
        return [SlotSet(slot, value) for slot, value in values.items()]

    def reject(self, slot: str, turn: Turn, response: str, **variables: Any) -> dict[str, Any]:
        """Say why an answer cannot be taken; the form asks the question again."""
        turn.say(response, **variables)
        return {slot: None}


class CityForm(ServiceForm):
    """A form that asks for a ``city``; a province alone asks which city in it."""

    def read_city(self, turn: Turn) -> str | None:
        place = first_place(turn)
        return place.city or place.province if place else None

    async def check_city(self, value: Any, turn: Turn) -> dict[str, Any]:
        place = first_place(turn)
        if place is None or place.city is None:
            if place is not None and place.province:
                return self.reject("city", turn, "utter_which_city_in", province=place.province)
            return self.reject("city", turn, "utter_city_unclear")
        return {"city": place.city}
