"""The shared form behaviour through the ID card form: choices, dates, corrections,
the read-back and "which item to change"."""

from __future__ import annotations

import datetime as dt

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dates import beijing_today, working_days_after
from actions.id_card import ValidateIdCardForm
from actions.questions import ActionAskConfirmation, ActionAskFieldToChange
from tests.actions.conftest import DOMAIN, in_form, make_tracker, said

FORM = "id_card_form"
OPTIONS = [
    {"outlet_id": "BJ-DC-01", "name": "东城区政务服务中心", "address": "东城区"},
    {"outlet_id": "BJ-HD-01", "name": "海淀区政务服务中心", "address": "海淀区"},
]
FILLED = {
    "person_name": "张桂芳",
    "id_number": "110105194903120021",
    "id_card_reason": "lost",
    "city": "北京市",
    "outlet_options": OPTIONS,
    "outlet_choice": "BJ-DC-01",
}


async def run(**kwargs):
    dispatcher = CollectingDispatcher()
    events = await ValidateIdCardForm().run(dispatcher, in_form(FORM, kwargs), DOMAIN)
    return events, dispatcher


async def test_numbered_choice_spoken():
    events, _ = await run(text="二", slots={"requested_slot": "id_card_reason"})
    assert events == [SlotSet("id_card_reason", "lost"), SlotSet("requested_slot", "city")]


async def test_reason_in_plain_words():
    events, _ = await run(text="身份证找不到了", slots={"requested_slot": "id_card_reason"})
    assert events[0] == SlotSet("id_card_reason", "lost")


async def test_outlet_picked_by_number_even_if_classified_oddly():
    slots = {**FILLED, "outlet_choice": None, "requested_slot": "outlet_choice"}
    events, _ = await run(text="第2个", intent="repeat", slots=slots)
    assert events == [
        SlotSet("outlet_choice", "BJ-HD-01"),
        SlotSet("requested_slot", "appointment_date"),
    ]


async def test_date_said_as_weekday_is_checked():
    slots = {**FILLED, "requested_slot": "appointment_date"}
    events, dispatcher = await run(text="下个礼拜六", slots=slots)
    assert events[0] == SlotSet("appointment_date", None)
    assert said(dispatcher) == ["utter_date_weekend"]


async def test_date_option_by_number():
    days = working_days_after(beijing_today(), 3)
    slots = {
        **FILLED,
        "requested_slot": "appointment_date",
        "date_options": [d.isoformat() for d in days],
    }
    events, _ = await run(text="一", slots=slots)
    assert events == [
        SlotSet("appointment_date", days[0].isoformat()),
        SlotSet("requested_slot", "confirmation"),
    ]


async def test_correction_mid_form_keeps_the_other_answers():
    # Asked for the date, the user corrects the city: the city changes, its outlets are
    # cleared (they belong to the old city), and every other answer stays.
    slots = {**FILLED, "requested_slot": "appointment_date"}
    entities = [{"entity": "city", "value": "成都市", "start": 3, "end": 5}]
    events, dispatcher = await run(
        text="不对，是成都", intent="deny", entities=entities, slots=slots
    )
    assert events == [
        SlotSet("city", "成都市"),
        SlotSet("outlet_choice", None),
        SlotSet("outlet_options", None),
        SlotSet("requested_slot", "outlet_choice"),
    ]
    assert said(dispatcher) == ["utter_corrected"]


async def test_yes_at_the_read_back_confirms():
    day = (beijing_today() + dt.timedelta(days=7)).isoformat()
    slots = {**FILLED, "appointment_date": day, "requested_slot": "confirmation"}
    events, _ = await run(text="对", intent="affirm", slots=slots)
    assert events == [
        SlotSet("confirmation", True),
        SlotSet("correcting", None),
        SlotSet("requested_slot", None),
    ]


async def test_no_at_the_read_back_asks_which_item_then_only_that_one():
    day = (beijing_today() + dt.timedelta(days=7)).isoformat()
    slots = {**FILLED, "appointment_date": day, "requested_slot": "confirmation"}
    events, _ = await run(text="不对", intent="deny", slots=slots)
    assert events[-1] == SlotSet("requested_slot", "field_to_change")
    slots.update(correcting=True, requested_slot="field_to_change")
    events, _ = await run(text="四", slots=slots)
    assert events == [
        SlotSet("appointment_date", None),
        SlotSet("field_to_change", None),
        SlotSet("correcting", None),
        SlotSet("requested_slot", "appointment_date"),
    ]


async def test_read_back_groups_the_id_number():
    day = dt.date(2030, 6, 3).isoformat()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**FILLED, "appointment_date": day}, active_loop=FORM)
    await ActionAskConfirmation().run(dispatcher, tracker, DOMAIN)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_ask_confirm_id_card_form"
    assert message["id_read"] == "一一零一零五，一九四九零三一二，零零二一"
    assert message["outlet"] == "东城区政务服务中心"
    assert message["date"] == "6月3日，星期一"


async def test_which_item_is_numbered():
    dispatcher = CollectingDispatcher()
    await ActionAskFieldToChange().run(dispatcher, make_tracker(active_loop=FORM), DOMAIN)
    assert dispatcher.messages[0]["options"].splitlines()[0] == "1. 办证原因"
    assert dispatcher.messages[0]["buttons"][0] == {"title": "1 办证原因", "payload": "第1个"}


async def test_small_talk_intent_can_still_be_the_answer():
    # "都可以" is sometimes taken for "what can you do"; it answers the hall question.
    from actions.service_halls import ValidateServiceHallForm

    tracker = in_form(
        "service_hall_form",
        {
            "text": "都可以",
            "intent": "ask_capabilities",
            "slots": {"requested_slot": "service", "city": "成都市"},
        },
    )
    events = await ValidateServiceHallForm().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events == [SlotSet("service", "any"), SlotSet("requested_slot", None)]


async def test_steering_intents_are_never_answers():
    events, _ = await run(
        text="算了不补了", intent="cancel", slots={"requested_slot": "id_card_reason"}
    )
    assert events == []
