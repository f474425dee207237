"""How each service runs around its form: start, prepare after identity, submit.

Every service module registers one ``Flow``. Three generic actions drive them,
so the rules in data/dialogue stay the same shape for every service:

    intent <service>  -> action_start_service -> identity_form (or the service's form)
    identity checked  -> action_verify_identity (identity.py) -> flow.prepare -> form
    form complete     -> action_submit -> flow.submit -> the exchange

``service_gate`` tells the rules what comes after identity verification:
``open`` (go on), ``retry`` (ask the identity again), ``blocked`` (3 failures),
``unavailable`` (exchange down: retry offered), ``closed`` (nothing to do).
``pending_offer`` remembers a yes/no question asked outside a form, so that
"好"/"不用" after it means the right thing.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import SERVICE_INTENTS, Turn, latest_intent, read_application_number
from actions.exchange import ExchangeError, ExchangeUnavailable, Rejected, idempotency_key
from actions.forms import FORMS
from actions.settings import get_settings

logger = logging.getLogger(__name__)

SERVICE = "current_service"
GATE = "service_gate"
OFFER = "pending_offer"
WRITES = "write_counts"

FLOWS: dict[str, Flow] = {}


def flow_for(service: str | None) -> Flow | None:
    """The registered flow of a service (every service module is loaded first)."""
    if service and service not in FLOWS:
        import actions as package

        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"actions.{module.name}")
    return FLOWS.get(service or "")


class Flow:
    """One service: its form and what happens before and after it."""

    service: ClassVar[str]
    form: ClassVar[str | None] = None
    needs_identity: ClassVar[bool] = True
    # Slots that belong to one application: cleared after it was filed.
    answers: ClassVar[tuple[str, ...]] = ()
    # Slots cleared whenever the service starts again.
    fresh: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        FLOWS[cls.service] = cls()

    async def start(self, turn: Turn) -> list[EventType]:
        """When the user asks for the service (before identity)."""
        return []

    async def prepare(self, turn: Turn) -> list[EventType]:
        """After identity: read what the service needs, tell the user; may close the gate."""
        return []

    async def submit(self, turn: Turn) -> list[EventType]:
        """After the form: call the exchange and say the result."""
        raise NotImplementedError

    # Helpers for subclasses

    @staticmethod
    def write_key(turn: Turn, service: str) -> str:
        """Idempotency key of this write: same conversation, service and attempt -> same key.

        The attempt number only moves on after a successful write, so a retry after
        an outage reuses the key and the exchange files the application once.
        """
        attempt = (turn.get(WRITES) or {}).get(service, 0)
        return idempotency_key(turn.tracker.sender_id, service, attempt)

    def filed(self, turn: Turn, application: dict[str, Any], response: str) -> list[EventType]:
        """Say the application's number and next step with ``response``; then as ``written``."""
        turn.say(
            response,
            application_number=read_application_number(application["application_no"]),
            next_step=application.get("next_step", ""),
        )
        turn.say("utter_anything_else")
        return self.written(turn, application)

    def written(self, turn: Turn, application: dict[str, Any]) -> list[EventType]:
        """Events after a successful write: next attempt number, answers cleared."""
        counts = dict(turn.get(WRITES) or {})
        counts[self.service] = counts.get(self.service, 0) + 1
        events: list[EventType] = [
            SlotSet(WRITES, counts),
            SlotSet("application_number", application.get("application_no")),
            SlotSet("confirmation", None),
        ]
        events += [SlotSet(slot, None) for slot in self.answers]
        return events


def settle(events: list[EventType], **defaults: Any) -> list[EventType]:
    """The events with each steering slot (service_gate, pending_offer) set exactly once, last.

    The rules after these actions name both slots' final values, so they are
    always set, to None when nothing applies.
    """
    final = dict(defaults)
    for event in events:
        if event.get("event") == "slot" and event.get("name") in (GATE, OFFER):
            final[event["name"]] = event.get("value")
    kept = [e for e in events if not (e.get("event") == "slot" and e.get("name") in (GATE, OFFER))]
    return [*kept, SlotSet(GATE, final.get(GATE)), SlotSet(OFFER, final.get(OFFER))]


def exchange_down(turn: Turn, offer: str) -> list[EventType]:
    """The apology when the exchange does not answer, with what to do instead."""
    turn.say("utter_exchange_down", hotline=get_settings().service_hotline)
    return [SlotSet(OFFER, offer)]


def refused(turn: Turn, error: Rejected) -> list[EventType]:
    """The exchange said no to a request as sent: say so plainly, point to a person."""
    logger.info("exchange refused: %s %s", error.status, error.problem.get("type"))
    turn.say("utter_exchange_refused", hotline=get_settings().service_hotline)
    return [SlotSet(OFFER, "handover")]


class ActionStartService(Action):
    """Remember which service the user asked for; keep everything already said."""

    def name(self) -> str:
        return "action_start_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        service = intent if intent in SERVICE_INTENTS else tracker.get_slot(SERVICE)
        if service:
            dispatcher.utter_message(response=f"utter_start_{service}")
        events: list[EventType] = [
            SlotSet(SERVICE, service),
            SlotSet(GATE, None),
            SlotSet(OFFER, None),
            SlotSet("confirmation", None),
        ]
        flow = flow_for(service)
        turn = Turn(dispatcher, tracker, domain)
        if flow is not None:
            events += [SlotSet(slot, None) for slot in flow.fresh]
            turn.slots.update(dict.fromkeys(flow.fresh))
            events += await flow.start(turn)
        form = FORMS.get(flow.form) if flow and flow.form else None
        if form is not None:
            # "我身份证丢了，要补办": keep what the first sentence already answered.
            events += await form().prefill(turn)
        return events


class ActionSubmit(Action):
    """Run the current service's write (or look-up) after its form is complete."""

    def name(self) -> str:
        return "action_submit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        turn = Turn(dispatcher, tracker, domain)
        flow = flow_for(tracker.get_slot(SERVICE))
        events: list[EventType] = []
        if flow is None:
            dispatcher.utter_message(response="utter_ask_what_service")
            return settle(events)
        try:
            events += await flow.submit(turn)
        except ExchangeUnavailable as error:
            logger.warning("exchange unavailable on submit: %s", error)
            events += exchange_down(turn, "retry_submit")
        except Rejected as error:
            events += refused(turn, error)
        except ExchangeError as error:  # NotFound and the rest: nothing was written
            logger.warning("exchange error on submit: %s", error)
            events += refused(
                turn, Rejected(str(error), status=error.status, problem=error.problem)
            )
        return settle(events)
