"""Conversation actions every service shares: repeat, slow down, cancel, not understood,
and the answers to a yes/no question asked outside a form."""

from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SlotSet, UserUttered
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import (
    REQUESTED_SLOT,
    is_question,
    last_bot_turn,
    latest_intent,
    parse_choice,
    replay_kwargs,
    yes_or_no,
)
from actions.flows import GATE, OFFER
from actions.forms import CONFIRMATION, CORRECTING, FIELD_TO_CHANGE
from actions.settings import get_settings

SPEECH_RATE = "speech_rate"
# 1.0 is the normal pace; each "说慢点" goes one step down, never below the last.
SPEECH_RATES = (1.0, 0.8, 0.65)
FALLBACK_ACTION = "action_fallback"
_PAYLOAD = re.compile(r"^/([A-Za-z_]+)(\{.*\})?$")


def _replay(dispatcher: CollectingDispatcher, tracker: Tracker, *, keep_question: bool) -> int:
    """Send the bot's last turn again, exactly; the form's question only when asked to."""
    messages = last_bot_turn(tracker)
    if not keep_question:
        while messages and is_question(messages[-1]):
            messages = messages[:-1]
    for message in messages:
        dispatcher.utter_message(**replay_kwargs(message))
    return len(messages)


def _form_waiting(tracker: Tracker) -> bool:
    """A form is active and will ask its question again right after this action."""
    return bool((tracker.active_loop or {}).get("name")) and bool(tracker.get_slot(REQUESTED_SLOT))


class ActionRepeat(Action):
    """ "再说一遍": the last bot message, word for word."""

    def name(self) -> str:
        return "action_repeat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        in_form = _form_waiting(tracker)
        # In a form the form asks its question again itself, so it is not said twice.
        sent = _replay(dispatcher, tracker, keep_question=not in_form)
        if not sent and not in_form:
            dispatcher.utter_message(response="utter_ask_what_service")
        return []


class ActionSlowDown(Action):
    """ "说慢点": lower ``speech_rate`` (the voice layer reads it) and say so."""

    def name(self) -> str:
        return "action_slow_down"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        current = tracker.get_slot(SPEECH_RATE)
        current = float(current) if isinstance(current, int | float) else SPEECH_RATES[0]
        slower = next((rate for rate in SPEECH_RATES if rate < current - 1e-9), SPEECH_RATES[-1])
        dispatcher.utter_message(
            response="utter_slow_down" if slower < current else "utter_already_slowest"
        )
        if not _form_waiting(tracker):
            # Say the last thing again, now slowly (in a form, the form asks again).
            _replay(dispatcher, tracker, keep_question=True)
        return [SlotSet(SPEECH_RATE, slower)]


class ActionCancel(Action):
    """ "算了/不办了": stop the current task; keep what was said (and the identity)."""

    def name(self) -> str:
        return "action_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # ActiveLoop(None) also without a form: the rules expect it after every cancel.
        events: list[EventType] = [SlotSet(OFFER, None), SlotSet(GATE, None), ActiveLoop(None)]
        if (tracker.active_loop or {}).get("name"):
            events += [
                SlotSet(REQUESTED_SLOT, None),
                SlotSet(CONFIRMATION, None),
                SlotSet(CORRECTING, None),
                SlotSet(FIELD_TO_CHANGE, None),
            ]
            dispatcher.utter_message(response="utter_cancelled_kept")
        else:
            dispatcher.utter_message(response="utter_cancelled")
        dispatcher.utter_message(response="utter_anything_else")
        return events


class ActionFallback(Action):
    """Not understood (low confidence, noise, an answer out of place).

    A numbered choice outside a form ("二") picks that button of the last
    question, as if it had been pressed. Otherwise: "没听清" once; the second
    time in a row we also offer a person.
    """

    def name(self) -> str:
        return FALLBACK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        in_form = bool((tracker.active_loop or {}).get("name"))
        if not in_form and (pressed := _chosen_button(tracker)) is not None:
            return pressed
        if _fallbacks_in_a_row(tracker) >= 2:
            if in_form:
                dispatcher.utter_message(response="utter_not_understood_offer_hint")
                return []
            dispatcher.utter_message(response="utter_not_understood_offer_human")
            return [SlotSet(OFFER, "handover")]
        if in_form:
            dispatcher.utter_message(response="utter_not_understood_in_form")
        else:
            dispatcher.utter_message(response="utter_not_understood")
        return []


def _fallbacks_in_a_row(tracker: Tracker) -> int:
    """User turns at the end of the conversation answered by this fallback (this one included)."""
    count = 0
    answered_by_fallback = True  # the current turn is being answered by it now
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "action" and event.get("name") == FALLBACK_ACTION:
            answered_by_fallback = True
        elif kind == "user":
            if not answered_by_fallback:
                break
            count += 1
            answered_by_fallback = False
    return count


def _chosen_button(tracker: Tracker) -> list[EventType] | None:
    """The button a spoken or typed number picks, replayed as the user's choice."""
    buttons: list[dict[str, Any]] = []
    for message in reversed(last_bot_turn(tracker)):
        buttons = (message.get("data") or {}).get("buttons") or []
        if buttons:
            break
    text = (tracker.latest_message or {}).get("text") or ""
    index = parse_choice(text, len(buttons))
    if index is None:
        return None
    payload = str(buttons[index].get("payload", ""))
    match = _PAYLOAD.match(payload)
    if not match:
        return None
    intent = match.group(1)
    try:
        entities_json = json.loads(match.group(2)) if match.group(2) else {}
    except ValueError:
        entities_json = {}
    entities = [{"entity": k, "value": v} for k, v in entities_json.items()]
    parse_data = {
        "text": payload,
        "intent": {"name": intent, "confidence": 1.0},
        "intent_ranking": [{"name": intent, "confidence": 1.0}],
        "entities": entities,
    }
    # As if the button had been pressed: a new user turn with the button's intent.
    return [
        ActionExecuted("action_listen"),
        UserUttered(
            payload, parse_data=parse_data, input_channel=tracker.get_latest_input_channel()
        ),
    ]


class ActionAnswerOffer(Action):
    """Yes or no outside a form, after a question that is not handled by its own rule."""

    def name(self) -> str:
        return "action_answer_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        offer = tracker.get_slot(OFFER)
        if (tracker.active_loop or {}).get("name") and not offer:
            return []  # "对" to a question that is not yes/no: the form simply asks it again
        yes = yes_or_no(latest_intent(tracker), (tracker.latest_message or {}).get("text") or "")
        last = last_bot_turn(tracker)
        asked_more = any(
            (m.get("metadata") or {}).get("utter_action") == "utter_anything_else"
            for m in last[-1:]
        )
        if offer in ("retry_submit", "retry_verify") and not yes:
            dispatcher.utter_message(
                response="utter_retry_declined", hotline=get_settings().service_hotline
            )
            dispatcher.utter_message(response="utter_anything_else")
        elif offer == "handover" and not yes:
            dispatcher.utter_message(response="utter_ask_what_service")
        elif offer == "replace_card" and not yes:
            dispatcher.utter_message(response="utter_anything_else")
        elif asked_more and yes is False:
            dispatcher.utter_message(response="utter_goodbye")
        else:
            dispatcher.utter_message(response="utter_ask_what_service")
        return [SlotSet(OFFER, None)]
