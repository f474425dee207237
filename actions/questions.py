"""Questions that need the conversation to be worded: the read-back and "which item?".

Rasa asks a form's question with ``action_ask_<slot>`` when it exists. These
two are shared by every form that writes: the words are the domain responses
``utter_ask_confirm_<form>`` and ``utter_ask_field_to_change``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import Turn, number_buttons, numbered
from actions.forms import FORMS


def _form(tracker: Tracker):
    name = (tracker.active_loop or {}).get("name")
    return FORMS[name]() if name in FORMS else None


class ActionAskConfirmation(Action):
    """Read back the key data before a write, the ID number in spoken groups."""

    def name(self) -> str:
        return "action_ask_confirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = _form(tracker)
        if form is None:
            dispatcher.utter_message(response="utter_ask_what_service")
            return []
        turn = Turn(dispatcher, tracker, domain)
        dispatcher.utter_message(response=f"utter_ask_confirm_{form.form}", **form.readback(turn))
        return []


class ActionAskFieldToChange(Action):
    """After "不对": which item to change, as numbered choices."""

    def name(self) -> str:
        return "action_ask_field_to_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = _form(tracker)
        labels = list(form.changeable.values()) if form else []
        dispatcher.utter_message(
            response="utter_ask_field_to_change",
            options=numbered(labels),
            buttons=number_buttons(labels),
        )
        return []


class AskCity(Action, ABC):
    """Ask a city; when only the province was said, ask which city in it."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The city slot; subclasses set it as a class attribute."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        province = tracker.get_slot(self.slot.replace("_city", "_province"))
        if province:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}_in", province=province)
        else:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}_open")
        return []
