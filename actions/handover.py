"""Hand the conversation to a person, at any point.

The agent gets a summary: the service, the answers so far (ID number masked),
and the last 5 turns (masked). It goes to ``HANDOVER_URL`` when set, otherwise
to the exchange's queue (``POST /v1/handovers``, signed like every exchange
call, purpose ``handover``). The answer says where the caller is in the queue
and how long the wait is; if the queue cannot be reached, the hotline.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import REQUESTED_SLOT, channel_of
from actions.exchange import ExchangeError, get_client, idempotency_key
from actions.flows import GATE, OFFER, SERVICE
from actions.settings import get_settings
from common import idcard
from rasa_addons.redaction import redact_text

logger = logging.getLogger(__name__)

TURNS = 5
# Each text in the summary is cut to this length (the queue takes 20 000 characters in all).
MAX_TEXT = 300
# Answers worth showing the agent; identity digits other than the masked ID stay out.
SUMMARY_SLOTS = (
    "person_name", "id_number", "identity_verified", "from_province", "from_city", "to_province",
    "to_city", "destination_province", "destination_city", "filing_reason", "id_card_reason",
    "city", "appointment_date", "card_request_type", "application_number", "service",
    "by_proxy", "proxy_name", "proxy_relation", "card_delivery", "requested_slot",
)  # fmt: skip


def summary(tracker: Tracker) -> dict[str, Any]:
    """What the agent needs to take over without asking everything again."""
    slots = {}
    for name in SUMMARY_SLOTS:
        value = tracker.get_slot(name)
        if value is None:
            continue
        slots[name] = idcard.mask(value) if name == "id_number" else value
    return {
        "service": tracker.get_slot(SERVICE),
        "slots": slots,
        "turns": last_turns(tracker, TURNS),
    }


def last_turns(tracker: Tracker, count: int) -> list[dict[str, Any]]:
    """The last ``count`` exchanges as {"user": ..., "bot": [...]}, masked."""
    phone = [tracker.get_slot("phone_last4") or ""]
    turns: list[dict[str, Any]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user":
            text = event.get("text") or ""
            turns.append({"user": redact_text(text, phone_last4=phone)[:MAX_TEXT], "bot": []})
        elif kind == "bot" and event.get("text"):
            if not turns:
                turns.append({"user": "", "bot": []})
            turns[-1]["bot"].append(redact_text(event["text"], phone_last4=phone)[:MAX_TEXT])
    return turns[-count:]


async def send(body: dict[str, Any], key: str) -> dict[str, Any]:
    """Queue the handover; returns {handover_id, position, wait_minutes, ...}.

    ``HANDOVER_URL`` set: POST the body there (e.g. a gateway's queue). Otherwise the
    exchange's queue through the signed client (purpose ``handover``).
    """
    settings = get_settings()
    if not settings.handover_url:
        return await get_client().create_handover(
            body["conversation_id"], body["summary"], service=body["service"],
            channel=body["channel"], idempotency_key=key,
        )  # fmt: skip
    headers = {"Idempotency-Key": key}
    async with httpx.AsyncClient(timeout=settings.handover_timeout) as http:
        response = await http.post(settings.handover_url, json=body, headers=headers)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict) or "wait_minutes" not in data:
        raise ValueError("the handover queue sent an unexpected answer")
    return data


class ActionHandover(Action):
    def name(self) -> str:
        return "action_handover"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # The conversation leaves any form: the person takes it from here.
        events: list[EventType] = [SlotSet(OFFER, None), SlotSet(GATE, None), ActiveLoop(None)]
        if (tracker.active_loop or {}).get("name"):
            events.append(SlotSet(REQUESTED_SLOT, None))
        count = int(tracker.get_slot("handover_count") or 0)
        body = {
            "conversation_id": tracker.sender_id,
            "service": tracker.get_slot(SERVICE),
            "summary": summary(tracker),
            "channel": channel_of(tracker),
        }
        try:
            queued = await send(body, idempotency_key(tracker.sender_id, "handover", count))
        except (httpx.HTTPError, ExchangeError, ValueError) as error:
            logger.warning("handover queue not reachable: %s", type(error).__name__)
            dispatcher.utter_message(
                response="utter_handover_failed", hotline=get_settings().service_hotline
            )
            return events
        dispatcher.utter_message(
            response="utter_handover_queued",
            wait_minutes=max(1, int(queued.get("wait_minutes") or 1)),
            position=int(queued.get("position") or 1),
        )
        return [
            *events,
            SlotSet("handover_id", str(queued.get("handover_id", ""))),
            SlotSet("handover_count", count + 1),
        ]
