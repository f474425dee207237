"""Writes: the exchange gets exactly what was confirmed; a retry after an outage reuses
the Idempotency-Key, a new application after a success gets a new one."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.flows import ActionSubmit
from tests.actions.conftest import DOMAIN, make_tracker, said

TRANSFER = "/v1/social-insurance/transfers"
SLOTS = {
    "current_service": "transfer_social_insurance",
    "person_ref": "ref-zhang-0001",
    "from_province": "北京市",
    "from_city": "北京市",
    "to_province": "四川省",
    "to_city": "成都市",
    "confirmation": True,
}
APPLICATION = {
    "application_no": "SB48310275",
    "next_step": "一般45个工作日内办完。",
    "service": "transfer_social_insurance",
}


async def test_outage_then_retry_files_once_with_the_same_key(fake_exchange):
    fake_exchange.down = True
    dispatcher = CollectingDispatcher()
    events = await ActionSubmit().run(dispatcher, make_tracker(slots=SLOTS), DOMAIN)
    assert events == [SlotSet("service_gate", None), SlotSet("pending_offer", "retry_submit")]
    assert said(dispatcher) == ["utter_exchange_down"]

    fake_exchange.down = False
    fake_exchange.on("POST", TRANSFER, 201, APPLICATION)
    dispatcher = CollectingDispatcher()
    events = await ActionSubmit().run(dispatcher, make_tracker(slots=SLOTS), DOMAIN)
    assert SlotSet("application_number", "SB48310275") in events
    assert SlotSet("write_counts", {"transfer_social_insurance": 1}) in events
    assert said(dispatcher) == ["utter_transfer_done", "utter_anything_else"]
    assert dispatcher.messages[0]["application_number"] == "SB 4831 0275"
    first, second = fake_exchange.keys(TRANSFER)
    assert first == second and first
    assert fake_exchange.bodies(TRANSFER)[-1] == {
        "person_ref": "ref-zhang-0001",
        "from_province": "北京市",
        "from_city": "北京市",
        "to_province": "四川省",
        "to_city": "成都市",
    }

    # The next transfer in the same conversation is a new write with a new key.
    await ActionSubmit().run(
        CollectingDispatcher(),
        make_tracker(slots={**SLOTS, "write_counts": {"transfer_social_insurance": 1}}),
        DOMAIN,
    )
    assert fake_exchange.keys(TRANSFER)[-1] != first


async def test_refusal_is_said_plainly_and_offers_a_person(fake_exchange):
    fake_exchange.on("POST", TRANSFER, 409, {"title": "Duplicate application"})
    dispatcher = CollectingDispatcher()
    events = await ActionSubmit().run(dispatcher, make_tracker(slots=SLOTS), DOMAIN)
    assert events == [SlotSet("service_gate", None), SlotSet("pending_offer", "handover")]
    assert said(dispatcher) == ["utter_exchange_refused"]


async def test_payments_are_read_in_yuan(fake_exchange):
    fake_exchange.on(
        "GET",
        "/v1/persons/ref-1/pension-payments",
        200,
        {
            "pension_status": "retired",
            "payments": [{"month": "2025-05", "amount": "4380.50", "paid_on": "2025-05-15"}],
        },
    )
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={"current_service": "query_pension_payment", "person_ref": "ref-1"}
    )
    await ActionSubmit().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["payments"] == "2025年5月：4380元5角，5月15日到账"


async def test_status_without_number_needs_identity(fake_exchange):
    tracker = make_tracker(slots={"current_service": "check_application_status"})
    events = await ActionSubmit().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events == [SlotSet("service_gate", "need_identity"), SlotSet("pending_offer", None)]
