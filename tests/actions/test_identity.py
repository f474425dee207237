"""Identity form and verification: local ID checks, halves, three failures, outage."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.identity import ActionAskIdNumber, ActionVerifyIdentity, ValidateIdentityForm
from tests.actions.conftest import DOMAIN, in_form, make_tracker, said

GOOD_ID = "110105194903120021"
BAD_CHECK = "110105194903120022"  # one digit misheard: the check digit no longer matches
FORM = "identity_form"


async def run_form(**kwargs):
    dispatcher = CollectingDispatcher()
    events = await ValidateIdentityForm().run(dispatcher, in_form(FORM, kwargs), DOMAIN)
    return events, dispatcher


async def test_name_then_next_question():
    events, _ = await run_form(text="我叫张桂芳", slots={"requested_slot": "person_name"})
    assert events == [SlotSet("person_name", "张桂芳"), SlotSet("requested_slot", "id_number")]


async def test_spoken_id_number_is_normalised():
    events, _ = await run_form(
        text="幺幺零幺零五 一九四九零三幺二 洞洞两幺",
        slots={"requested_slot": "id_number", "person_name": "张桂芳"},
    )
    assert events == [SlotSet("id_number", GOOD_ID), SlotSet("requested_slot", "phone_last4")]


async def test_misheard_digit_is_caught_and_asked_in_halves():
    events, dispatcher = await run_form(
        text=BAD_CHECK, slots={"requested_slot": "id_number", "person_name": "张桂芳"}
    )
    assert events == [
        SlotSet("id_number", None),
        SlotSet("id_number_head", None),
        SlotSet("id_number_retries", 1),
        SlotSet("requested_slot", "id_number"),
    ]
    assert said(dispatcher) == ["utter_id_wrong_digit"]
    ask = CollectingDispatcher()
    await ActionAskIdNumber().run(ask, make_tracker(slots={"id_number_retries": 1}), DOMAIN)
    assert said(ask) == ["utter_ask_id_number_head"]


async def test_halves_are_joined_and_checked():
    slots = {"requested_slot": "id_number", "person_name": "张桂芳", "id_number_retries": 1}
    events, _ = await run_form(text="一一零一零五一九四", slots=slots)
    assert events == [
        SlotSet("id_number", None),
        SlotSet("id_number_head", "110105194"),
        SlotSet("requested_slot", "id_number"),
    ]
    slots["id_number_head"] = "110105194"
    events, _ = await run_form(text="九零三一二零零二一", slots=slots)
    assert events == [
        SlotSet("id_number", GOOD_ID),
        SlotSet("id_number_head", None),
        SlotSet("id_number_retries", None),
        SlotSet("requested_slot", "phone_last4"),
    ]


async def test_short_number_says_how_many_digits_were_heard():
    events, dispatcher = await run_form(
        text="11010519490312002", slots={"requested_slot": "id_number", "person_name": "张桂芳"}
    )
    assert SlotSet("id_number", None) in events
    assert said(dispatcher) == ["utter_id_wrong_length"]
    assert dispatcher.messages[0]["count"] == 17


async def test_repeat_is_not_an_answer():
    events, _ = await run_form(
        text="再说一遍", intent="repeat", slots={"requested_slot": "person_name"}
    )
    assert events == []  # the form is rejected and the repeat rule runs


async def test_phone_last4():
    events, _ = await run_form(
        text="尾号零零零一",
        slots={"requested_slot": "phone_last4", "person_name": "张桂芳", "id_number": GOOD_ID},
    )
    assert events == [SlotSet("phone_last4", "0001"), SlotSet("requested_slot", None)]


IDENTITY = {"person_name": "张桂芳", "id_number": GOOD_ID, "phone_last4": "8001"}


async def test_verified_then_service_prepared(fake_exchange):
    fake_exchange.on("POST", "/v1/identity/verify", 200, {"person_ref": "ref-zhang-0001"})
    fake_exchange.on(
        "GET",
        "/v1/persons/ref-zhang-0001/id-card",
        200,
        {"status": "expired", "expiry_date": "2024-03-01", "long_term": False},
    )
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**IDENTITY, "current_service": "renew_id_card"})
    events = await ActionVerifyIdentity().run(dispatcher, tracker, DOMAIN)
    assert SlotSet("person_ref", "ref-zhang-0001") in events
    assert SlotSet("identity_verified", True) in events
    assert events[-2:] == [SlotSet("service_gate", "open"), SlotSet("pending_offer", None)]
    assert said(dispatcher) == ["utter_identity_verified", "utter_id_card_expired"]
    assert fake_exchange.bodies("/v1/identity/verify") == [
        {"name": "张桂芳", "id_number": GOOD_ID, "phone_last4": "8001"}
    ]


async def test_verified_once_per_conversation(fake_exchange):
    fake_exchange.on("GET", "/v1/persons/ref-1/pension-payments", 200, {})
    tracker = make_tracker(
        slots={**IDENTITY, "person_ref": "ref-1", "current_service": "query_pension_payment"}
    )
    events = await ActionVerifyIdentity().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events[-2:] == [SlotSet("service_gate", "open"), SlotSet("pending_offer", None)]
    assert fake_exchange.bodies("/v1/identity/verify") == []


async def test_mismatch_asks_again_then_stops_after_three(fake_exchange):
    fake_exchange.on("POST", "/v1/identity/verify", 401, {"title": "Identity not verified"})
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={**IDENTITY, "current_service": "renew_id_card", "verify_attempts": 1}
    )
    events = await ActionVerifyIdentity().run(dispatcher, tracker, DOMAIN)
    assert SlotSet("verify_attempts", 2) in events
    assert SlotSet("id_number", None) in events
    assert events[-2:] == [SlotSet("service_gate", "retry"), SlotSet("pending_offer", None)]
    assert said(dispatcher) == ["utter_identity_mismatch"]

    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={**IDENTITY, "current_service": "renew_id_card", "verify_attempts": 2}
    )
    events = await ActionVerifyIdentity().run(dispatcher, tracker, DOMAIN)
    assert events[-2:] == [SlotSet("service_gate", "blocked"), SlotSet("pending_offer", "handover")]
    assert said(dispatcher) == ["utter_identity_blocked"]


async def test_after_three_failures_the_form_asks_nothing():
    events, _ = await run_form(
        text="我要办社保卡",
        intent="inform",
        slots={"verify_attempts": 3, "requested_slot": "person_name"},
    )
    assert events[-1] == SlotSet("requested_slot", None)


async def test_exchange_down_offers_a_retry(fake_exchange):
    fake_exchange.down = True
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**IDENTITY, "current_service": "renew_id_card"})
    events = await ActionVerifyIdentity().run(dispatcher, tracker, DOMAIN)
    assert events[-2:] == [
        SlotSet("service_gate", "unavailable"),
        SlotSet("pending_offer", "retry_verify"),
    ]
    assert said(dispatcher) == ["utter_exchange_down"]
    assert dispatcher.messages[0]["hotline"] == "12345"
