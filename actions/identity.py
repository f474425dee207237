"""Identity: name, ID number and the last 4 phone digits, checked by the exchange once.

The ID number is checked locally first (length, birth date, GB 11643 check
digit), so a misheard digit is caught at once and asked again in two halves of
nine. Verification happens once per conversation; every later service reuses
the ``person_ref`` the exchange gave. After 3 failures we stop asking and offer a
person and the nearest service hall.
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import SERVICE_INTENTS, Turn, entity_values, plain
from actions.exchange import ExchangeUnavailable, Locked, NotFound, Rejected, get_client
from actions.flows import GATE, OFFER, SERVICE, exchange_down, flow_for, settle
from actions.forms import ServiceForm, SlotMap
from actions.settings import get_settings
from common import idcard
from nluext.digits import extract_id_number, extract_phone_last4, normalise_digits

logger = logging.getLogger(__name__)

HALF = 9  # the ID number asked again in two halves of nine characters
ID_HEAD = "id_number_head"
ID_RETRIES = "id_number_retries"
ATTEMPTS = "verify_attempts"
IDENTITY_SLOTS = ("person_name", "id_number", "phone_last4")

_NAME = re.compile(r"^[\u4e00-\u9fff·•]{2,20}$")
_NAME_LEAD = re.compile(
    r"^(?:我叫|我是|叫|名字叫|名字是|我的名字是|我的名字叫|姓名是|他叫|她叫|老人叫)"
)
_NAME_TAIL = re.compile(r"(?:啊|呀|吧|呢|哦|嘛)$")
_ID_CHARS = re.compile(r"[0-9X]")
_NOT_NAMES = frozenset(
    {"你好", "您好", "谢谢", "好的", "对的", "不对", "是的", "不是", "没有", "知道", "不知道",
     "再见", "人工", "转人工", "取消", "算了", "重复", "慢点", "什么", "干嘛", "喂喂"}
)  # fmt: skip


def blocked(turn: Turn) -> bool:
    """3 failed checks in this conversation (and not verified): stop asking."""
    attempts = int(turn.get(ATTEMPTS) or 0)
    return not turn.get("person_ref") and attempts >= get_settings().identity_attempts


class ValidateIdentityForm(ServiceForm):
    form = "identity_form"
    questions = IDENTITY_SLOTS
    trigger_intents = SERVICE_INTENTS
    entity_slots: ClassVar[SlotMap] = {
        "person_name": ("person_name",),
        "id_number": ("id_number",),
        "phone_last4": ("phone_last4",),
    }

    async def on_start(self, turn: Turn) -> list[EventType]:
        return []

    def required(self, turn: Turn) -> list[str]:
        if blocked(turn):
            return []  # after 3 failures we stop asking (action_verify_identity says why)
        return list(self.questions)

    # Reading

    def read_person_name(self, turn: Turn) -> str | None:
        names = entity_values(turn.tracker, "person_name")
        if names:
            return names[0]
        if turn.intent not in (None, "inform", "nlu_fallback", "out_of_scope", "deny", "affirm"):
            return None
        words = _NAME_TAIL.sub("", _NAME_LEAD.sub("", plain(turn.text)))
        return words if _NAME.match(words) and words not in _NOT_NAMES else None

    def read_id_number(self, turn: Turn) -> str | None:
        text = normalise_digits(turn.text)
        if turn.get(ID_HEAD) or turn.get(ID_RETRIES):
            # Asking in halves: take whatever digits were said.
            chars = "".join(_ID_CHARS.findall(idcard.normalise(text)))
            return chars or None
        found = extract_id_number(turn.text) or next(
            iter(entity_values(turn.tracker, "id_number")), None
        )
        if found:
            return found
        chars = "".join(_ID_CHARS.findall(idcard.normalise(text)))
        # A long run of digits that is not 18 long is a misheard ID number: say so.
        return chars if len(chars) >= 12 else None

    def read_phone_last4(self, turn: Turn) -> str | None:
        found = extract_phone_last4(turn.text)
        if found:
            return found
        values = entity_values(turn.tracker, "phone_last4")
        if values:
            return values[0]
        digits = re.sub(r"\D", "", normalise_digits(plain(turn.text)))
        return digits if digits else None

    # Checking

    async def check_person_name(self, value: Any, turn: Turn) -> dict[str, Any]:
        name = plain(str(value))
        if not _NAME.match(name) or name in _NOT_NAMES:
            return self.reject("person_name", turn, "utter_name_unclear")
        return {"person_name": name}

    async def check_id_number(self, value: Any, turn: Turn) -> dict[str, Any]:
        chars = idcard.normalise(str(value))
        head = turn.get(ID_HEAD)
        retries = int(turn.get(ID_RETRIES) or 0)
        if head is None and retries and len(chars) < 18:
            # First half of a number asked again in halves.
            if len(chars) != HALF:
                return self.reject(
                    "id_number", turn, "utter_id_half_wrong_length", count=len(chars), expected=HALF
                )
            return {"id_number": None, ID_HEAD: chars}
        if head is not None and len(chars) < 18:
            if len(chars) != 18 - HALF:
                return self.reject(
                    "id_number",
                    turn,
                    "utter_id_half_wrong_length",
                    count=len(chars),
                    expected=18 - HALF,
                )
            chars = head + chars
        problem = idcard.problem(chars)
        if problem is None:
            done = {ID_HEAD: None, ID_RETRIES: None} if head or retries else {}
            return {"id_number": chars, **done}
        # Misheard or mistyped: ask again, in two halves, saying what was wrong.
        response = "utter_id_wrong_length" if problem == "length" else "utter_id_wrong_digit"
        turn.say(response, count=len(chars))
        if retries + 1 >= 3:
            turn.say("utter_id_offer_human")
        return {"id_number": None, ID_HEAD: None, ID_RETRIES: retries + 1}

    async def check_phone_last4(self, value: Any, turn: Turn) -> dict[str, Any]:
        digits = str(value)
        if not re.fullmatch(r"[0-9]{4}", digits):
            return self.reject("phone_last4", turn, "utter_phone_wrong_length", count=len(digits))
        return {"phone_last4": digits}


class ActionAskIdNumber(Action):
    """Ask for the ID number: whole, or the first / the second half after a mistake."""

    def name(self) -> str:
        return "action_ask_id_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(ID_HEAD):
            dispatcher.utter_message(response="utter_ask_id_number_tail")
        elif tracker.get_slot(ID_RETRIES):
            dispatcher.utter_message(response="utter_ask_id_number_head")
        else:
            dispatcher.utter_message(response="utter_ask_id_number")
        return []


class ActionVerifyIdentity(Action):
    """Check the identity with the exchange (once), then prepare the current service."""

    def name(self) -> str:
        return "action_verify_identity"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        turn = Turn(dispatcher, tracker, domain)
        return settle(await self._run(turn))

    async def _run(self, turn: Turn) -> list[EventType]:
        events: list[EventType] = [SlotSet(GATE, None), SlotSet(OFFER, None)]
        turn.slots[GATE] = None
        if not turn.get("person_ref"):
            verified = await self._verify(turn)
            events += verified
            if turn.get(GATE) is not None:  # not verified: retry, blocked or unavailable
                return events
        flow = flow_for(turn.get(SERVICE))
        try:
            prepared = await flow.prepare(turn) if flow else []
        except ExchangeUnavailable as error:
            logger.warning("exchange unavailable while preparing: %s", error)
            return [*events, SlotSet(GATE, "unavailable"), *exchange_down(turn, "retry_verify")]
        except (NotFound, Rejected) as error:
            logger.warning("exchange refused while preparing: %s", error)
            turn.say("utter_exchange_refused", hotline=get_settings().service_hotline)
            return [*events, SlotSet(GATE, "closed"), SlotSet(OFFER, "handover")]
        events += prepared
        gate = next((e["value"] for e in prepared if e.get("name") == GATE), "open")
        if gate == "open":
            events.append(SlotSet(GATE, "open"))
        return events

    async def _verify(self, turn: Turn) -> list[EventType]:
        name, number, last4 = (turn.get(slot) for slot in IDENTITY_SLOTS)
        attempts = int(turn.get(ATTEMPTS) or 0)
        if blocked(turn) or not (name and number and last4):
            turn.slots[GATE] = "blocked"
            return self._blocked(turn, attempts)
        try:
            ref = await get_client().verify_identity(name, number, last4)
        except ExchangeUnavailable as error:
            logger.warning("exchange unavailable on identity check: %s", error)
            turn.slots[GATE] = "unavailable"
            return [SlotSet(GATE, "unavailable"), *exchange_down(turn, "retry_verify")]
        except Locked:
            turn.slots[GATE] = "blocked"
            return self._blocked(turn, attempts + 1)
        except (Rejected, NotFound):
            attempts += 1
            if attempts >= get_settings().identity_attempts:
                turn.slots[GATE] = "blocked"
                return self._blocked(turn, attempts)
            turn.say("utter_identity_mismatch")
            turn.slots[GATE] = "retry"
            return [
                SlotSet(ATTEMPTS, attempts),
                SlotSet(GATE, "retry"),
                *(SlotSet(slot, None) for slot in IDENTITY_SLOTS),
            ]
        turn.say("utter_identity_verified")
        turn.slots.update(person_ref=ref, identity_verified=True)
        return [
            SlotSet("person_ref", ref),
            SlotSet("identity_verified", True),
            SlotSet(ATTEMPTS, attempts),
        ]

    @staticmethod
    def _blocked(turn: Turn, attempts: int) -> list[EventType]:
        """Stop asking: offer a person, and the nearest hall (found by the hall form)."""
        turn.say("utter_identity_blocked", hotline=get_settings().service_hotline)
        return [
            SlotSet(ATTEMPTS, attempts),
            SlotSet(GATE, "blocked"),
            SlotSet(OFFER, "handover"),
            *(SlotSet(slot, None) for slot in IDENTITY_SLOTS),
        ]
