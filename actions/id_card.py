"""Renew an ID card: card status, reason, outlet (numbered, at most 3), date, booking."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dates import beijing_today, parse_date, working_days_after
from actions.dialogue import (
    Turn,
    entity_values,
    number_buttons,
    numbered,
    numbered_or_keyword_choice,
    parse_choice,
    plain,
    read_application_number,
    read_date,
    read_full_date,
    who,
)
from actions.exchange import ExchangeUnavailable, get_client
from actions.flows import Flow
from actions.forms import CityForm, SlotMap
from actions.settings import get_settings

SERVICE = "renew_id_card"
MAX_OUTLETS = 3
DATE_CHOICES = 3
HORIZON_DAYS = 60  # the exchange books up to 60 days ahead

REASONS = {
    "expired": "证件到期",
    "lost": "证件丢了",
    "damaged": "证件坏了",
    "info_change": "信息变了",
}
# What the NLU reports (data/nlu/synonyms/terms.yml) and what people say.
REASON_VALUES = {"到期换领": "expired", "丢失补领": "lost", "损坏换领": "damaged"}
REASON_WORDS = {
    "lost": ("丢", "掉了", "找不到", "被偷", "遗失", "不见了"),
    "damaged": ("坏", "破", "折", "断", "裂", "看不清", "消磁", "磨损"),
    "info_change": ("改名", "改了名", "信息", "地址变", "户口迁", "更正", "变更", "民族"),
    "expired": ("过期", "到期", "期满", "快到期", "超期"),
}


class IdCardFlow(Flow):
    service = SERVICE
    form = "id_card_form"
    answers = (
        "id_card_reason",
        "outlet_choice",
        "outlet_options",
        "appointment_date",
        "date_options",
    )

    async def prepare(self, turn: Turn) -> list[EventType]:
        card = await get_client().id_card(turn.get("person_ref"))
        if card.get("long_term"):
            turn.say("utter_id_card_long_term")
        elif card.get("status") == "expired":
            turn.say("utter_id_card_expired", date=_day(card.get("expiry_date")))
        elif card.get("status") == "expiring_soon":
            turn.say("utter_id_card_expiring", date=_day(card.get("expiry_date")))
        else:
            turn.say("utter_id_card_valid", date=_day(card.get("expiry_date")))
        return [SlotSet("id_card_status", card.get("status"))]

    async def submit(self, turn: Turn) -> list[EventType]:
        outlet = _chosen_outlet(turn)
        application = await get_client().book_id_card_appointment(
            turn.get("person_ref"),
            turn.get("id_card_reason"),
            outlet["outlet_id"],
            turn.get("appointment_date"),
            idempotency_key=self.write_key(turn, SERVICE),
        )
        turn.say(
            "utter_id_card_booked",
            application_number=read_application_number(application["application_no"]),
            outlet=outlet["name"],
            address=outlet.get("address", ""),
            date=read_date(dt.date.fromisoformat(turn.get("appointment_date"))),
        )
        lost = turn.get("id_card_reason") == "lost"
        turn.say("utter_id_card_bring_lost" if lost else "utter_id_card_bring")
        turn.say("utter_anything_else")
        return self.written(turn, application)


def _day(iso: str | None) -> str:
    return read_full_date(dt.date.fromisoformat(iso)) if iso else ""


def _chosen_outlet(turn: Turn) -> dict[str, Any]:
    options = turn.get("outlet_options") or []
    chosen = turn.get("outlet_choice")
    return next(
        (o for o in options if o.get("outlet_id") == chosen), {"outlet_id": chosen, "name": ""}
    )


class ValidateIdCardForm(CityForm):
    form = "id_card_form"
    questions = ("id_card_reason", "city", "outlet_choice", "appointment_date", "confirmation")
    trigger_intents = frozenset({SERVICE})
    start_readers = ("id_card_reason",)
    entity_slots: ClassVar[SlotMap] = {
        "id_card_reason": ("id_card_reason",),
        "city": ("city",),
        "province": ("city",),
        "date": ("appointment_date",),
    }
    changeable: ClassVar[dict[str, str]] = {
        "id_card_reason": "办证原因",
        "city": "城市",
        "outlet_choice": "办理地点",
        "appointment_date": "日期",
    }
    dependents: ClassVar[SlotMap] = {"city": ("outlet_choice", "outlet_options")}

    def field_words(self, slot: str) -> tuple[str, ...]:
        return {
            "id_card_reason": ("原因",),
            "outlet_choice": ("地点", "网点", "地方", "大厅"),
            "appointment_date": ("日子", "时间", "哪天", "几号"),
        }.get(slot, ())

    def read_id_card_reason(self, turn: Turn) -> str | None:
        for value in entity_values(turn.tracker, "id_card_reason"):
            if value in REASON_VALUES:
                return REASON_VALUES[value]
            if value in REASONS:
                return value
        return numbered_or_keyword_choice(turn.text, REASONS, REASON_WORDS)

    def read_outlet_choice(self, turn: Turn) -> str | None:
        options = turn.get("outlet_options") or []
        if not options:
            return ""  # the list could not be read: any answer asks again (and reads it again)
        index = parse_choice(turn.text, len(options))
        if index is not None:
            return options[index]["outlet_id"]
        words = plain(turn.text)
        for option in options:
            if option["name"] in words or (len(words) >= 4 and words in option["name"]):
                return option["outlet_id"]
        return None

    def read_appointment_date(self, turn: Turn) -> str | None:
        options = turn.get("date_options") or []
        index = parse_choice(turn.text, len(options))
        if index is not None:
            return options[index]
        day = parse_date(turn.text, beijing_today())
        if day is None:
            for said in entity_values(turn.tracker, "date"):
                day = parse_date(said, beijing_today())
                if day:
                    break
        return day.isoformat() if day else None

    async def check_id_card_reason(self, value: Any, turn: Turn) -> dict[str, Any]:
        value = REASON_VALUES.get(value, value)
        if value not in REASONS:
            return self.reject("id_card_reason", turn, "utter_choice_unclear")
        return {"id_card_reason": value}

    async def check_outlet_choice(self, value: Any, turn: Turn) -> dict[str, Any]:
        return {"outlet_choice": value or None}

    async def check_appointment_date(self, value: Any, turn: Turn) -> dict[str, Any]:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            return self.reject("appointment_date", turn, "utter_date_unclear")
        today = beijing_today()
        if day <= today:
            return self.reject("appointment_date", turn, "utter_date_not_future")
        if day > today + dt.timedelta(days=HORIZON_DAYS):
            return self.reject("appointment_date", turn, "utter_date_too_far", days=HORIZON_DAYS)
        if day.weekday() >= 5:
            return self.reject("appointment_date", turn, "utter_date_weekend", date=read_date(day))
        return {"appointment_date": value}

    def spoken_value(self, slot: str, value: Any) -> str:
        if slot == "appointment_date":
            return read_date(dt.date.fromisoformat(value))
        if slot == "id_card_reason":
            return REASONS.get(value, str(value))
        return str(value)

    def readback(self, turn: Turn) -> dict[str, Any]:
        date = turn.get("appointment_date")
        return {
            **who(turn),
            "reason": REASONS.get(turn.get("id_card_reason"), ""),
            "outlet": _chosen_outlet(turn).get("name", ""),
            "date": read_date(dt.date.fromisoformat(date)) if date else "",
        }


class ActionAskOutletChoice(Action):
    """The nearest outlets for the user's city that renew ID cards, numbered, at most 3."""

    def name(self) -> str:
        return "action_ask_outlet_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        city = tracker.get_slot("city")
        try:
            outlets = await get_client().outlets(city=city, service=SERVICE)
        except ExchangeUnavailable:
            dispatcher.utter_message(
                response="utter_exchange_down_in_form", hotline=get_settings().service_hotline
            )
            return [SlotSet("outlet_options", None)]
        options = [
            {"outlet_id": o["outlet_id"], "name": o["name"], "address": o.get("address", "")}
            for o in outlets[:MAX_OUTLETS]
        ]
        if not options:
            dispatcher.utter_message(response="utter_no_outlets_in_city", city=city)
            return [SlotSet("outlet_options", None)]
        names = [o["name"] for o in options]
        dispatcher.utter_message(
            response="utter_ask_outlet_choice",
            city=city,
            options=numbered(f"{o['name']}，{o['address']}" for o in options),
            buttons=number_buttons(names),
        )
        return [SlotSet("outlet_options", options)]


class ActionAskAppointmentDate(Action):
    """Three working days to choose from; any other working day can be said."""

    def name(self) -> str:
        return "action_ask_appointment_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        days = working_days_after(beijing_today(), DATE_CHOICES)
        labels = [read_date(day) for day in days]
        dispatcher.utter_message(
            response="utter_ask_appointment_date",
            options=numbered(labels),
            buttons=number_buttons(labels),
        )
        return [SlotSet("date_options", [day.isoformat() for day in days])]
