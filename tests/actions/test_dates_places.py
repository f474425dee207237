"""Dates as people say them, and the two places of a transfer."""

from __future__ import annotations

import datetime as dt

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dates import parse_date, working_days_after
from actions.social_insurance import ValidateTransferForm
from tests.actions.conftest import DOMAIN, in_form

TODAY = dt.date(2025, 6, 4)  # a Wednesday


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("明天", dt.date(2025, 6, 5)),
        ("后天上午", dt.date(2025, 6, 6)),
        ("下周一", dt.date(2025, 6, 9)),
        ("这个礼拜五", dt.date(2025, 6, 6)),
        ("周二", dt.date(2025, 6, 10)),
        ("六月十号", dt.date(2025, 6, 10)),
        ("三月五号", dt.date(2026, 3, 5)),
        ("20号", dt.date(2025, 6, 20)),
        ("2025-07-01", dt.date(2025, 7, 1)),
        ("随便", None),
    ],
)
def test_parse_date(said, day):
    assert parse_date(said, TODAY) == day


def test_working_days_skip_the_weekend():
    assert working_days_after(dt.date(2025, 6, 6), 2) == [dt.date(2025, 6, 9), dt.date(2025, 6, 10)]


async def test_from_and_to_in_one_sentence():
    slots = {"requested_slot": "from_city", "record_province": "北京市", "record_city": "北京市"}
    entities = [
        {"entity": "province", "value": "北京市", "start": 1, "end": 3},
        {"entity": "city", "value": "成都市", "start": 5, "end": 7},
    ]
    events = await ValidateTransferForm().run(
        CollectingDispatcher(),
        in_form("transfer_form", {"text": "从北京转到成都", "entities": entities, "slots": slots}),
        DOMAIN,
    )
    for expected in (
        SlotSet("from_province", "北京市"),
        SlotSet("from_city", "北京市"),
        SlotSet("to_province", "四川省"),
        SlotSet("to_city", "成都市"),
    ):
        assert expected in events
    assert events[-1] == SlotSet("requested_slot", "confirmation")


async def test_yes_confirms_the_recorded_place():
    slots = {"requested_slot": "from_city", "record_province": "北京市", "record_city": "北京市"}
    events = await ValidateTransferForm().run(
        CollectingDispatcher(),
        in_form("transfer_form", {"text": "对", "intent": "affirm", "slots": slots}),
        DOMAIN,
    )
    assert events[:2] == [SlotSet("from_province", "北京市"), SlotSet("from_city", "北京市")]
    assert events[-1] == SlotSet("requested_slot", "to_city")


async def test_destination_equal_to_the_insured_place_is_asked_again():
    # "转到成都" was said first; the record then says the insurance is in 成都 already.
    slots = {
        "requested_slot": "from_city",
        "record_province": "四川省",
        "record_city": "成都市",
        "to_province": "四川省",
        "to_city": "成都市",
    }
    dispatcher = CollectingDispatcher()
    tracker = in_form("transfer_form", {"text": "对", "intent": "affirm", "slots": slots})
    events = await ValidateTransferForm().run(dispatcher, tracker, DOMAIN)
    assert SlotSet("to_city", None) in events
    assert events[-1] == SlotSet("requested_slot", "to_city")
    assert [m["response"] for m in dispatcher.messages] == ["utter_transfer_same_place"]
